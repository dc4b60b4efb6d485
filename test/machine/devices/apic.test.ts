/**
 * The local APIC, the IOAPIC and the bus between them, through their registers as a kernel
 * programs them; then a protected-mode guest that switches from the 8259 to the APICs (as xv6
 * does) and takes LAPIC timer ticks and keyboard interrupts through the IOAPIC, in every mode.
 */
import { describe, expect, it } from 'vitest';
import { LocalApic, LAPIC_BASE } from '../../../src/machine/devices/local-apic.ts';
import { IoApic, IOAPIC_BASE } from '../../../src/machine/devices/io-apic.ts';
import { ApicBus } from '../../../src/machine/devices/apic-bus.ts';
import { ENTER_FLAT_PM, EXIT_PORT, runAsm } from '../../helpers/run-asm.ts';
import { Machine } from '../../../src/machine/machine.ts';

const ID = 0x20, VERSION = 0x30, TPR = 0x80, PPR = 0xa0, EOI = 0xb0, LDR = 0xd0, DFR = 0xe0, SVR = 0xf0, ISR = 0x100, IRR = 0x200;
const ESR = 0x280, ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360;
const TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;
const MASKED = 1 << 16;

function apics(count = 1) {
  const clock = { ns: 0 };
  const wakeups = { count: 0 };
  const locals = Array.from({ length: count }, (_, i) => new LocalApic(i, () => clock.ns, () => wakeups.count++, i === 0));
  const bus = new ApicBus(locals);
  const io = new IoApic(count, bus);
  bus.ioApics.push(io);
  const r = (apic: LocalApic, offset: number) => apic.read(LAPIC_BASE + offset, 4) >>> 0;
  const w = (apic: LocalApic, offset: number, value: number) => apic.write(LAPIC_BASE + offset, 4, value);
  const ioWrite = (register: number, value: number) => {
    io.write(IOAPIC_BASE, 4, register);
    io.write(IOAPIC_BASE + 0x10, 4, value);
  };
  const ioRead = (register: number) => {
    io.write(IOAPIC_BASE, 4, register);
    return io.read(IOAPIC_BASE + 0x10, 4) >>> 0;
  };
  const enable = (apic: LocalApic) => w(apic, SVR, 0x1ff);
  return { clock, wakeups, locals, bus, io, r, w, ioWrite, ioRead, enable };
}

/** The bit of `vector` in the eight ISR/IRR/TMR registers: [register offset, mask]. */
const bitOf = (base: number, vector: number): [number, number] => [base + (vector >> 5) * 0x10, (1 << (vector & 31)) >>> 0];

describe('the local APIC', () => {
  it('starts as the SDM says: ID, version 14h with six LVT entries, SVR FFh (disabled), DFR flat, every LVT masked but the BSP\'s LINT0 (ExtINT)', () => {
    const { locals, r } = apics(2);
    const [bsp, ap] = locals;
    expect(r(ap, ID)).toBe(1 << 24);
    expect(r(bsp, VERSION)).toBe(0x00050014);
    expect(r(bsp, SVR)).toBe(0xff);
    expect(r(bsp, DFR)).toBe(0xffffffff);
    expect(r(bsp, LVT_TIMER)).toBe(MASKED);
    expect(r(bsp, LVT_LINT0)).toBe(0x700);
    expect(bsp.passesPic).toBe(true);
    expect(r(ap, LVT_LINT0)).toBe(MASKED);
    expect(r(bsp, LVT_LINT1)).toBe(MASKED);
  });

  it('delivers the highest vector whose class beats the processor priority; ISR, PPR and EOI follow', () => {
    const { locals, r, w, enable } = apics();
    const [apic] = locals;
    enable(apic);
    apic.accept(0x32, false);
    apic.accept(0x41, false);
    const [irrReg, irrBit] = bitOf(IRR, 0x41);
    expect(r(apic, irrReg) & irrBit).toBe(irrBit);
    w(apic, TPR, 0x50);
    expect(apic.pendingVector()).toBe(-1); // both classes at or below the task priority
    w(apic, TPR, 0x20);
    expect(apic.pendingVector()).toBe(0x41);
    expect(apic.acknowledge()).toBe(0x41);
    const [isrReg, isrBit] = bitOf(ISR, 0x41);
    expect(r(apic, isrReg) & isrBit).toBe(isrBit);
    expect(r(apic, PPR)).toBe(0x40);
    expect(apic.pendingVector()).toBe(-1); // 0x32 waits for 0x41's EOI
    w(apic, EOI, 0);
    expect(r(apic, isrReg) & isrBit).toBe(0);
    expect(apic.pendingVector()).toBe(0x32);
  });

  it('software-disabled, it takes no interrupt and keeps its LVT masked; an illegal vector is an error in ESR', () => {
    const { locals, r, w } = apics();
    const [apic] = locals;
    apic.accept(0x40, false);
    expect(apic.pendingVector()).toBe(-1);
    w(apic, LVT_TIMER, 0x20);
    expect(r(apic, LVT_TIMER)).toBe(MASKED | 0x20);
    w(apic, SVR, 0x1ff);
    w(apic, LVT_TIMER, 0x20);
    expect(r(apic, LVT_TIMER)).toBe(0x20);
    w(apic, SVR, 0xff); // disabled again: every LVT entry masked
    expect(r(apic, LVT_TIMER)).toBe(MASKED | 0x20);
    w(apic, SVR, 0x1ff);
    w(apic, ICR_LOW, 0x4000 | 0x05); // a fixed IPI with vector 5
    w(apic, ESR, 0);
    expect(r(apic, ESR)).toBe(1 << 5); // send illegal vector
    w(apic, ESR, 0);
    expect(r(apic, ESR)).toBe(0);
  });

  it('the timer counts the bus clock through its divider in virtual time: one-shot, then periodic', () => {
    const { locals, clock, r, w, enable } = apics();
    const [apic] = locals;
    enable(apic);
    w(apic, TIMER_DIVIDE, 0x3); // divide by 16
    w(apic, LVT_TIMER, 0x30);
    w(apic, TIMER_INITIAL, 1000); // 16,000 ns
    expect(apic.nextEventNs()).toBe(16_000);
    clock.ns = 8_000;
    expect(r(apic, TIMER_CURRENT)).toBe(500);
    clock.ns = 16_000;
    apic.advanceTo(clock.ns);
    expect(apic.pendingVector()).toBe(0x30);
    expect(r(apic, TIMER_CURRENT)).toBe(0);
    expect(apic.nextEventNs()).toBe(Infinity);
    apic.acknowledge();
    w(apic, EOI, 0);

    w(apic, TIMER_DIVIDE, 0xb); // divide by 1
    w(apic, LVT_TIMER, 0x20000 | 0x31); // periodic
    w(apic, TIMER_INITIAL, 100);
    clock.ns = 16_100;
    apic.advanceTo(clock.ns);
    expect(apic.acknowledge()).toBe(0x31);
    w(apic, EOI, 0);
    expect(apic.nextEventNs()).toBe(16_200);
    clock.ns = 16_550; // three periods went by unseen: one interrupt, and the count runs on
    apic.advanceTo(clock.ns);
    expect(apic.acknowledge()).toBe(0x31);
    expect(apic.nextEventNs()).toBe(16_600);
    expect(r(apic, TIMER_CURRENT)).toBe(50);
  });

  it('an IPI reaches its destination: physical by APIC ID, logical by LDR, the shorthands; self-IPI', () => {
    const { locals, w, enable } = apics(3);
    locals.forEach(enable);
    const [a, b, c] = locals;
    w(a, ICR_HIGH, 2 << 24);
    w(a, ICR_LOW, 0x4000 | 0x40);
    expect([a, b, c].map((x) => x.pendingVector())).toEqual([-1, -1, 0x40]);
    w(b, LDR, 0x02 << 24);
    w(c, LDR, 0x04 << 24);
    w(a, ICR_HIGH, 0x06 << 24);
    w(a, ICR_LOW, 0x4000 | 0x800 | 0x50); // logical: b and c
    expect([a, b, c].map((x) => x.pendingVector())).toEqual([-1, 0x50, 0x50]);
    w(a, ICR_LOW, 0x4000 | (1 << 18) | 0x60); // self
    expect(a.pendingVector()).toBe(0x60);
    w(c, ICR_LOW, 0x4000 | (3 << 18) | 0x70); // all but self
    expect([a, b, c].map((x) => x.pendingVector())).toEqual([0x70, 0x70, 0x50]);
  });

  it('takes every value written through the machine\'s bus, 0xFFFFFFFF too (an MMIO write of all ones is no read)', () => {
    const machine = new Machine({ memoryBytes: 1 << 20 });
    machine.phys.write(LAPIC_BASE + TIMER_INITIAL, 4, -1);
    expect(machine.phys.read(LAPIC_BASE + TIMER_INITIAL, 4) >>> 0).toBe(0xffffffff);
  });

  it('INIT and STARTUP IPIs go to the machine\'s processor control', () => {
    const { locals, bus, w, enable } = apics(2);
    locals.forEach(enable);
    const seen: string[] = [];
    bus.processors = { init: (apic) => seen.push(`init ${apic.id}`), startup: (apic, vector) => seen.push(`sipi ${apic.id} ${vector.toString(16)}`) };
    w(locals[0], ICR_HIGH, 1 << 24);
    w(locals[0], ICR_LOW, 0x4500); // INIT, assert
    w(locals[0], ICR_LOW, 0x8500); // INIT level de-assert: nothing
    w(locals[0], ICR_LOW, 0x0600 | 0x08); // STARTUP at 0x8000
    expect(seen).toEqual(['init 1', 'sipi 1 8']);
  });
});

describe('the IOAPIC', () => {
  it('says its ID and 24 entries; entries start masked; an edge on an unmasked pin sends its vector to the APIC it names', () => {
    const { io, locals, ioRead, ioWrite, enable } = apics(2);
    locals.forEach(enable);
    expect(ioRead(0)).toBe(2 << 24);
    expect(ioRead(1)).toBe(0x00170011);
    expect(ioRead(0x10 + 2 * 4)).toBe(MASKED);
    io.setInput(4, true);
    expect(locals[1].pendingVector()).toBe(-1);
    io.setInput(4, false);
    ioWrite(0x10 + 2 * 4, 0x24);
    ioWrite(0x11 + 2 * 4, 1 << 24);
    io.setInput(4, true);
    io.setInput(4, true); // held: no new edge
    expect(locals[1].acknowledge()).toBe(0x24);
    expect(locals[1].pendingVector()).toBe(-1);
    expect(locals[0].pendingVector()).toBe(-1);
  });

  it('a level-triggered pin sends once until the EOI of its vector (Remote IRR), then again while still asserted', () => {
    const { io, locals, r, w, ioRead, ioWrite, enable } = apics();
    const [apic] = locals;
    enable(apic);
    ioWrite(0x10 + 2 * 10, 0x8000 | 0x3a); // level, active high, fixed, physical APIC 0
    io.setInput(10, true);
    expect(ioRead(0x10 + 2 * 10) & (1 << 14)).not.toBe(0);
    expect(apic.acknowledge()).toBe(0x3a);
    const [tmrReg, tmrBit] = bitOf(0x180, 0x3a);
    expect(r(apic, tmrReg) & tmrBit).toBe(tmrBit);
    w(apic, EOI, 0); // still asserted: sent again
    expect(apic.acknowledge()).toBe(0x3a);
    io.setInput(10, false);
    w(apic, EOI, 0);
    expect(ioRead(0x10 + 2 * 10) & (1 << 14)).toBe(0);
    expect(apic.pendingVector()).toBe(-1);
  });

  it('logical destinations and lowest priority pick by LDR and TPR', () => {
    const { io, locals, w, ioWrite, enable } = apics(2);
    locals.forEach(enable);
    w(locals[0], LDR, 0x01 << 24);
    w(locals[1], LDR, 0x02 << 24);
    w(locals[0], TPR, 0x20);
    ioWrite(0x10 + 2 * 1, 0x800 | 0x100 | 0x41); // lowest priority, logical
    ioWrite(0x11 + 2 * 1, 0x03 << 24);
    io.setInput(1, true);
    expect(locals.map((a) => a.pendingVector())).toEqual([-1, 0x41]);
  });
});

/**
 * A flat protected-mode guest that does what an SMP kernel does on one CPU: masks the 8259 and
 * LINT0, enables its local APIC with a periodic timer (vector 20h), routes the keyboard (IRQ 1)
 * through the IOAPIC (vector 21h), and counts. It prints T for each of 3 ticks, then K
 * for each interrupt of the key it is given (make and break), then reads IA32_APIC_BASE.
 */
const APIC_GUEST = `${ENTER_FLAT_PM}
  mov esp, 0x70000
  mov al, 0xff
  out 0x21, al                          ; the 8259s masked: the APICs do the work now
  out 0xa1, al
  mov edi, 0x${(0x20000).toString(16)}  ; IDT at 0x20000: vectors 20h and 21h
  mov eax, timer
  call gate
  mov eax, keyboard
  call gate
  lidt [idtr]
  mov ebx, 0x${LAPIC_BASE.toString(16)}
  mov dword [ebx + 0xf0], 0x1ff         ; SVR: enabled, spurious vector FFh
  mov dword [ebx + 0x350], 0x10000      ; LINT0 masked
  mov dword [ebx + 0x3e0], 0xb          ; divide by 1
  mov dword [ebx + 0x320], 0x20020      ; periodic, vector 20h
  mov dword [ebx + 0x380], 1000000      ; 1 ms of the 1 GHz bus clock
  mov ecx, 0x${IOAPIC_BASE.toString(16)}
  mov dword [ecx], 0x12                 ; redirection entry 1, low: vector 21h, edge, fixed, to APIC 0
  mov dword [ecx + 0x10], 0x21
  mov dword [ecx], 0x13
  mov dword [ecx + 0x10], 0
  sti
wait_ticks:
  hlt
  cmp byte [ticks], 3
  jb wait_ticks
  mov dword [ebx + 0x320], 0x10020      ; timer masked
  mov byte [0x7000], 1                  ; ready for the key
wait_key:                               ; no HLT: with nothing timed left, a halt would end the run
  cmp byte [key], 0
  je wait_key
  mov ecx, 0x1b
  rdmsr
  shr eax, 8
  and al, 0x0f                          ; BSP (bit 8) and enable (bit 11): 9
  add al, '0'
  out 0xe9, al
  mov al, 0
  out ${EXIT_PORT}, al

gate:                                   ; an interrupt gate to EAX at EDI
  mov [edi + 0x100], ax
  mov word [edi + 0x102], 0x08
  mov word [edi + 0x104], 0x8e00
  shr eax, 16
  mov [edi + 0x106], ax
  add edi, 8
  ret

timer:
  push eax
  mov al, 'T'
  out 0xe9, al
  inc byte [ticks]
  mov dword [0x${(LAPIC_BASE + 0xb0).toString(16)}], 0
  pop eax
  iret

keyboard:
  push eax
  in al, 0x60
  mov [key], al
  mov al, 'K'
  out 0xe9, al
  mov dword [0x${(LAPIC_BASE + 0xb0).toString(16)}], 0
  pop eax
  iret

ticks: db 0
key: db 0
idtr: dw 0x10f
  dd 0x20000
`;

describe('a kernel that moves from the 8259 to the APICs', () => {
  for (const mode of ['bare', 'ept', 'shadow'] as const) {
    it(`${mode}: takes LAPIC timer ticks and a keyboard interrupt through the IOAPIC, and finds the APIC on in IA32_APIC_BASE`, () => {
      let typed = false;
      const run = runAsm(APIC_GUEST, {
        mode,
        maxInstructions: 20_000_000,
        prepare: (m) => {
          // Type once the guest says it is ready (after its ticks), from outside, as a user would.
          const original = m.run.bind(m);
          m.run = (n = Infinity, o) => {
            let outcome = original(Math.min(n, 200_000), o);
            let left = n - 200_000;
            while (outcome.kind === 'limit' && left > 0) {
              if (!typed && m.phys.read8(0x7000) === 1) {
                m.typeText('a'); // through the typist, which must see IRQ 1 reach the CPU through the IOAPIC
                typed = true;
              }
              outcome = original(200_000, o);
              left -= 200_000;
            }
            return outcome;
          };
        },
      });
      expect(run.output).toBe('TTTKK9'); // the key's make and break codes: two interrupts
      expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
    });
  }
});
