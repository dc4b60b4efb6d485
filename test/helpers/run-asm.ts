/** Assembles a test guest with minivisor's assembler and runs it as a boot sector at 0000:7C00. */
import { assemble, formatDiagnostic } from '../../src/asm/index.ts';
import { Machine, type MemoryMode, type RunOutcome } from '../../src/machine/machine.ts';

export interface AsmRun {
  machine: Machine;
  outcome: RunOutcome;
  /** What the guest wrote to the debug console at port 0xE9. */
  output: string;
}

/** Exit port used by test guests: `out 0xf4, al` ends the run with status (AL << 1) | 1. */
export const EXIT_PORT = 0xf4;

export function assembleOrThrow(source: string): Uint8Array {
  const result = assemble(source, { fileName: 'test.asm' });
  if (!result.ok) throw new Error(result.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return result.bytes;
}

export function runAsm(source: string, options: { maxInstructions?: number; prepare?: (m: Machine) => void; mode?: MemoryMode; cpus?: number; unrestrictedGuest?: boolean } = {}): AsmRun {
  const bytes = assembleOrThrow(`org 0x7c00\n${source}`);
  let output = '';
  const machine = new Machine({
    memoryBytes: 4 << 20,
    mode: options.mode,
    cpus: options.cpus,
    unrestrictedGuest: options.unrestrictedGuest,
    loads: [{ address: 0x7c00, bytes }],
    entry: { segment: 0, offset: 0x7c00 },
    debugcons: [{ port: 0xe9, sink: (b) => (output += String.fromCharCode(b)) }],
    exitPort: EXIT_PORT,
  });
  options.prepare?.(machine);
  const outcome = machine.run(options.maxInstructions ?? 1_000_000);
  return { machine, outcome, output };
}

/**
 * A real-mode prologue: DS = SS = 0, SP = 0x7000, and `handler` as the IVT entry for `vector`
 * (at 0000:vector*4), for guests that take an interrupt or exception.
 */
export function realModeWithHandler(vector: number, handler: string): string {
  return `
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7000
  mov word [${vector}*4], ${handler}
  mov word [${vector}*4+2], 0`;
}

/**
 * Programs the PIC (IRQ 0 at `vector`, every other line masked) and the PIT's channel 0 (mode 2,
 * rate generator, `divisor`; 0 is 65536), for guests that take timer interrupts.
 */
export function startTimer(vector: number, divisor: number): string {
  return `
  mov al, 0x11
  out 0x20, al
  mov al, ${vector}
  out 0x21, al
  mov al, 0x04
  out 0x21, al
  mov al, 0x01
  out 0x21, al
  mov al, 0xfe
  out 0x21, al
  mov al, 0x34
  out 0x43, al
  mov al, ${divisor & 0xff}
  out 0x40, al
  mov al, ${(divisor >> 8) & 0xff}
  out 0x40, al`;
}

/**
 * Identity-maps the first 4 MiB: a page table at 0x21000 whose entries all have `flags`, and the
 * directory's first entry (0x20000) pointing at it with the same flags. CR3 is not loaded: a
 * test may change entries first.
 */
export function identityMap4M(flags: number): string {
  return `
  mov edi, 0x21000
  mov eax, ${flags}
  mov ecx, 1024
.identity_pte:
  mov [edi], eax
  add eax, 0x1000
  add edi, 4
  loop .identity_pte
  mov dword [0x20000], 0x21000 | ${flags}`;
}

/** A flat 32-bit protected-mode prologue: GDT with code 0x08 and data 0x10 (base 0, 4 GiB), then `pm:`. */
export const ENTER_FLAT_PM = `
bits 16
  cli
  xor ax, ax
  mov ds, ax
  lgdt [gdt_desc]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp 0x08:pm
gdt:
  dq 0
  dq 0x00cf9a000000ffff
  dq 0x00cf92000000ffff
gdt_desc:
  dw gdt_desc - gdt - 1
  dd gdt
bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x90000
`;
