/**
 * Popek–Goldberg equivalence under random code: one seeded random guest, run on the bare machine
 * with the interpreter (the reference) and under every other mode — bare compiled, EPT, shadow
 * paging and paravirtual paging, each with the translation cache on (compiling at once) and off,
 * and EPT and shadow paging without "unrestricted guest" (real mode in V86 mode) — must end in the same machine: outcome, instructions retired, architectural state (control
 * registers as the guest reads them) and all of RAM. Used by test/vmm/fuzz.test.ts (a few hundred
 * guests) and by `npm run fuzz` (tools/fuzz.ts, as many as you like).
 *
 * Three kinds of guest, from the seed:
 *  - real: random bytes below 64 KiB, a random IVT, starting at 0000:1000 (half of them with
 *    the BIOS ROM mapped);
 *  - flat: a preamble enters 32-bit protected mode with a flat GDT and an IDT whose handlers
 *    count the event and return past the faulting byte, IRET to it again, or HLT; then random code;
 *  - paged: the same with paging on: an identity page table in which about 6% of the entries get
 *    random flags or frames, an aliasing table, random 4 MiB pages (CR4.PSE) and CR0.WP.
 */
import { createHash } from 'node:crypto';
import { disassemble } from '../../src/asm/disassembler.ts';
import { getEflags } from '../../src/cpu/flags.ts';
import { CS, S_A20_MASK, S_CODE32, S_CR0, S_CR3, S_CR4, S_EIP, S_SEG_BASE, S_SEG_SEL } from '../../src/cpu/state.ts';
import { NO_FRAME } from '../../src/cpu/host-memory.ts';
import { HOOK_RUN, HOOK_STOP, type DebugHook } from '../../src/cpu/debug-hook.ts';
import { builtinBios } from '../../src/cli/firmware.ts';
import { Machine, type MemoryMode } from '../../src/machine/machine.ts';
import { decodeSnapshot, encodeSnapshot, loadSnapshot, takeSnapshot } from '../../src/machine/snapshot.ts';
import { assembleOrThrow } from './run-asm.ts';
import { random } from './random-code.ts';

export type GuestKind = 'real' | 'flat' | 'paged';
export interface RunMode {
  mode: MemoryMode;
  jit: boolean;
  /** ept and shadow on a CPU without "unrestricted guest" (real mode in V86 mode). */
  v86?: boolean;
  /** The bare machine with a TLB that forgets a translation when its paging entries are written (Cpu.snoopPagingStructureWrites). */
  coherentTlb?: boolean;
  /**
   * Saved part-way through the budget (a fifth to four fifths of it, by the seed) as a snapshot
   * file's bytes, loaded into a machine built anew, and run on from there: a snapshot must carry
   * everything that decides the rest of the run.
   */
  snapshotPartWay?: boolean;
}
export const MODES: readonly RunMode[] = [
  { mode: 'bare', jit: true },
  { mode: 'ept', jit: false },
  { mode: 'ept', jit: true },
  { mode: 'shadow', jit: false },
  { mode: 'shadow', jit: true },
  { mode: 'pv', jit: false },
  { mode: 'pv', jit: true },
  // Without "unrestricted guest": real mode in V86 mode, paging-off code on the identity table.
  { mode: 'ept', jit: true, v86: true },
  { mode: 'shadow', jit: false, v86: true },
];
export const REFERENCE: RunMode = { mode: 'bare', jit: false };
/** Each memory mode saved part-way and loaded into a new machine (npm run fuzz; test/machine/snapshot-fuzz.test.ts). */
export const SNAPSHOT_MODES: readonly RunMode[] = [
  { mode: 'bare', jit: true, snapshotPartWay: true },
  { mode: 'ept', jit: true, snapshotPartWay: true },
  { mode: 'shadow', jit: true, snapshotPartWay: true },
  { mode: 'pv', jit: false, snapshotPartWay: true },
  { mode: 'ept', jit: true, v86: true, snapshotPartWay: true },
];
/**
 * The second reference, for shadow paging: the TLB may keep a translation after the guest
 * changed its entries without INVLPG, or drop it (SDM Vol. 3, 4.10.4). The bare machine and EPT
 * keep it, as hardware does; shadow paging drops it, because writes to the guest's tables trap
 * and the shadow entries built from them go. A guest that uses such a translation may end
 * either way: shadow paging must then match this reference, which drops it too.
 */
export const COHERENT_TLB_REFERENCE: RunMode = { mode: 'bare', jit: false, coherentTlb: true };
export const modeName = (m: RunMode) => `${m.mode}${m.v86 ? ' --unrestricted off' : ''}${m.jit ? '' : ' --no-jit'}${m.snapshotPartWay ? ', saved and loaded part-way' : ''}`;

const MEMORY_BYTES = 2 << 20;
const PARAMS = 0x500; // the preamble's parameter block (see PREAMBLE)
const GDT = 0x1000;
const IDT = 0x2000;
const HANDLERS = 0x3000; // 16 bytes per vector
const PAGE_DIRECTORY = 0x4000;
const PAGE_TABLE = 0x5000;
const ALIAS_TABLE = 0x6000;
const COUNTERS = 0x8000;
const CODE = 0x10000; // random code and data: 0x10000-0x3FFFF
const CODE_END = 0x40000;

/**
 * Real mode → 32-bit protected mode, as a boot loader would, with everything taken from the
 * parameter block: GDTR, IDTR, CR4 and CR3 (when paging is to be on), CR0 (PE, maybe PG and WP), then the general registers
 * (POPAD), EFLAGS (POPFD), ESP, and a jump to the entry point.
 */
const PREAMBLE_SOURCE = `
bits 16
org 0x600
  cli
  lgdt [${PARAMS}]
  lidt [${PARAMS + 8}]
  mov eax, [${PARAMS + 0x18}]
  test eax, eax
  jns .unpaged
  mov ebx, [${PARAMS + 0x10}]
  mov cr4, ebx
  mov ebx, [${PARAMS + 0x14}]
  mov cr3, ebx
.unpaged:
  mov cr0, eax
  jmp dword 0x08:pm
bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, ${PARAMS + 0x20}
  popad
  popfd
  mov esp, [${PARAMS + 0x44}]
  jmp [${PARAMS + 0x48}]
`;
let preamble: Uint8Array | null = null;
let biosImage: Uint8Array | undefined;

/** Vectors whose exceptions push an error code. */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17]);

/** One random guest: which kind, and the machine it starts as (built fresh for each run). */
export interface FuzzGuest {
  seed: number;
  kind: GuestKind;
  budget: number;
  build(mode: RunMode): Machine;
}

export function fuzzGuest(seed: number): FuzzGuest {
  const pick = random(seed * 2654435761)();
  const kind: GuestKind = (['real', 'flat', 'paged', 'paged'] as const)[pick & 3];
  const budget = (pick >>> 2) % 10 === 0 ? 300_000 : 30_000;
  // Half the real-mode guests have the BIOS ROM mapped (at 0xF0000 and below 4 GiB): random
  // writes to it must be dropped in every mode, as ROM.
  const bios = kind === 'real' && ((pick >>> 8) & 1) === 1 ? (biosImage ??= builtinBios()) : undefined;
  let image: Uint8Array | null = null; // made once, loaded into each run's machine
  return {
    seed,
    kind,
    budget,
    build: (mode) => {
      image ??= guestImage(seed, kind);
      const machine = new Machine({
        memoryBytes: MEMORY_BYTES,
        mode: mode.mode,
        translationCache: mode.jit,
        unrestrictedGuest: !mode.v86,
        entry: { segment: 0, offset: kind === 'real' ? 0x1000 : 0x600 },
        bios,
      });
      // Compiled soon (a block that runs a few times), so that random code runs compiled too.
      if (mode.jit) machine.cpu.compileThreshold = 4;
      if (mode.coherentTlb) machine.cpu.snoopPagingStructureWrites();
      machine.phys.load(0, image);
      return machine;
    },
  };
}

/** The guest's memory from address 0: its code, data and tables. */
function guestImage(seed: number, kind: GuestKind): Uint8Array {
  const next = random(seed);
  const protectedMode = kind !== 'real';
  if (!protectedMode) return Uint8Array.from({ length: 0x10000 }, () => next() & 0xff);
  const bytes = new Uint8Array(CODE_END);
  const view = new DataView(bytes.buffer);
  for (let a = CODE; a < CODE_END; a++) bytes[a] = next() & 0xff;
  preamble ??= assembleOrThrow(PREAMBLE_SOURCE);
  bytes.set(preamble, 0x600);
  // GDT: null, flat 32-bit code (0x08), flat data (0x10), and a 16-bit code and data pair (0x18, 0x20).
  const descriptors = [[0, 0], [0xffff, 0x00cf9a00], [0xffff, 0x00cf9200], [0xffff, 0x00009a00], [0xffff, 0x00009200]];
  descriptors.forEach(([low, high], i) => {
    view.setUint32(GDT + i * 8, low, true);
    view.setUint32(GDT + i * 8 + 4, high, true);
  });
  view.setUint16(PARAMS, descriptors.length * 8 - 1, true);
  view.setUint32(PARAMS + 2, GDT, true);
  view.setUint16(PARAMS + 8, 256 * 8 - 1, true);
  view.setUint32(PARAMS + 10, IDT, true);
  // IDT and handlers: count the event at COUNTERS + 4 × vector, then return past the byte at
  // which it happened (most), return to it (some: a fault repeats), or halt.
  for (let v = 0; v < 256; v++) {
    const handler = HANDLERS + v * 16;
    view.setUint32(IDT + v * 8, (0x08 << 16) | (handler & 0xffff), true);
    view.setUint32(IDT + v * 8 + 4, (handler & 0xffff0000) | 0x8e00, true);
    const code: number[] = [];
    if (WITH_ERROR_CODE.has(v)) code.push(0x83, 0xc4, 0x04); // add esp, 4
    const counter = COUNTERS + v * 4;
    code.push(0xff, 0x05, counter & 0xff, (counter >> 8) & 0xff, 0, 0); // inc dword [counter]
    const how = next() & 7;
    if (how < 6) code.push(0xff, 0x04, 0x24); // inc dword [esp]: past the byte
    if (how === 7) code.push(0xf4); // hlt
    code.push(0xcf); // iretd
    bytes.set(code, handler);
  }
  let cr0 = 0x11; // PE ET
  let cr4 = 0;
  if (kind === 'paged') {
    cr0 |= 0x80000000 | (next() & 1 ? 0x10000 : 0); // PG, maybe WP
    if (next() & 1) cr4 |= 0x10; // PSE
    buildPageTables(view, next);
  }
  view.setUint32(PARAMS + 0x10, cr4, true);
  view.setUint32(PARAMS + 0x14, PAGE_DIRECTORY | (next() & 0x18), true); // maybe PWT/PCD
  view.setUint32(PARAMS + 0x18, cr0, true);
  // POPAD's block: EDI ESI EBP (ESP skipped) EBX EDX ECX EAX; half of them point into RAM.
  for (let i = 0; i < 8; i++) {
    const value = next();
    view.setUint32(PARAMS + 0x20 + i * 4, next() & 1 ? value & (MEMORY_BYTES - 1) : value, true);
  }
  // EFLAGS: the arithmetic flags, DF, sometimes TF (single-step), never IF (no device is set up).
  const flags = (next() & 0x8d5) | 2 | ((next() & 15) === 0 ? 0x100 : 0);
  view.setUint32(PARAMS + 0x40, flags, true);
  // ESP: mostly a stack in RAM; sometimes one that wraps, faults or lies outside memory.
  const espChoices = [0x9f000, CODE + (next() & 0x2fffc), next() | 0, 0xfffffff0 + (next() & 15), 8];
  const esp = next() % 8 < 6 ? espChoices[next() & 1] : espChoices[2 + (next() % 3)];
  view.setUint32(PARAMS + 0x44, esp >>> 0, true);
  view.setUint32(PARAMS + 0x48, CODE + (next() & 0x2ffff), true);
  return bytes;
}

/** An identity map of the first 4 MiB, with ~6% of its entries given random flags or frames, and random directory entries. */
function buildPageTables(view: DataView, next: () => number): void {
  const present = 0x7; // P RW US
  view.setUint32(PAGE_DIRECTORY, PAGE_TABLE | present, true);
  for (let i = 0; i < 1024; i++) {
    let entry = (i << 12) | present;
    // The preamble's and the handlers' pages stay as they are: the rest is the guest's to get wrong.
    if (i >= 8 && next() % 16 === 0) entry = (next() & 1 ? entry & ~0xfff : (next() & 0x3ff) << 12) | (next() & 0xfff);
    view.setUint32(PAGE_TABLE + i * 4, entry, true);
  }
  for (let i = 0; i < 1024; i++) view.setUint32(ALIAS_TABLE + i * 4, ((next() & 0x3ff) << 12) | (next() & 0xfff), true);
  for (let n = next() % 8; n > 0; n--) {
    const index = 1 + (next() % 1023);
    const kind = next() % 3;
    // Another table (aliasing), a 4 MiB page (with CR4.PSE) or an entry with random flags.
    const entry = kind === 0 ? ALIAS_TABLE | present : kind === 1 ? ((next() & 0x3ff) << 22) | 0x80 | (next() & 0x7f) : next();
    view.setUint32(PAGE_DIRECTORY + index * 4, entry, true);
  }
}

/** How one run ended: everything that must be equal between modes. */
export interface RunResult {
  outcome: string;
  instructions: number;
  state: number[];
  ram: string;
  /** A host exception, or a write outside the guest's memory: never acceptable. */
  hostFailure: string | null;
  /** The stop's detail, for the report. */
  detail: string;
  /** What makes this run not comparable (a long REP), or ''. */
  skip: string;
  /** A rule of paravirtual paging the guest broke (docs/hypercalls.md), or ''. */
  pvRule: string;
}

/**
 * A REP string instruction retires once, when it completes, and its iterations are not virtual
 * time: a random ECX can make one instruction run for 4 G iterations (tens of seconds, in every
 * mode). Runs stop after this many REP chunks (Cpu.repChunk iterations each) and such a guest is
 * counted as skipped, not compared: where a chunk ends may differ between modes.
 */
const LONG_REP_CHUNKS = 500;

function longRepGuard(): DebugHook {
  return {
    atBoundary: (cpu) => (cpu.partialRuns > LONG_REP_CHUNKS ? HOOK_STOP : HOOK_RUN),
    onEvent: () => {},
    watchesPage: () => false,
    onAccess: () => {},
    onTripleFault: () => false,
  };
}

export function runGuest(guest: FuzzGuest, mode: RunMode, budget = guest.budget): RunResult {
  let machine = guest.build(mode);
  machine.cpu.debugHook = longRepGuard();
  let outcome = 'host-exception';
  let detail = '';
  let hostFailure: string | null = null;
  try {
    const part = 0.2 + 0.6 * ((guest.seed * 0.6180339887) % 1);
    let o = machine.run(mode.snapshotPartWay ? Math.floor(budget * part) : budget);
    if (mode.snapshotPartWay && o.kind === 'limit') {
      const file = encodeSnapshot(takeSnapshot(machine));
      machine.dispose();
      machine = guest.build(mode);
      machine.cpu.debugHook = longRepGuard();
      loadSnapshot(machine, decodeSnapshot(file, `seed ${guest.seed}.snap`).snapshot);
      o = machine.run(budget - machine.instructions);
    }
    outcome = o.kind;
    detail = 'detail' in o ? o.detail : '';
  } catch (e) {
    hostFailure = `host exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
  }
  const result = resultOf(machine, outcome, detail, hostFailure);
  machine.dispose(); // its arrays go to the next run's machine (a third of the fuzz's time was making them)
  return result;
}

/** What a run ended as: its outcome, the machine's state, and any host failure. */
export function resultOf(machine: Machine, outcome: string, detail = '', hostFailure: string | null = null): RunResult {
  hostFailure ??= writeOutsideGuest(machine);
  const skip = outcome === 'debug' ? `a REP string instruction ran past ${LONG_REP_CHUNKS} chunks` : '';
  const pv = machine.vcpu?.pv;
  const pvRule = pv && pv.refusedInstructions + pv.refusedWrites > 0 ? (pv.refusedInstructions > 0 ? pv.lastRefusedInstruction : 'a write to a pinned page table with paging off') : '';
  return { outcome, instructions: machine.cpu.instructions, state: guestState(machine), ram: ramDigest(machine), hostFailure, detail, skip, pvRule };
}

/** Zeros to compare host memory with (memcmp through Buffer.compare: a loop in JavaScript cost a third of the fuzz's time). */
let zeros = new Uint8Array(4096);
const isZero = (bytes: Uint8Array) => {
  if (zeros.length < bytes.length) zeros = new Uint8Array(bytes.length);
  return Buffer.compare(bytes, zeros.subarray(0, bytes.length)) === 0;
};

/**
 * Host frames are handed out in order: every byte past the frames handed out must still be zero,
 * and so must every frame given back (a shadow table evicted) and not taken again — a write there
 * would be the VMM using a table it freed.
 */
function writeOutsideGuest(m: Machine): string | null {
  const { hostMemory, host } = m.phys;
  const used = hostMemory.handedOutBytes;
  const rest = host.subarray(used);
  if (!isZero(rest)) return `a write reached host memory outside the guest (host byte ${used + rest.findIndex((b) => b !== 0)})`;
  for (const hpa of hostMemory.idleFrames) {
    const frame = host.subarray(hpa, hpa + 4096);
    if (!isZero(frame)) return `a write reached a host frame the VMM had freed (host byte ${hpa + frame.findIndex((b) => b !== 0)})`;
  }
  return null;
}

/**
 * A digest of guest RAM: each page that is not all zeros, with its address, from the host frame
 * behind it (RAM's HVA is its GPA; a page never touched has no frame and reads zero).
 */
function ramDigest(m: Machine): string {
  const hash = createHash('sha256');
  const { hostMemory, host } = m.phys;
  const address = new Uint32Array(1);
  for (let page = 0; page < m.config.memoryBytes; page += 4096) {
    const frame = hostMemory.frameOf(page);
    if (frame === NO_FRAME) continue;
    const bytes = host.subarray(frame, frame + 4096);
    if (isZero(bytes)) continue;
    address[0] = page;
    hash.update(address);
    hash.update(bytes);
  }
  // The BIOS ROM as the guest reads it below 4 GiB: no write may have reached it.
  if (m.config.bios) hash.update(m.phys.dump(-0x10000, 0x10000));
  return hash.digest('hex');
}

/** The architectural state as the guest sees it (the equivalence test's notion, test/vmm/equivalence.test.ts). */
function guestState(m: Machine): number[] {
  const st = m.cpu.st;
  const state = [...st.subarray(0, S_EIP + 1), ...st.subarray(S_SEG_SEL, S_A20_MASK + 1), getEflags(st)];
  const vcpu = m.vcpu;
  if (vcpu !== null) {
    state[S_EIP + 1 + (S_CR0 - S_SEG_SEL)] = vcpu.guestControlRegister(0) | 0;
    state[S_EIP + 1 + (S_CR3 - S_SEG_SEL)] = vcpu.guestControlRegister(3) | 0;
    state[S_EIP + 1 + (S_CR4 - S_SEG_SEL)] = vcpu.guestControlRegister(4) | 0;
  }
  return state;
}

/** What differs between two results, in a few words ('' when nothing does). */
export function difference(a: RunResult, b: RunResult): string {
  const parts: string[] = [];
  if (a.outcome !== b.outcome) parts.push(`outcome ${a.outcome} vs ${b.outcome}`);
  if (a.instructions !== b.instructions) parts.push(`instructions ${a.instructions} vs ${b.instructions}`);
  const slots = a.state.map((v, i) => (v !== b.state[i] ? i : -1)).filter((i) => i >= 0);
  if (slots.length > 0) parts.push(`state slots ${slots.slice(0, 6).join(',')}`);
  if (a.ram !== b.ram) parts.push('RAM');
  return parts.join('; ');
}

export interface GuestVerdict {
  seed: number;
  kind: GuestKind;
  instructions: number;
  outcome: string;
  /** Runs made: the reference and each mode that applies to this kind of guest. */
  runs: number;
  hostFailures: string[];
  /** Modes whose run differs from the reference, with what differs. */
  divergences: { mode: RunMode; what: string }[];
  /** Why the guest was not compared ('' when it was). */
  skipped: string;
  /** Runs under pv that differ from bare where a documented pv rule applies: the rule. */
  pvRules: string[];
  /** Shadow-paging runs that differ from the reference only as a stale TLB entry makes them (see COHERENT_TLB_REFERENCE). */
  staleTlb: number;
}

/** Runs one guest in the reference and every mode, and says where they differ. */
export function checkGuest(seed: number, modes: readonly RunMode[] = MODES): GuestVerdict {
  const guest = fuzzGuest(seed);
  const reference = runGuest(guest, REFERENCE);
  const verdict: GuestVerdict = { seed, kind: guest.kind, instructions: reference.instructions, outcome: reference.outcome, runs: 1, hostFailures: [], divergences: [], skipped: reference.skip, pvRules: [], staleTlb: 0 };
  let coherent: RunResult | null = null;
  if (reference.hostFailure) verdict.hostFailures.push(`${modeName(REFERENCE)}: ${reference.hostFailure}`);
  for (const mode of modes) {
    // A paravirtual guest loads CR3 only by hypercall (docs/hypercalls.md): paged guests are not for pv.
    if (mode.mode === 'pv' && guest.kind === 'paged') continue;
    const result = runGuest(guest, mode);
    verdict.runs++;
    if (result.hostFailure) verdict.hostFailures.push(`${modeName(mode)}: ${result.hostFailure}`);
    verdict.skipped ||= result.skip;
    const what = difference(reference, result);
    if (what && mode.mode === 'shadow') coherent ??= runGuest(guest, COHERENT_TLB_REFERENCE);
    if (what && result.pvRule) verdict.pvRules.push(result.pvRule);
    else if (what && mode.mode === 'shadow' && coherent !== null && difference(coherent, result) === '' && difference(coherent, reference) !== '') verdict.staleTlb++;
    else if (what) verdict.divergences.push({ mode, what });
  }
  if (verdict.skipped) verdict.divergences = [];
  return verdict;
}

/**
 * The first instruction after which `mode` and the reference differ: the smallest budget N at
 * which the two machines differ, found by bisection (it needs the budget to be exact in every
 * mode), and the instruction the reference ran as its Nth, disassembled.
 */
export function firstDivergence(seed: number, mode: RunMode): string {
  const guest = fuzzGuest(seed);
  const differs = (n: number) => difference(runGuest(guest, REFERENCE, n), runGuest(guest, mode, n)) !== '';
  let low = 0; // same after `low`
  let high = guest.budget; // differs after `high`
  if (!differs(high)) return 'the runs differ only when run whole (the budget is not exact?)';
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (differs(mid)) high = mid;
    else low = mid;
  }
  const machine = guest.build(REFERENCE);
  machine.run(low);
  const where = describeNextInstruction(machine);
  const a = runGuest(guest, REFERENCE, high);
  const b = runGuest(guest, mode, high);
  return `after ${low} instructions, at ${where}: ${difference(a, b)} (${a.outcome}${a.detail ? `: ${a.detail}` : ''} vs ${b.outcome}${b.detail ? `: ${b.detail}` : ''})`;
}

function describeNextInstruction(m: Machine): string {
  const cpu = m.cpu;
  const linear = (cpu.st[S_SEG_BASE + CS] + cpu.st[S_EIP]) | 0;
  const bytes: number[] = [];
  for (let i = 0; i < 15; i++) {
    const b = cpu.peekLinear8((linear + i) | 0);
    if (b < 0) break;
    bytes.push(b);
  }
  const bits = cpu.st[S_CODE32] ? 32 : 16;
  const text = bytes.length === 0 ? '(unmapped)' : (disassemble(Uint8Array.from(bytes), { bits, org: cpu.st[S_EIP] >>> 0 })[0]?.text ?? '?');
  return `${cpu.location()} ${text}`;
}
