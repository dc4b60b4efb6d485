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
import { captureGraph, graphProblem, restoreGraph, PAGE_BYTES, StateGraphError, type CapturedGraph, type GraphNode, type PageMemo } from '../cpu/state-graph.ts';
import { DiskImage, MAX_HARD_DISK_BYTES, type DiskKind } from './disk-image.ts';
import { Fnv } from './fnv.ts';
import { MAX_CPUS, MAX_RAM_BYTES, type Machine, type MachineConfig, type MemoryMode } from './machine.ts';

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
    // (A file that passed decodeSnapshot's checks and still fails: the machine is left half-written.)
    if (e instanceof StateGraphError || e instanceof RangeError || e instanceof TypeError) throw new SnapshotError(`the snapshot could not be loaded: ${e.message}`);
    throw e;
  }
  machine.afterStateLoad();
}

// ------------------------------------------------------------------ files

const MAGIC = 'minivisor snapshot\n';
/** The file format's version: a load refuses another. Raise it when the saved state's shape changes. */
const SNAPSHOT_VERSION = 1;

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

/** The description's size, at most (a 512 MiB guest's is a few MiB). */
const MAX_HEADER_BYTES = 256 << 20;

/** What is wrong with a recipe read from a file, or null: a machine could not be built from it. */
function checkRecipe(recipe: MachineRecipe): string | null {
  const int = (v: unknown, low: number, high: number) => Number.isInteger(v) && (v as number) >= low && (v as number) <= high;
  if (typeof recipe !== 'object' || recipe === null) return 'it says no machine';
  if (!int(recipe.memoryBytes, 1 << 20, MAX_RAM_BYTES) || recipe.memoryBytes % 4096 !== 0) return 'its memory size is impossible';
  if (!['bare', 'ept', 'shadow', 'pv'].includes(recipe.mode)) return 'its mode is unknown';
  if (!int(recipe.cpus, 1, MAX_CPUS)) return 'its number of processors is impossible';
  if (!int(recipe.biosBytes, 0, 256 * 1024) || recipe.biosBytes % 4096 !== 0) return 'its firmware size is impossible';
  if (!Array.isArray(recipe.reserved) || !recipe.reserved.every((r) => int(r?.base, 0, 2 ** 32) && int(r?.length, 0, 2 ** 32))) return 'its reserved ranges are not ranges';
  if (!Array.isArray(recipe.debugconPorts) || !recipe.debugconPorts.every((p) => int(p, 0, 0xffff))) return 'its debug console ports are not ports';
  if (recipe.exitPort !== undefined && !int(recipe.exitPort, 0, 0xffff)) return 'its exit port is not a port';
  const disksOk = Array.isArray(recipe.disks) && recipe.disks.every((d) => int(d?.drive, 0, 0xff) && (d.kind === 'floppy' || d.kind === 'hard-disk') && int(d.bytes, 512, MAX_HARD_DISK_BYTES) && d.bytes % 512 === 0 && typeof d.name === 'string');
  return disksOk ? null : 'its disks are not disks';
}

/** Pages are stored in chunks of this many bytes, each compressed or, when that would not pay, as they are. */
const CHUNK_BYTES = 1 << 20;
/** A chunk whose first 64 KiB do not compress below this share of their size is stored as it is (compressing it would cost much and save little). */
const WORTH_COMPRESSING = 0.8;
const CHUNK_RAW = 0;
const CHUNK_ZLIB = 1;

/** Appends byte arrays into one. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A snapshot as a file's bytes: the magic line, the format version, the state's description
 * (JSON), then its memory pages in chunks of 1 MiB; each part zlib-compressed, or stored as it is
 * when its data does not compress, with a checksum of its bytes that a load verifies.
 */
export function encodeSnapshot(snapshot: MachineSnapshot, extra?: unknown): Uint8Array {
  const { nodes, pages } = snapshot.graph;
  const header: FileHeader = { version: SNAPSHOT_VERSION, recipe: snapshot.recipe, instructions: snapshot.instructions, nodes, pageLengths: pages.map((p) => p.length), extra };
  const parts: Uint8Array[] = [new TextEncoder().encode(MAGIC)];
  const word = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0, true);
    return b;
  };
  parts.push(word(SNAPSHOT_VERSION));
  const section = (raw: Uint8Array, level: 1 | 6) => {
    const sample = raw.subarray(0, 65536);
    const worth = zlibSync(sample, { level }).length < sample.length * WORTH_COMPRESSING;
    const stored = worth ? zlibSync(raw, { level }) : raw;
    parts.push(Uint8Array.of(worth ? CHUNK_ZLIB : CHUNK_RAW), word(raw.length), word(stored.length), word(new Fnv().bytes(raw).value), stored);
  };
  section(new TextEncoder().encode(JSON.stringify(header)), 6);
  for (let first = 0; first < pages.length; ) {
    let bytes = 0;
    let last = first;
    while (last < pages.length && bytes + pages[last].length <= CHUNK_BYTES) bytes += pages[last++].length;
    section(concat(pages.slice(first, last)), 1);
    first = last;
  }
  return concat(parts);
}

/** Reads a snapshot file's bytes; `name` is the file's, for messages. Throws a SnapshotError that says what is wrong. */
export function decodeSnapshot(bytes: Uint8Array, name: string): { snapshot: MachineSnapshot; extra?: unknown } {
  const magic = new TextEncoder().encode(MAGIC);
  if (bytes.length < magic.length + 4 || !magic.every((b, i) => bytes[i] === b)) {
    throw new SnapshotError(`${name} is not a minivisor snapshot (make one with 'minivisor run ... --save-on-exit FILE' or the debugger's 'snapshot save')`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint32(magic.length, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`${name} is a snapshot of format ${version}, and this minivisor reads format ${SNAPSHOT_VERSION}: take it again with this version`);
  }
  try {
    let at = magic.length + 4;
    const take = (n: number) => {
      if (at + n > bytes.length) throw new Error('it ends too soon');
      const part = bytes.subarray(at, at + n);
      at += n;
      return part;
    };
    const word = () => new DataView(take(4).slice().buffer).getUint32(0, true);
    const section = (most: number) => {
      const kind = take(1)[0];
      const rawLength = word();
      const storedLength = word();
      const check = word();
      if (rawLength > most) throw new Error('a part of it is larger than any it writes');
      const stored = take(storedLength);
      // (Inflated into a buffer of the size the part says, never more: a small file cannot claim gigabytes.)
      const raw = kind === CHUNK_ZLIB ? unzlibSync(stored, { out: new Uint8Array(rawLength) }) : kind === CHUNK_RAW ? stored : null;
      if (raw === null || raw.length !== rawLength) throw new Error('a part of it is not what its header says');
      if (new Fnv().bytes(raw).value !== check) throw new Error('a part of it fails its checksum');
      return raw;
    };
    const header = JSON.parse(new TextDecoder().decode(section(MAX_HEADER_BYTES))) as FileHeader;
    if (header === null || typeof header !== 'object' || header.version !== version) throw new Error('its parts do not agree on the version');
    if (!Number.isSafeInteger(header.instructions) || header.instructions < 0) throw new Error('it says no instruction count');
    const recipeProblem = checkRecipe(header.recipe);
    if (recipeProblem !== null) throw new Error(recipeProblem);
    if (!Array.isArray(header.pageLengths) || !header.pageLengths.every((n) => Number.isInteger(n) && n > 0 && n <= PAGE_BYTES)) throw new Error('its pages have impossible lengths');
    const graphProblemText = graphProblem(header.nodes, header.pageLengths);
    if (graphProblemText !== null) throw new Error(graphProblemText);
    const memory: Uint8Array[] = [];
    while (at < bytes.length) memory.push(section(CHUNK_BYTES));
    // The pages, in order, across the chunks (a page never spans two).
    const pages: Uint8Array[] = [];
    let chunk = 0;
    let offset = 0;
    for (const n of header.pageLengths) {
      if (chunk < memory.length && offset === memory[chunk].length) {
        chunk++;
        offset = 0;
      }
      if (chunk >= memory.length || offset + n > memory[chunk].length) throw new Error('its pages run past its memory');
      pages.push(memory[chunk].subarray(offset, offset + n));
      offset += n;
    }
    if (chunk < memory.length - 1 || (memory.length > 0 && offset !== memory[chunk].length)) throw new Error('it holds more memory than its pages');
    return { snapshot: { recipe: header.recipe, instructions: header.instructions, graph: { nodes: header.nodes, pages } }, extra: header.extra };
  } catch (e) {
    throw new SnapshotError(`${name} is damaged (${e instanceof Error ? e.message : String(e)}): it cannot be loaded`);
  }
}

/** Bytes a snapshot holds in memory: its pages (shared ones counted each time) and a guess at its nodes. */
export function snapshotBytes(snapshot: MachineSnapshot): number {
  return snapshot.graph.pages.reduce((n, p) => n + p.length, 0) + snapshot.graph.nodes.length * 64;
}
