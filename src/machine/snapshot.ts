/**
 * Snapshots of a whole machine (QEMU's savevm/loadvm): the processors (registers, what they hold
 * between instructions, MSRs, a REP part-way), every device, the VMM (VMCS, EPT, shadow and
 * paravirtual structures, exit counts), memory slots, host frames, disks and virtual time, taken
 * by walking the machine's object graph (src/cpu/state-graph.ts).
 *
 * A snapshot loads into a machine built from the same recipe: the debugger loads into the machine
 * it runs; `minivisor run --load-snapshot FILE` builds one from the recipe the file carries
 * (`configFromRecipe`) and loads into it. As a file it is versioned, checked and compressed
 * (`encodeSnapshot`, `decodeSnapshot`).
 */
import { unzlibSync, zlibSync } from 'fflate';
import { captureGraph, restoreGraph, PAGE_BYTES, StateGraphError, type CapturedGraph, type GraphNode, type PageMemo } from '../cpu/state-graph.ts';
import { DiskImage, type DiskKind } from './disk-image.ts';
import type { Machine, MachineConfig, MemoryMode } from './machine.ts';

/** What a machine is built from, as data: what a load needs to build one that the state fits. */
export interface MachineRecipe {
  memoryBytes: number;
  mode: MemoryMode;
  cpus: number;
  shadowCacheRoots?: number;
  unrestrictedGuest?: boolean;
  reserved: { base: number; length: number }[];
  /** The firmware image's size (its bytes are in the saved memory), 0 for none. */
  biosBytes: number;
  /** The disks by BIOS drive number: their size and name (their bytes are in the saved state). */
  disks: { drive: number; kind: DiskKind; bytes: number; name: string }[];
  bootDrive?: number;
  exitPort?: number;
  debugconPorts: number[];
}

export interface MachineSnapshot {
  recipe: MachineRecipe;
  /** Where the machine was: instructions retired by all processors, idle time included (Machine.instructions). */
  instructions: number;
  graph: CapturedGraph;
}

/** The recipe of the machine `config` builds. */
export function machineRecipe(config: MachineConfig): MachineRecipe {
  return {
    memoryBytes: config.memoryBytes,
    mode: config.mode ?? 'bare',
    cpus: config.cpus ?? 1,
    shadowCacheRoots: config.shadowCacheRoots,
    unrestrictedGuest: config.unrestrictedGuest,
    reserved: (config.reserved ?? []).map(({ base, length }) => ({ base, length })),
    biosBytes: config.bios?.length ?? 0,
    disks: [...(config.disks ?? new Map<number, DiskImage>())].sort((a, b) => a[0] - b[0]).map(([drive, d]) => ({ drive, kind: d.kind, bytes: d.bytes.length, name: d.name })),
    bootDrive: config.bootDrive,
    exitPort: config.exitPort,
    debugconPorts: (config.debugcons ?? []).map((d) => d.port),
  };
}

/**
 * A configuration that builds a machine the snapshot's state fits: memory, firmware and disks
 * empty (the load fills them). `wiring` gives what goes to the host: COM1's output, the debug
 * consoles' (by port), whether to compile hot code.
 */
export function configFromRecipe(
  recipe: MachineRecipe,
  wiring: { serial?: (byte: number) => void; debugcon?: (port: number) => (byte: number) => void; translationCache?: boolean } = {},
): MachineConfig {
  const disks = new Map<number, DiskImage>();
  for (const d of recipe.disks) disks.set(d.drive, DiskImage.from(new Uint8Array(d.bytes), d.kind, d.name));
  return {
    memoryBytes: recipe.memoryBytes,
    mode: recipe.mode,
    cpus: recipe.cpus,
    shadowCacheRoots: recipe.shadowCacheRoots,
    unrestrictedGuest: recipe.unrestrictedGuest,
    reserved: recipe.reserved,
    bios: recipe.biosBytes > 0 ? new Uint8Array(recipe.biosBytes) : undefined,
    disks,
    bootDrive: recipe.bootDrive,
    exitPort: recipe.exitPort,
    debugcons: recipe.debugconPorts.map((port) => ({ port, sink: wiring.debugcon?.(port) ?? (() => {}) })),
    serial: wiring.serial,
    translationCache: wiring.translationCache,
  };
}

/** What differs between two recipes, named by their options, or [] when nothing does. */
export function recipeDifferences(saved: MachineRecipe, live: MachineRecipe, whose = "the snapshot's"): string[] {
  const out: string[] = [];
  const say = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: ${whose} is ${JSON.stringify(a)}, this machine's ${JSON.stringify(b)}`);
  };
  say('memory (--mem)', saved.memoryBytes, live.memoryBytes);
  say('mode (--mode)', saved.mode, live.mode);
  say('processors (--smp)', saved.cpus, live.cpus);
  say('shadow cache (--shadow-cache)', saved.shadowCacheRoots, live.shadowCacheRoots);
  say('unrestricted guest (--unrestricted)', saved.unrestrictedGuest, live.unrestrictedGuest);
  say('reserved ranges (--reserve)', saved.reserved, live.reserved);
  say('firmware size', saved.biosBytes, live.biosBytes);
  say('disks', saved.disks.map((d) => [d.drive, d.kind, d.bytes]), live.disks.map((d) => [d.drive, d.kind, d.bytes]));
  say('exit port', saved.exitPort, live.exitPort);
  say('debug console ports', saved.debugconPorts, live.debugconPorts);
  return out;
}

/** The machine's state now. `memo` shares pages with the previous snapshot taken with it (a timeline's). */
export function takeSnapshot(machine: Machine, memo?: PageMemo): MachineSnapshot {
  return { recipe: machineRecipe(machine.config), instructions: machine.instructions, graph: captureGraph(machine, memo) };
}

/** A snapshot cannot be loaded into this machine, or a file is not a snapshot minivisor can read: what is wrong and what to do. */
export class SnapshotError extends Error {}

/**
 * Puts the machine in the snapshot's state. Caches (TLBs, decoded and compiled code) are
 * dropped; a stop the last run ended with (the exit port, a reset) is forgotten: the machine
 * goes on from the snapshot.
 */
export function loadSnapshot(machine: Machine, snapshot: MachineSnapshot): void {
  const differences = recipeDifferences(snapshot.recipe, machineRecipe(machine.config));
  if (differences.length > 0) throw new SnapshotError(`the snapshot was taken on another kind of machine:\n  ${differences.join('\n  ')}`);
  try {
    restoreGraph(machine, snapshot.graph);
  } catch (e) {
    if (e instanceof StateGraphError) throw new SnapshotError(e.message);
    throw e;
  }
  machine.afterStateLoad();
}

// ------------------------------------------------------------------ files

const MAGIC = 'minivisor snapshot\n';
/** The file format's version: a load refuses another. Raise it when the saved state's shape changes. */
export const SNAPSHOT_VERSION = 1;

interface FileHeader {
  version: number;
  recipe: MachineRecipe;
  instructions: number;
  nodes: GraphNode[];
  /** Each page's length (4096 but for a buffer's last, shorter page). */
  pageLengths: number[];
  /** What the file also carries for the front end (symbols...), as JSON. */
  extra?: unknown;
}

/** A snapshot as a file's bytes: the magic line, then the state compressed (zlib, whose checksum a load verifies). */
export function encodeSnapshot(snapshot: MachineSnapshot, extra?: unknown): Uint8Array {
  const { nodes, pages } = snapshot.graph;
  const header: FileHeader = { version: SNAPSHOT_VERSION, recipe: snapshot.recipe, instructions: snapshot.instructions, nodes, pageLengths: pages.map((p) => p.length), extra };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(4 + json.length + pages.reduce((n, p) => n + p.length, 0));
  new DataView(body.buffer).setUint32(0, json.length, true);
  body.set(json, 4);
  let at = 4 + json.length;
  for (const p of pages) {
    body.set(p, at);
    at += p.length;
  }
  const packed = zlibSync(body, { level: 1 });
  const magic = new TextEncoder().encode(MAGIC);
  const out = new Uint8Array(magic.length + 4 + packed.length);
  out.set(magic);
  new DataView(out.buffer).setUint32(magic.length, SNAPSHOT_VERSION, true);
  out.set(packed, magic.length + 4);
  return out;
}

/** Reads a snapshot file's bytes; `name` is the file's, for messages. Throws a SnapshotError that says what is wrong. */
export function decodeSnapshot(bytes: Uint8Array, name: string): { snapshot: MachineSnapshot; extra?: unknown } {
  const magic = new TextEncoder().encode(MAGIC);
  if (bytes.length < magic.length + 4 || !magic.every((b, i) => bytes[i] === b)) {
    throw new SnapshotError(`${name} is not a minivisor snapshot (make one with 'minivisor run ... --save-on-exit FILE' or the debugger's 'snapshot save')`);
  }
  const version = new DataView(bytes.buffer, bytes.byteOffset).getUint32(magic.length, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`${name} is a snapshot of format ${version}, and this minivisor reads format ${SNAPSHOT_VERSION}: take it again with this version`);
  }
  let body: Uint8Array;
  let header: FileHeader;
  try {
    body = unzlibSync(bytes.subarray(magic.length + 4));
    const length = new DataView(body.buffer, body.byteOffset).getUint32(0, true);
    header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + length))) as FileHeader;
    let at = 4 + length;
    const pages = header.pageLengths.map((n) => {
      if (n < 0 || n > PAGE_BYTES || at + n > body.length) throw new Error('a page runs past the end');
      const page = body.subarray(at, at + n);
      at += n;
      return page;
    });
    if (at !== body.length || header.version !== version) throw new Error('its parts do not add up');
    return { snapshot: { recipe: header.recipe, instructions: header.instructions, graph: { nodes: header.nodes, pages } }, extra: header.extra };
  } catch (e) {
    throw new SnapshotError(`${name} is damaged (${e instanceof Error ? e.message : String(e)}): it cannot be loaded`);
  }
}

/** Bytes a snapshot holds in memory: its pages (shared ones counted each time) and a guess at its nodes. */
export function snapshotBytes(snapshot: MachineSnapshot): number {
  return snapshot.graph.pages.reduce((n, p) => n + p.length, 0) + snapshot.graph.nodes.length * 64;
}
