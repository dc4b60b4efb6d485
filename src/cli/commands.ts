/**
 * The table of subcommands. Each lives in its own file; add new ones here.
 *
 * A command's module is loaded only when that command runs: `minivisor run` then neither
 * compiles the debugger nor loads node:readline and node:child_process, which is part of
 * keeping the start of a run short (see the boot figure of `npm run bench`).
 */
import type { Command } from './command.ts';

export interface CommandEntry {
  name: string;
  /** One line for `minivisor help`. */
  summary: string;
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  {
    name: 'run',
    summary: 'boot a guest: a disk image, a .asm boot sector or a Multiboot kernel (or run raw code)',
    load: async () => (await import('./run-command.ts')).runCommand,
  },
  {
    name: 'debug',
    summary: 'boot a guest under the debugger: step, break, watch, catch VM exits, translate addresses',
    load: async () => (await import('./debug-command.ts')).debugCommand,
  },
  {
    name: 'compare',
    summary: 'run one guest under every memory mode (bare, EPT, shadow) and print a table of the costs',
    load: async () => (await import('./compare-command.ts')).compareCommand,
  },
  {
    name: 'demo',
    summary: 'boot the toy kernel and say what it shows (npm start)',
    load: async () => (await import('./demo-command.ts')).demoCommand,
  },
  {
    name: 'exercise',
    summary: 'exercises in writing guests: list them, start one (its README and skeleton)',
    load: async () => (await import('./exercise-command.ts')).exerciseCommand,
  },
  {
    name: 'grade',
    summary: "grade an exercise's guest: checks of what it did, with hints, in each memory mode",
    load: async () => (await import('./exercise-command.ts')).gradeCommand,
  },
  { name: 'asm', summary: 'assemble a NASM-syntax file into a flat binary', load: async () => (await import('./asm-command.ts')).asmCommand },
  { name: 'disasm', summary: 'disassemble a flat binary (NASM syntax)', load: async () => (await import('./disasm-command.ts')).disasmCommand },
];
