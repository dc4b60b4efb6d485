/**
 * Several processors: the bootstrap processor wakes the others with INIT and STARTUP IPIs (MP
 * spec B.4), they meet at a spinlock taken with XCHG, IPIs go between them, and page-table
 * changes one makes reach the others, in bare, ept and shadow modes. Runs repeat exactly:
 * virtual time, round-robin turns.
 */
import { describe, expect, it } from 'vitest';
import { ENTER_FLAT_PM, EXIT_PORT, runAsm } from '../helpers/run-asm.ts';
import { Machine } from '../../src/machine/machine.ts';

/** Per processor: read-increment-write rounds of a shared counter under a spinlock (a turn can end inside one: several turns' worth of them). */
const ROUNDS = 5000;

/** Where the guests keep their shared variables (RAM starts zeroed). */
const LOCK = 0x7000, STARTED = 0x7001, DONE = 0x7002, IPI_SEEN = 0x7003, COUNTER = 0x7004, APIC_IDS = 0x7010;

/** The IDT (at 0x20000, up to vector 40h) the guests load, and what installs gate 40h to `handler`. */
const IDTR = `
idtr:
  dw 0x40 * 8 + 7
  dd 0x20000`;
const gate40 = (handler: string) => `
  mov eax, ${handler}
  mov [0x20000 + 0x40 * 8], ax
  mov word [0x20000 + 0x40 * 8 + 2], 0x08
  mov word [0x20000 + 0x40 * 8 + 4], 0x8e00
  shr eax, 16
  mov [0x20000 + 0x40 * 8 + 6], ax`;

/** The BSP's INIT, STARTUP, STARTUP to all the others (their code at 0x8000); EBX = the local APIC's base. */
const START_OTHERS = `
  mov ebx, 0xfee00000
  mov dword [ebx + 0xf0], 0x1ff         ; this processor's APIC on
  mov dword [ebx + 0x300], 0x000c4500   ; INIT to all but self
  mov dword [ebx + 0x300], 0x000c4608   ; STARTUP at 0x8000, twice as the MP spec says
  mov dword [ebx + 0x300], 0x000c4608`;

/** Pads to 0x8000, where a STARTUP IPI sends the others in real mode, and takes them to flat 32-bit code at `ap32` (ENTER_FLAT_PM's GDT). */
const AP_TRAMPOLINE = `
times 0x8000 - 0x7c00 - ($ - $$) db 0
bits 16
ap16:
  cli
  xor ax, ax
  mov ds, ax
  lgdt [gdt_desc]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp 0x08:ap32
bits 32
ap32:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax`;

function smpGuest(cpus: number): string {
  return `
spinlock equ ${LOCK}
started equ ${STARTED}
done equ ${DONE}
ipi_seen equ ${IPI_SEEN}
counter equ ${COUNTER}
apic_ids equ ${APIC_IDS}
${ENTER_FLAT_PM}
  mov esp, 0x70000
${gate40('ipi_handler')}                ; for the IPI the BSP sends at the end
${START_OTHERS}
  call count
.started:
  cmp byte [started], ${cpus - 1}
  jne .started
.done:
  cmp byte [done], ${cpus - 1}
  jne .done
  mov dword [ebx + 0x310], 1 << 24      ; a fixed IPI, vector 40h, to APIC 1
  mov dword [ebx + 0x300], 0x00004040
.ipi:
  cmp byte [ipi_seen], 1
  jne .ipi
  mov al, 0
  out ${EXIT_PORT}, al

count:                                  ; ${ROUNDS} increments of [counter] under the lock
  mov edi, ${ROUNDS}
.again:
  mov al, 1
.spin:
  xchg al, [spinlock]
  test al, al
  jz .locked
  pause
  jmp .spin
.locked:
  mov eax, [counter]
  inc eax
  nop
  nop
  nop
  nop
  mov [counter], eax
  mov byte [spinlock], 0
  dec edi
  jnz .again
  ret

ipi_handler:
  mov byte [ipi_seen], 1
  mov dword [0xfee000b0], 0             ; EOI
  iret
${IDTR}
${AP_TRAMPOLINE}
  mov eax, 1
  cpuid
  shr ebx, 24                           ; this processor's APIC ID
  mov [apic_ids + ebx], bl
  mov esi, ebx
  shl ebx, 12
  lea esp, [ebx + 0x60000]              ; a stack of its own
  lock inc byte [started]
  call count
  lock inc byte [done]
  cmp esi, 1
  jne .park
  lidt [idtr]
  mov dword [0xfee000f0], 0x1ff         ; its own APIC on, to take the IPI
  sti
.wait:
  hlt
  jmp .wait
.park:
  cli
  hlt
`;
}

/**
 * Two processors paged on one directory at 0x30000 (the first 4 MiB identity-mapped, and the
 * local APIC's page): the page at 3 MiB holds AAAAh, the one after it BBBBh. The AP reads the
 * page at 3 MiB, says it is ready (7000h) and waits for an IPI. `bsp` runs when it is ready;
 * `handler` is the AP's IPI handler (it ends with the EOI and IRET). The BSP exits when 7001h is set.
 */
function pagingGuest(bsp: string, handler: string): string {
  return `${ENTER_FLAT_PM}
  jmp bsp32
paging_on:
  mov eax, 0x30000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  ret
bsp32:
  mov esp, 0x70000
  mov dword [0x300000], 0xaaaa
  mov dword [0x301000], 0xbbbb
  mov edi, 0x31000
  mov eax, 3
  mov ecx, 1024
.map:
  stosd
  add eax, 0x1000
  loop .map
  mov dword [0x30000], 0x31000 | 3
  mov dword [0x30000 + 0x3fb * 4], 0x32000 | 3      ; and the local APIC's page, uncached
  mov dword [0x32000 + 0x200 * 4], 0xfee00000 | 0x13
${gate40('ipi')}
  call paging_on
${START_OTHERS}
.ready:
  cmp byte [0x7000], 1
  jne .ready
${bsp}
.done:
  cmp byte [0x7001], 1
  jne .done
  mov al, 0
  out ${EXIT_PORT}, al
ipi:
${handler}
  mov byte [0x7001], 1
  mov dword [0xfee000b0], 0
  iret
${IDTR}
${AP_TRAMPOLINE}
  mov esp, 0x68000
  call paging_on
  lidt [idtr]
  mov dword [0xfee000f0], 0x1ff
  mov eax, [0x300000]                   ; into this processor's TLB (and the shadow)
  mov [0x7100], eax
  mov byte [0x7000], 1
  sti
.wait:
  hlt
  jmp .wait
`;
}

/** A paging guest's end: the AP read the old page first (7100h); the BSP (7108h) and the AP after its INVLPG (7104h) read the new one. */
function expectOldThenNew(run: ReturnType<typeof runAsm>): void {
  expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
  const p = run.machine.phys;
  expect([p.read(0x7100, 4), p.read(0x7108, 4), p.read(0x7104, 4)]).toEqual([0xaaaa, 0xbbbb, 0xbbbb]);
}

/** The IPI to APIC 1 (vector 40h), from the BSP. */
const SEND_IPI = `
  mov dword [ebx + 0x310], 1 << 24
  mov dword [ebx + 0x300], 0x00004040`;

describe('several processors', () => {
  for (const mode of ['bare', 'ept', 'shadow'] as const) {
    for (const cpus of [2, 4]) {
      it(`${mode}, ${cpus} processors: the BSP starts the others with INIT-SIPI-SIPI; a spinlock keeps their counting right; an IPI wakes a halted one`, () => {
        let machine: Machine | undefined;
        const run = runAsm(smpGuest(cpus), { mode, cpus, maxInstructions: 50_000_000, prepare: (m) => (machine = m) });
        expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
        const m = machine!;
        expect(m.phys.read(COUNTER, 4)).toBe(cpus * ROUNDS);
        expect(Array.from(m.phys.dump(APIC_IDS + 1, cpus - 1))).toEqual(Array.from({ length: cpus - 1 }, (_, i) => i + 1)); // each AP saw its own APIC ID in CPUID
        expect(m.processors.map((p) => p.startups)).toEqual([0, ...new Array(cpus - 1).fill(1)]);
        expect(m.processors.every((p) => p.cpu.instructions > 0)).toBe(true);
      });
    }
  }

  it.each(['bare', 'ept', 'shadow'] as const)('an INIT a processor sends itself takes it at the end of that instruction: it then waits for a STARTUP (%s)', (mode) => {
    let machine: Machine | undefined;
    const run = runAsm(`
${ENTER_FLAT_PM}
${START_OTHERS}
.wait:
  cmp byte [0x7100], 1
  jne .wait
  mov ecx, 100000
.linger:
  loop .linger
  mov al, 0
  out ${EXIT_PORT}, al
${IDTR}
${AP_TRAMPOLINE}
  mov byte [0x7100], 1
  mov dword [0xfee00310], 1 << 24       ; to APIC 1: itself, by its ID
  mov dword [0xfee00300], 0x00004500    ; INIT
  mov byte [0x7101], 1                  ; never: the INIT came first
  hlt
`, { mode, cpus: 2, maxInstructions: 10_000_000, prepare: (m) => (machine = m) });
    expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
    expect(machine!.phys.read(0x7101, 1)).toBe(0);
    expect(machine!.processors[1].waitingForStartup).toBe(true);
  });

  it('a processor spinning on a held lock with interrupts off gives up its turn, and the run is the same in every mode', () => {
    const runs = (['bare', 'ept', 'shadow'] as const).map((mode) => {
      let machine: Machine | undefined;
      const run = runAsm(smpGuest(2), { mode, cpus: 2, maxInstructions: 50_000_000, prepare: (m) => (machine = m) });
      expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
      expect(machine!.phys.read(COUNTER, 4)).toBe(2 * ROUNDS);
      return machine!.processors.map((p) => [p.cpu.instructions, p.cpu.spinYields]);
    });
    expect(runs[0].some(([, yields]) => yields > 0)).toBe(true);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  for (const mode of ['ept', 'shadow'] as const) {
    it(`${mode} without "unrestricted guest": the APs' real-mode start runs in V86 mode on the VM's one set of VMM pages`, () => {
      let machine: Machine | undefined;
      const run = runAsm(smpGuest(3), { mode, cpus: 3, unrestrictedGuest: false, maxInstructions: 50_000_000, prepare: (m) => (machine = m) });
      expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
      const m = machine!;
      expect(m.phys.read(COUNTER, 4)).toBe(3 * ROUNDS);
      // The APs ran their trampoline the restricted way: in V86 mode or emulated, not natively in real mode.
      for (const p of m.processors.slice(1)) {
        const r = p.vcpu!.restricted!.stats;
        expect(r.v86Runs + r.emulated).toBeGreaterThan(0);
      }
      // Each vCPU ends as on the bare machine.
      const bare = runAsm(smpGuest(3), { mode: 'bare', cpus: 3, maxInstructions: 50_000_000 });
      expect(m.processors.map((p) => p.cpu.instructions)).toEqual(bare.machine.processors.map((p) => p.cpu.instructions));
    });
  }

  it('idle time a user takes (a terminal waiting for keys) passes on every processor: the clock moves by all of it', () => {
    const m = new Machine({ memoryBytes: 4 << 20, cpus: 3 });
    const before = m.clock.nowNs();
    m.passIdleTime(1_000_000);
    expect(m.clock.nowNs() - before).toBe(1_000_000);
    expect(m.processors.map((p) => p.cpu.instructions)).toEqual([100_000, 100_000, 100_000]);
  });

  it('runs repeat exactly: the same instruction counts on every processor, twice', () => {
    const counts = () => {
      let machine: Machine | undefined;
      runAsm(smpGuest(3), { mode: 'bare', cpus: 3, maxInstructions: 50_000_000, prepare: (m) => (machine = m) });
      return machine!.processors.map((p) => p.cpu.instructions);
    };
    expect(counts()).toEqual(counts());
  });

  it('a run in pieces is the same as in one: a round cut short by the budget goes on where it stopped', () => {
    const counts = (piece: number) => {
      let machine: Machine | undefined;
      runAsm(smpGuest(3), { mode: 'bare', cpus: 3, maxInstructions: 0, prepare: (m) => (machine = m) });
      const m = machine!;
      let outcome = m.run(piece);
      while (outcome.kind === 'limit') outcome = m.run(piece);
      return { outcome, counts: m.processors.map((p) => p.cpu.instructions), counter: m.phys.read(COUNTER, 4) };
    };
    const whole = counts(1e9);
    expect(whole.outcome).toEqual({ kind: 'exit', status: 1 });
    expect(counts(7777)).toEqual(whole);
    expect(counts(100_003)).toEqual(whole);
  });

  it('without the spinlock the count comes out short: the processors really interleave', () => {
    const source = smpGuest(2).replace('  xchg al, [spinlock]', '  xor al, al');
    let machine: Machine | undefined;
    runAsm(source, { mode: 'bare', cpus: 2, maxInstructions: 50_000_000, prepare: (m) => (machine = m) });
    expect(machine!.phys.read(COUNTER, 4)).toBeLessThan(2 * ROUNDS);
  });

  it('code one processor compiled and another rewrites runs rewritten: every TLB closes its fast writes to a code page', () => {
    // The AP writes to f's page first (its TLB takes a fast-write entry for it); then the BSP
    // calls f until it is compiled; then the AP changes f's immediate, through that old entry.
    const source = `${ENTER_FLAT_PM}
  mov esp, 0x70000
${START_OTHERS}
.ready:
  cmp byte [0x9800], 1                  ; the AP has written to f's page
  jne .ready
  mov ecx, 0
.hot:
  call f                                ; f's block gets compiled
  inc ecx
  cmp ecx, 2000
  jne .hot
  mov byte [0x7000], 1                  ; AP: now change it
.poll:
  call f
  cmp eax, 2
  jne .poll
  mov al, 0
  out ${EXIT_PORT}, al
${AP_TRAMPOLINE}
  mov byte [0x9800], 1
.go:
  cmp byte [0x7000], 1
  jne .go
  mov byte [f + 1], 2                   ; mov eax, 1 becomes mov eax, 2
  cli
  hlt
times 0x9000 - 0x7c00 - ($ - $$) db 0
f:
  mov eax, 1
  ret
`;
    const run = runAsm(source, { mode: 'bare', cpus: 2, maxInstructions: 5_000_000 });
    expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
    expect(run.machine.processors[0].cpu.blocks.compiledCount).toBeGreaterThan(0);
  });

  for (const mode of ['bare', 'ept', 'shadow'] as const) {
    it(`${mode}: a page-table entry one processor changes reaches the other after its INVLPG (a TLB shootdown by IPI)`, () => {
      // The BSP points the page at 3 MiB elsewhere and sends an IPI; the AP's handler does INVLPG
      // and reads again. Under shadow paging both vCPUs run on one shadow of that directory.
      const source = pagingGuest(`
  mov dword [0x31000 + 0x300 * 4], 0x301000 | 3   ; 3 MiB now maps the page after it
  invlpg [0x300000]
  mov eax, [0x300000]
  mov [0x7108], eax                     ; the BSP sees it at once
${SEND_IPI}`, `
  invlpg [0x300000]
  mov eax, [0x300000]
  mov [0x7104], eax`);
      expectOldThenNew(runAsm(source, { mode, cpus: 2, maxInstructions: 5_000_000 }));
    });

    it(`${mode}: a page-table entry one processor changes is seen by the other after it reloads CR3 (the shadow it had cached is not stale)`, () => {
      // The other way round: the AP's handler rewrites the entry, and the BSP, which had read
      // through the old one, reloads CR3. Under shadow paging the BSP's shadow of that directory
      // is the one the AP's write must reach: one MMU for the VM, as KVM's.
      const source = pagingGuest(`
  mov eax, [0x300000]                   ; the BSP's own TLB (and shadow) hold the old mapping
${SEND_IPI}                             ; AP: change it
.changed:
  cmp byte [0x7001], 1
  jne .changed
  mov eax, cr3
  mov cr3, eax                          ; a CR3 load flushes the TLB: the new mapping shows
  mov eax, [0x300000]
  mov [0x7108], eax`, `
  mov dword [0x31000 + 0x300 * 4], 0x301000 | 3   ; 3 MiB now maps the page after it
  invlpg [0x300000]
  mov eax, [0x300000]
  mov [0x7104], eax`);
      expectOldThenNew(runAsm(source, { mode, cpus: 2, maxInstructions: 5_000_000 }));
    });
  }
});
