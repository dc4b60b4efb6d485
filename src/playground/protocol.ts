/**
 * What the playground's page and its worker say to each other (postMessage). The machine, the
 * assembler and the debugger run in the worker, so that a guest that spins never freezes the
 * page; the page shows what the worker sends and sends what the user does.
 */

/** A guest's sources: file name to text, and which one to assemble (the others are its %includes). */
export interface GuestSources {
  files: Record<string, string>;
  main: string;
}

export type MemoryMode = 'bare' | 'ept' | 'shadow' | 'pv';

export type ToWorker =
  /** Assemble the sources and boot them from a floppy through the BIOS, stopped before the first instruction. */
  | { type: 'boot'; sources: GuestSources; mode: MemoryMode }
  /** A debugger command line, as typed at `minivisor debug` (continue, stepi, break, x, translate...). */
  | { type: 'command'; line: string }
  /** Stop the running guest (the REPL's Ctrl-C). */
  | { type: 'interrupt' }
  /** Set a breakpoint at a linear address, or delete the one there (a click in the disassembly). */
  | { type: 'toggleBreakpoint'; linear: number }
  /** Walk an address (an expression: 0x400000, esp, a label) through every level: `translate`. */
  | { type: 'walk'; address: string }
  /** Show memory at an address (an expression): `x/64xb`. */
  | { type: 'memory'; address: string }
  /** Run the booted sources again from the start under every mode, side by side (`minivisor compare`). */
  | { type: 'compare' }
  /** Keys typed in the COM1 terminal, for the guest (its keyboard and COM1, as `minivisor run` types them). */
  | { type: 'type'; text: string };

/** A line of the disassembly panel: an instruction, where it is, and what marks it. */
export interface DisassemblyLine {
  linear: number;
  /** `0008:0001023A <print+0x4>  8a 06   mov al, [esi]  (console.asm:41)`, as the REPL shows it. */
  text: string;
  /** The instruction at CS:EIP, the next to run. */
  next: boolean;
  /** The number of the breakpoint set there, or 0. */
  breakpoint: number;
}

export type FromWorker =
  /** The worker is loaded (its BIOS fetched) and takes commands. */
  | { type: 'ready' }
  /** Bytes the guest wrote to COM1, as text (Latin-1). */
  | { type: 'serial'; text: string }
  /** The debugger's output. */
  | { type: 'console'; text: string }
  /** The sources did not assemble: each diagnostic as file:line:column: message, with its line. */
  | { type: 'diagnostics'; text: string; line: number }
  /**
   * The guest started or stopped running. When stopped: its registers (`info registers`) and where
   * it is, the instructions from CS:EIP on, the last VM exits (under the VMM) and the VGA text screen.
   */
  | { type: 'state'; running: boolean; ended: boolean; registers: string; disassembly: DisassemblyLine[]; exits: string; screen: string[] }
  /** `translate`'s walk of an address, level by level. */
  | { type: 'walk'; text: string }
  /** Memory, as `x/64xb` shows it. */
  | { type: 'memory'; text: string }
  /** The modes compared: the table's cells (a header row first), and whether they all agreed. */
  | { type: 'comparison'; table: string[][]; verdict: string };
