/**
 * Boots guests through minivisor's BIOS (firmware/bios.asm): assembles the BIOS once, builds a
 * Machine with the guest as a disk image, runs it until it stops and returns what went out of
 * COM1. Virtual time only: nothing here reads the host's clock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic } from '../../src/asm/index.ts';
import { assembleFile } from '../../src/asm/node-files.ts';
import { assembleOrThrow } from '../helpers/run-asm.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { Machine, type MachineConfig, type RunOutcome } from '../../src/machine/machine.ts';
import { projectRoot } from '../../src/project-root.ts';

export const ROOT = projectRoot();

let biosCache: Uint8Array | undefined;

/** The BIOS image, assembled once per test file. */
export function bios(): Uint8Array {
  if (!biosCache) biosCache = assemblePath(join(ROOT, 'firmware/bios.asm'));
  return biosCache;
}

/** Assembles a file with minivisor's assembler, throwing its diagnostics on failure. */
export function assemblePath(path: string): Uint8Array {
  const result = assembleFile(path);
  if (!result.ok) throw new Error(result.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return result.bytes;
}

/** A guest's boot image: guests/<name>/<name>.asm assembled. */
export function guestImage(name: string): Uint8Array {
  return assemblePath(join(ROOT, 'guests', name, `${name}.asm`));
}

/** A guest's golden output: guests/<name>/<name>.expected, the bytes it sends on COM1 (CR LF line ends). */
export function expectedOutput(name: string): string {
  return readFileSync(join(ROOT, 'guests', name, `${name}.expected`), 'utf8');
}

/** A boot sector from assembly source (org 7C00h and the 55AA signature are added). */
export function bootSector(source: string): Uint8Array {
  return assembleOrThrow(`bits 16\norg 0x7c00\n${source}\ntimes 510 - ($ - $$) db 0\ndw 0xAA55\n`);
}

export interface BootOptions extends Partial<Omit<MachineConfig, 'bios' | 'serial'>> {
  /** The image to boot as the first floppy (drive 00h). */
  floppy?: Uint8Array;
  /** The image to use as the first hard disk (drive 80h). */
  hardDisk?: Uint8Array;
  /** Budget for the whole run (virtual time included: 100 million instructions are one virtual second). */
  maxInstructions?: number;
  /**
   * Keys to type, chunk by chunk, after 2 million instructions (20 virtual ms) each, as a typist
   * would: a string goes to Machine.keyboard.typeText; a function types what it likes (named keys).
   * The BIOS's buffer holds 15 keys: a chunk should not have more.
   */
  keys?: (string | ((machine: Machine) => void))[];
  /** Called with the machine before it runs (to load a Multiboot kernel, for example). */
  prepare?: (machine: Machine) => void;
}

export interface BootRun {
  machine: Machine;
  outcome: RunOutcome;
  /** Everything written to COM1, as it was sent (CR LF line ends). */
  serial: string;
  /** Serial output with CR LF turned into LF, for matching lines. */
  text: string;
}

/** Boots the BIOS with the given disks until the guest halts (or the budget runs out). */
export function boot(options: BootOptions = {}): BootRun {
  const { floppy, hardDisk, maxInstructions, keys, prepare, ...rest } = options;
  const disks = rest.disks ?? new Map<number, DiskImage>();
  if (floppy) disks.set(0x00, DiskImage.from(floppy, 'floppy', 'floppy.img'));
  if (hardDisk) disks.set(0x80, DiskImage.from(hardDisk, 'hard-disk', 'disk.img'));
  let serial = '';
  const machine = new Machine({
    memoryBytes: 16 << 20,
    ...rest,
    disks,
    bios: bios(),
    serial: (b) => (serial += String.fromCharCode(b)),
  });
  prepare?.(machine);
  let budget = maxInstructions ?? 400_000_000;
  for (const chunk of keys ?? []) {
    const before = machine.cpu.instructions;
    const pause = machine.run(2_000_000);
    budget -= machine.cpu.instructions - before;
    if (pause.kind !== 'limit') return finish(machine, pause, serial);
    if (typeof chunk === 'string') machine.keyboard.typeText(chunk);
    else chunk(machine);
  }
  return finish(machine, machine.run(budget), serial);
}

function finish(machine: Machine, outcome: RunOutcome, serial: string): BootRun {
  return { machine, outcome, serial, text: serial.replace(/\r\n/g, '\n') };
}

/** The banner the BIOS prints first, as it appears in every guest's output. */
export const BANNER = 'minivisor BIOS\n';
