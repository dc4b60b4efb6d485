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
  | { type: 'interrupt' };

export type FromWorker =
  /** The worker is loaded (its BIOS fetched) and takes commands. */
  | { type: 'ready' }
  /** Bytes the guest wrote to COM1, as text (Latin-1). */
  | { type: 'serial'; text: string }
  /** The debugger's output. */
  | { type: 'console'; text: string }
  /** The sources did not assemble: each diagnostic as file:line:column: message, with its line. */
  | { type: 'diagnostics'; text: string; line: number }
  /** The guest started or stopped running; when stopped, its registers (`info registers`) and where it is. */
  | { type: 'state'; running: boolean; registers: string; ended: boolean };
