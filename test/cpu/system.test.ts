/**
 * Protected-mode segment loading, exceptions and their saved state, the interrupt shadow, the
 * sensitive-instruction interface, and guests that crash: all must end as guest events.
 */
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu/cpu.ts';
import type { InterruptController } from '../../src/cpu/interrupts.ts';
import { ExitReason } from '../../src/cpu/sensitive.ts';
import { CS } from '../../src/cpu/state.ts';
import { ENTER_FLAT_PM, realModeWithHandler, runAsm } from '../helpers/run-asm.ts';

/** An IDT whose vectors 0-31 all go to `fault_handler`, which reports the vector number. */
const PM_IDT = `
  mov edi, idt
  mov ecx, 32
  mov ebx, stubs
.fill:
  mov eax, ebx
  mov [edi], ax
  mov word [edi+2], 0x08
  mov word [edi+4], 0x8e00
  shr eax, 16
  mov [edi+6], ax
  add edi, 8
  add ebx, 8
  loop .fill
  lidt [idt_desc]
  jmp after_idt
align 8
stubs:
%assign v 0
%rep 32
  mov al, v
  jmp near report
  align 8
%assign v v+1
%endrep
report:
  ; AL = vector; the error code (if any) is at [esp]. Record them through a flat DS and stop.
  mov dx, 0x10
  mov ds, dx
  mov [0x600], al
  mov eax, [esp]
  mov [0x604], eax
  mov eax, [esp+4]
  mov [0x608], eax
  hlt
align 8
idt: times 32*8 db 0
idt_desc:
  dw 32*8-1
  dd idt
after_idt:
`;

describe('protected-mode segment loading', () => {
  it('a data segment with its own base and limit: accesses are relative, past the limit is #GP(0)', () => {
    const run = runAsm(`${ENTER_FLAT_PM}${PM_IDT}
      lgdt [gdt2_desc]
      mov ax, 0x18
      mov ds, ax
      mov dword [0x10], 0xcafe
      mov eax, [0x1000]     ; past the 4 KiB limit
      hlt
    align 8
    gdt2:
      dq 0
      dq 0x00cf9a000000ffff
      dq 0x00cf92000000ffff
      dq 0x00409201_00000fff  ; base 0x10000 limit 0xFFF, byte granular, 32-bit
    gdt2_desc:
      dw gdt2_desc - gdt2 - 1
      dd gdt2`);
    const { machine } = run;
    expect(machine.phys.read(0x10010, 4)).toBe(0xcafe);
    expect(machine.phys.read8(0x600)).toBe(13);
    expect(machine.phys.read(0x604, 4)).toBe(0); // error code 0
    expect(machine.phys.read(0x10, 4)).not.toBe(0xcafe); // not at the flat address
  });

  it('a selector past the GDT limit is #GP(selector); a null selector in DS faults on use, not on load', () => {
    const past = runAsm(`${ENTER_FLAT_PM}${PM_IDT}
      mov ax, 0x48
      mov es, ax
      hlt`);
    expect(past.machine.phys.read8(0x600)).toBe(13);
    expect(past.machine.phys.read(0x604, 4)).toBe(0x48);

    const nul = runAsm(`${ENTER_FLAT_PM}${PM_IDT}
      xor ax, ax
      mov es, ax
      mov byte [0x700], 1     ; DS still fine
      mov byte [es:0x700], 2  ; ES null: #GP(0)
      hlt`);
    expect(nul.machine.phys.read8(0x700)).toBe(1);
    expect(nul.machine.phys.read8(0x600)).toBe(13);
  });

  it('writing through a read-only data segment is #GP; CS is never writable in protected mode', () => {
    const run = runAsm(`${ENTER_FLAT_PM}${PM_IDT}
      mov dword [cs:0x800], 1
      hlt`);
    expect(run.machine.phys.read8(0x600)).toBe(13);
    expect(run.machine.phys.read(0x800, 4)).toBe(0);
  });

  it('a far jump loads CS from the GDT and selects 16- or 32-bit code by its D bit', () => {
    const run = runAsm(`${ENTER_FLAT_PM}
      jmp 0x08:next
    next:
      mov eax, 0x12345678
      hlt`);
    expect(run.machine.cpu.reg[0]).toBe(0x12345678);
    expect(run.machine.cpu.segmentSelector(CS)).toBe(8);
  });
});

describe('exceptions in real mode', () => {
  it('#DE saves the address of the DIV itself and flags, CS, IP on the stack', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [0], de_handler
      mov word [2], 0
      mov bl, 0
    faulting:
      div bl
      hlt
    de_handler:
      pop ax          ; saved IP
      mov [0x500], ax
      hlt`);
    const faulting = run.machine.cpu.reg16[0];
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x500, 2)).toBe(faulting);
    // The saved IP is the DIV's address: 0x7C00 + the length of the code before it.
    expect(faulting).toBeGreaterThan(0x7c00);
  });

  it('a triple fault shuts the machine down with a report instead of crashing the host', () => {
    const run = runAsm(`
      lidt [bad_idt]
      int3
    bad_idt:
      dw 0
      dd 0`);
    expect(run.outcome.kind).toBe('shutdown');
    if (run.outcome.kind === 'shutdown') expect(run.outcome.detail).toMatch(/triple fault/);
  });

  it('LOCK on an instruction that cannot take it is #UD', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov word [6*4], ud_handler
      mov word [6*4+2], 0
      lock mov ax, bx
      hlt
    ud_handler:
      mov al, 'U'
      out 0xe9, al
      hlt`);
    expect(run.output).toBe('U');
  });

  it('running into memory with nothing behind it stops the guest with a report', () => {
    const run = runAsm(`${ENTER_FLAT_PM}
      mov eax, 0x800000  ; past the 4 MiB of RAM
      jmp eax`);
    expect(run.outcome.kind).toBe('unmapped-fetch');
  });
});

/** An interrupt controller that asserts vector 0x40 until acknowledged `times` times. */
function pendingInterrupt(times: number): InterruptController & { acks: number } {
  return {
    acks: 0,
    hasInterrupt() {
      return this.acks < times;
    },
    acknowledge() {
      this.acks++;
      return 0x40;
    },
  };
}

/** A guest that runs `before`, then counts two INCs in CX; the handler of vector 0x40 records CX. */
const interruptGuest = (before: string) => `
      ${realModeWithHandler(0x40, 'handler')}
      xor cx, cx
      ${before}
      inc cx
      inc cx
      hlt
    handler:
      mov [0x500], cx
      hlt`;

describe('the interrupt shadow', () => {
  const guest = interruptGuest;

  it('STI delays interrupts until after the next instruction', () => {
    const pic = pendingInterrupt(1);
    const run = runAsm(guest('sti'), { prepare: (m) => void (m.cpu.interruptController = pic) });
    expect(pic.acks).toBe(1);
    expect(run.machine.phys.read(0x500, 2)).toBe(1);
  });

  it('MOV SS holds off interrupts for one instruction (IF already set)', () => {
    const pic = pendingInterrupt(1);
    const run = runAsm(guest('sti\n nop\n mov ss, ax'), {
      prepare: (m) => void (m.cpu.interruptController = pic),
    });
    // The interrupt arrives after the NOP that follows STI, before MOV SS: CX = 0 then.
    expect(run.machine.phys.read(0x500, 2)).toBe(0);
  });
});

describe('an interrupt pending while IF is clear', () => {
  /** Counts how often the CPU asks the controller, to see that it does not poll while IF is clear. */
  const counting = (times: number) => {
    const pic = pendingInterrupt(times);
    let asked = 0;
    const hasInterrupt = pic.hasInterrupt.bind(pic);
    pic.hasInterrupt = () => (asked++, hasInterrupt());
    return { pic, asked: () => asked };
  };
  /** 20,000 instructions with IF clear, then `enable`. */
  const guest = (enable: string) => interruptGuest(`mov bx, 10000\n spin: dec bx\n jnz spin\n ${enable}`);

  it('is not looked for on every instruction, and is taken as soon as POPF sets IF', () => {
    const { pic, asked } = counting(1);
    const run = runAsm(guest('pushf\n pop ax\n or ax, 0x200\n push ax\n popf'), { prepare: (m) => void (m.cpu.interruptController = pic) });
    expect(pic.acks).toBe(1);
    expect(run.machine.phys.read(0x500, 2)).toBe(0); // before the INC that follows POPF (no shadow)
    expect(asked()).toBeLessThan(10); // not once per instruction of the 20,000 with IF clear
  });

  it('is taken as soon as IRET restores IF', () => {
    const { pic } = counting(1);
    // Push FLAGS with IF set and CS:IP of the INC, then IRET to them.
    const run = runAsm(guest('pushf\n pop ax\n or ax, 0x200\n push ax\n push cs\n push after\n iret\n after:'), {
      prepare: (m) => void (m.cpu.interruptController = pic),
    });
    expect(pic.acks).toBe(1);
    expect(run.machine.phys.read(0x500, 2)).toBe(0);
  });
});

/** An interceptor that takes nothing over but what `intercept` says. */
function interceptor(intercept: (cpu: Cpu, reason: ExitReason, q: number) => boolean) {
  return {
    intercept,
    interceptException: () => false,
    interceptExternalInterrupt: () => false,
        eventDeliveryInterrupted: () => {},
    wantsInterruptWindow: () => false,
    shadowControlRegister: (_cpu: Cpu, _cr: number, value: number) => value,
        hostOwnedControlBits: () => 0,
        a20Changed: () => {},
  };
}

describe('the sensitive-instruction interface', () => {
  it('an interceptor sees CPUID with its exit reason and may take it over; EIP stays on it', () => {
    const seen: ExitReason[] = [];
    const run = runAsm(`
      mov eax, 0
      cpuid
      hlt`, {
      prepare: (m) => {
        m.cpu.interceptor = interceptor((_cpu, reason) => {
          seen.push(reason);
          return reason === ExitReason.CPUID;
        });
      },
    });
    expect(seen).toEqual([ExitReason.CPUID]);
    expect(run.outcome.kind).toBe('vmexit');
    expect(run.machine.cpu.reg[3]).toBe(0); // CPUID did not execute
    expect(run.machine.phys.read8(run.machine.cpu.eip)).toBe(0x0f); // EIP on the CPUID
  });

  it("I/O exits carry Intel's qualification: size, direction, port", () => {
    const quals: number[] = [];
    runAsm(`
      mov dx, 0x3f8
      mov al, 'x'
      out dx, al
      hlt`, {
      prepare: (m) => {
        m.cpu.interceptor = interceptor((_cpu, reason, q) => {
          if (reason === ExitReason.IO_INSTRUCTION) quals.push(q);
          return false;
        });
      },
    });
    expect(quals).toEqual([0x3f8 << 16]); // 1 byte, OUT, DX-encoded
  });
});
