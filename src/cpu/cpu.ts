/**
 * The CPU: architectural state, memory access through segmentation and the TLB, and
 * instruction fetch. The run loop lives in run-loop.ts, decoding in decoder.ts, instruction
 * semantics in ops/, the opcode table in opcode-table.ts, interrupt delivery in interrupts.ts.
 *
 * Hot-path rules (DESIGN.md §9): no allocation per instruction, guest exceptions are thrown as
 * one preallocated sentinel (they are rare next to instructions), all state is int32 in `st`.
 */
import { snapshotRules } from './state-graph.ts';
import { getEflags } from './flags.ts';
import { IoBus } from './io-bus.ts';
import { PAGE_MMIO, PAGE_RAM, PAGE_ROM, PAGE_UNMAPPED, PhysicalMemory, hex } from './physical-memory.ts';
import { ExitReason, type SensitiveInterceptor } from './sensitive.ts';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, PAGE_APIC_ACCESS, type GuestPhysicalTranslator } from './guest-physical.ts';
import {
  ATTR_DB, ATTR_REAL_MODE_CODE, ATTR_REAL_MODE_DATA, CS, DS, ES, FS, GS, GP, LDTR, SS, SS_, STATE_SIZE, TR,
  S_A20_MASK, S_CODE32, S_CR0, S_EFLAGS, S_EIP, S_FETCH_DELTA, S_FETCH_LO, S_FETCH_SPAN, S_INSN_EIP,
  S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_LOW, S_SEG_SEL, S_SEG_RHIGH, S_SEG_RLOW, S_SEG_WHIGH, S_SEG_WLOW, S_STACK32, S_IDTR_LIMIT, S_FLAT_SEGMENTS,
  S_GDTR_LIMIT, CR0_ET, CR0_PE, CR0_PG, CR0_WP, ATTR_S, ATTR_CODE, ATTR_WRITABLE, S_CPL, S_CR4, VM, AC, AC_, CR0_AM,
  DB, RF, S_CR2, CR4_PGE, TF, IF, CPU_SIGNATURE,
} from './state.ts';
import { walk } from './paging.ts';
import { DR6, dataBreakpoints, instructionBreakpoints, watchesData, watchesExecution } from './debug.ts';
import type { InterruptController } from './interrupts.ts';
import { BlockCache, type BlockCompiler } from './block-cache.ts';
import type { DebugHook } from './debug-hook.ts';
import { FaultChain } from './fault-chain.ts';
import { Insn } from './insn.ts';
import { runCpu } from './run-loop.ts';
import { recycle, zeroedInt32Array, zeroedUint8Array } from './recycled-buffers.ts';

/** Whether the host stores a dword's low byte first (Cpu.mem32 reads guest dwords in the host's order). */
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * TLB entry bits (the rest of an entry is the page's host offset): what a supervisor and what
 * user code may do with the page. Write bits are only granted once the page is dirty, so that
 * the first write walks the tables and sets the dirty bit.
 */
export const TLB_READ = 1;
export const TLB_WRITE = 2;
export const TLB_USER_READ = 4;
export const TLB_USER_WRITE = 8;
/**
 * The translation allows a supervisor / user write, but the fast path is closed to it (the page
 * holds decoded code, or a table a snooping TLB watches): the slow path writes through the entry
 * as it is, without walking again, as a TLB that holds the translation would.
 */
export const TLB_WRITE_KEPT = 16;
export const TLB_USER_WRITE_KEPT = 32;
/** Every right an entry can give (a device's entry holds them shifted by TLB_MMIO_SHIFT). */
export const TLB_ALL = TLB_READ | TLB_WRITE | TLB_USER_READ | TLB_USER_WRITE;
/**
 * A device's page (MMIO on the bare machine, a VMM's APIC-access page) is cached too, with its
 * rights shifted out of the fast path's way: every access takes the slow path, which goes to the
 * device without walking the page tables again. The entry's address is then physical (the
 * page's, not a host frame), and TLB_APIC says the translator's APIC-access page.
 */
export const TLB_MMIO_SHIFT = 6;
export const TLB_MMIO_READ = TLB_READ << TLB_MMIO_SHIFT, TLB_MMIO_WRITE = TLB_WRITE << TLB_MMIO_SHIFT;
export const TLB_MMIO_USER_READ = TLB_USER_READ << TLB_MMIO_SHIFT, TLB_MMIO_USER_WRITE = TLB_USER_WRITE << TLB_MMIO_SHIFT;
export const TLB_APIC = 1 << 10;

/** An entry with its fast write bits turned into TLB_*_WRITE_KEPT. */
function closeFastWrites(entry: number): number {
  return (entry & ~(TLB_WRITE | TLB_USER_WRITE)) | (entry & TLB_WRITE ? TLB_WRITE_KEPT : 0) | (entry & TLB_USER_WRITE ? TLB_USER_WRITE_KEPT : 0);
}

/** The other way: TLB_*_WRITE_KEPT back into fast write bits. */
function openFastWrites(entry: number): number {
  return (entry & ~(TLB_WRITE_KEPT | TLB_USER_WRITE_KEPT)) | (entry & TLB_WRITE_KEPT ? TLB_WRITE : 0) | (entry & TLB_USER_WRITE_KEPT ? TLB_USER_WRITE : 0);
}

/** Why `run` returned. */
export type StopReason =
  | 'budget' // the instruction budget ran out
  | 'halt' // HLT with nothing that can wake the CPU
  | 'idle' // HLT waiting for an interrupt: the machine advances time and runs again
  | 'shutdown' // triple fault
  | 'unmapped-fetch' // execution ran into physical memory with nothing behind it
  | 'vmexit' // a sensitive instruction was intercepted
  | 'vmexit-trap' // a trap-like VM exit (an APIC write): after the instruction, which retired
  | 'request' // something outside the CPU (an exit port) asked it to stop
  | 'debug' // the debugger stopped it (src/debugger, through Cpu.debugHook)
  | 'device' // a device changed its timing: the machine looks at its devices and runs on
  | 'yield'; // spinning on a lock only another processor can free: the rest of its turn passes (noteFailedSpin)

/** Failed tries at a spinlock in a row before a CPU yields its turn (see noteFailedSpin). */
const SPIN_TRIES_BEFORE_YIELD = 8;

/** Thrown (as this one object) when an instruction raises a guest exception. */
export const GUEST_FAULT = Object.freeze({ guestFault: true });

/** Bits of `attention`: reasons to leave the fast path at the next instruction boundary. */
export const ATTN_STOP = 1, ATTN_INTERRUPT = 2, ATTN_SHADOW = 4, ATTN_TRAP = 8;
/** EFLAGS.TF may have changed: decide at the next boundary whether the next instruction traps. */
export const ATTN_RECHECK_TF = 16;
/** HLT executed: the run loop decides whether anything can wake the CPU. */
export const ATTN_HALT = 32;
/** Code under a decoded block was written: leave the block before its next instruction. */
export const ATTN_CODE_WRITTEN = 64;
/** A data breakpoint fired: #DB after this instruction. */
export const ATTN_DEBUG = 128;
/** The debugger (Cpu.debugHook) wants to look at the next instruction boundary: a watchpoint was hit. */
export const ATTN_DEBUGGER = 256;
/** A paging structure the TLB was filled from was written, and the TLB snoops such writes: flush it at the boundary. */
export const ATTN_TABLE_WRITTEN = 512;

export class Cpu {
  /** All architectural state (see state.ts for the layout). */
  readonly st = new Int32Array(STATE_SIZE);
  /** EAX..EDI, sharing `st`'s buffer. */
  readonly reg = new Int32Array(this.st.buffer, 0, 8);
  /** AX..DI: reg16[r * 2]. */
  readonly reg16 = new Uint16Array(this.st.buffer, 0, 16);
  /** AL..BH are reg8[REG8_INDEX[r]]. */
  readonly reg8 = new Uint8Array(this.st.buffer, 0, 32);

  readonly mem: Uint8Array;
  readonly memView: DataView;
  /**
   * The same bytes as dwords, for aligned 32-bit accesses on the hot paths: a typed array's
   * element is fast in every tier of V8, where a DataView's getInt32 is slow until the top tier
   * optimizes its caller (Chromium's Maglev ran the MEMOP loop at a third of Node's speed).
   * A little-endian host is assumed, and checked as the CPU is made.
   */
  readonly mem32: Int32Array;
  /** Linear page → host offset | TLB_* permission bits; 0 when not cached. */
  readonly tlb = zeroedInt32Array(1 << 20);
  /** Pages cached from global page-table entries (CR4.PGE): a CR3 load keeps them. */
  private readonly tlbGlobal = zeroedUint8Array(1 << 20);
  /**
   * The TLB bits an access at the current privilege needs: supervisor or user; 0 while every
   * access must take the slow path (alignment checks or data breakpoints armed). (Read by the run
   * loop and the interpreter's memory forms.)
   */
  readBit = TLB_READ;
  writeBit = TLB_WRITE;
  /** CPL 3: accesses are checked as user accesses. */
  private userMode = false;
  /** #AC armed: CR0.AM, EFLAGS.AC, CPL 3. Checked on the slow path. */
  private alignmentChecks = false;
  /** Data breakpoints armed in DR7. Checked on the slow path. */
  private dataWatch = false;
  /** Instruction breakpoints armed in DR7: instructions are single-stepped and checked (by the run loop). */
  codeWatch = false;
  /** B0-B3 bits of data breakpoints hit by the current instruction: #DB after it (the run loop delivers it). */
  dataBreakHits = 0;
  /** Pages with a TLB entry, so that a flush touches only those. */
  private readonly tlbFilled = new Int32Array(4096);
  private tlbFilledCount = 0;

  /** Non-zero when the run loop must look at something before the next instruction. */
  attention = 0;
  stopReason: StopReason | null = null;
  /** Text describing the stop, for reports ("triple fault: ...", "HLT with interrupts disabled"). */
  stopDetail = '';
  /** True while halted, waiting for an interrupt. */
  halted = false;
  /**
   * Instructions retired since reset, updated after each chunk of the run loop, and the virtual
   * time spent halted counted as instructions too: this is the CPU's clock (virtual time).
   */
  instructions = 0;
  /** Of `instructions`, those that were time passing while the CPU was halted or gave up its turn, not instructions run. */
  idleInstructions = 0;
  /** Instructions retired so far in the current chunk (see `retired`); compiled blocks set it too. */
  retiredInChunk = 0;
  /**
   * The translation cache (src/jit), when the machine installs it: compiles a decoded block to
   * a JavaScript function once it has run `compileThreshold` times. Null: the interpreter alone.
   */
  compiler: BlockCompiler | null = null;
  /**
   * Runs of a decoded block before it is compiled. Compiling costs about 26 µs a block
   * (measured over the toy kernel's blocks, 2.8 instructions on average) and V8 optimizes a
   * function only after it has run a while, so code run a few times (most of a BIOS) stays with
   * the interpreter; a loop body reaches 64 in microseconds.
   */
  compileThreshold = 64;
  /** Set by a compiled block that stopped after an instruction before its last (see src/jit/translation-cache.ts). */
  compiledEarlyStop = false;
  /** Where a fault left a compiled block: the instruction's index, and the instructions retired before its iteration. */
  compiledFaultIndex = 0;
  compiledFaultRetired = 0;
  /** And, from a region (src/jit/region.ts), the block it was in: its instructions and EIP. */
  compiledFaultInsns: readonly Insn[] | null = null;
  compiledFaultBase = 0;

  /** Instructions retired up to the current one: the time-stamp counter (virtual time). */
  get retired(): number {
    return this.instructions + this.retiredInChunk;
  }

  /** The VMM's hook for sensitive instructions; null in root mode. */
  interceptor: SensitiveInterceptor | null = null;
  /** The debugger's hook (src/debugger); null when none is attached, which costs the run loop one check per block. */
  debugHook: DebugHook | null = null;
  /** The events of the last delivery, each exception it raised included: why a guest shut down. */
  readonly faultChain = new FaultChain();
  /** The state when the current delivery chain began, while a debugger may undo it (see deliverPendingEvent). */
  private readonly chainStartState = new Int32Array(STATE_SIZE);
  private chainStartHalted = false;
  /** MOV to CR3 and task switches so far (a VMM that emulates a guest's CR3 load counts it too): for the debugger's `catch cr3`. */
  cr3Loads = 0;
  /** Executions of a REP string instruction that stopped after a chunk, not yet retired: progress a debugger's step sees. */
  partialRuns = 0;
  /** Iterations a REP string instruction runs per execution before it restarts itself (a power of two: 1 while a debugger steps or watches). */
  repChunk = 4096;
  /** The instruction the single-step path decoded and is executing (null while it decodes): what a VM exit part-way interrupted. */
  decodedInsn: Insn | null = null;
  /**
   * An instruction that stopped part-way and resumes as it was decoded: a REP string instruction
   * at the end of a chunk, or any instruction a VM exit interrupted after its decoding. Hardware
   * fetches an instruction once: one that changes its own bytes (a REP that overwrites itself, a
   * write whose page walk sets a dirty bit in the page table the instruction lies in) goes on as
   * it began, however its work is split into chunks and exits. Only an event delivered in
   * between (interrupts.ts) makes the return to it fetch it again. The next instruction run
   * either is this one (decoder.ts, step) or forgets it.
   */
  resumeInsn: Insn | null = null;
  /** The linear address of resumeInsn's first byte, and the code size it was decoded in. */
  resumeAt = 0;
  resumeCode32 = 0;
  private readonly resumeCopy = new Insn();

  /** Keeps `d`, which starts at CS:INSN_EIP, to resume without fetching it again (see resumeInsn). */
  holdInsn(d: Insn): void {
    this.resumeInsn = d === this.resumeCopy ? d : Object.assign(this.resumeCopy, d);
    this.resumeAt = (this.st[S_SEG_BASE + CS] + this.st[S_INSN_EIP]) | 0;
    this.resumeCode32 = this.st[S_CODE32];
  }

  /** Whether the next instruction is resumeInsn, resumed as decoded (see resumeInsn). */
  resumesHere(): boolean {
    const st = this.st;
    return this.resumeInsn !== null && ((st[S_SEG_BASE + CS] + st[S_EIP]) | 0) === this.resumeAt && st[S_CODE32] === this.resumeCode32;
  }
  /** The run loop's: the chunk it runs starts on the instruction an interrupt shadow shields (see runChunk's debugger stop). */
  shadowedBoundary = false;
  /** The VMM's guest-physical translation (EPT); null on the bare machine. */
  guestPhysical: GuestPhysicalTranslator | null = null;
  /**
   * True while the page tables the CPU walks are a VMM's shadow tables, in host-physical memory:
   * the A20 gate then does not apply to the walk (it masks guest addresses, not host ones).
   */
  hostPaging = false;
  /** CR2 before the last #PF wrote it: a #PF that exits to a VMM must leave CR2 alone. */
  cr2BeforeFault = 0;
  /** The page entry the last TLB fill found (host frame | kind), for the slow path that follows it. */
  private lastFillEntry = PAGE_UNMAPPED;
  /** The TLB_* rights the last fill found the page to give, cached or not (a page a debugger watches is not). */
  private lastFillAllowed = 0;
  /** Where maskable interrupts come from (the PIC); null when there is none. */
  interruptController: InterruptController | null = null;

  /** Decoded instructions, so that code run again is not decoded again. */
  readonly blocks = new BlockCache();
  /** False: decode every instruction every time (the reference the cache is tested against). */
  useDecodedBlocks = true;
  /**
   * Bumped whenever the same EIP may lead to different bytes (a TLB flush, a new CS base or
   * code size): chained blocks are only followed within one generation.
   */
  translationGeneration = 0;

  /** The exception being raised by the current instruction. */
  pendingVector = -1;
  pendingErrorCode = -1;
  /** Model-specific registers that are plain storage (key: MSR number). */
  readonly msrs = new Map<number, bigint>();
  /** The local APIC ID (CPUID leaf 1 reports it in EBX[31:24]). */
  apicId = 0;
  /**
   * The CPUs that share this one's memory (a multiprocessor machine's; see joinCluster), itself
   * included, and this CPU's bit in the memory's `codePages`: a page holds decoded code of each
   * CPU whose bit is set, and a write to it must reach each of their block caches.
   */
  private cluster: Cpu[] = [this];
  codeBit = 1;

  /**
   * Set when processors take turns (a machine with several): a CPU that keeps failing to take a
   * spinlock with interrupts off yields the rest of its turn. Nothing can free the lock before
   * another processor runs — no other runs during its turn, and no interrupt can come — so
   * spinning on would only repeat the same instructions: its turn's time passes as it would
   * have (as KVM's pause-loop exiting yields a spinning vCPU): the run is faster, as deterministic.
   */
  yieldsOnSpin = false;
  /** Turns given up so (for --stats). */
  spinYields = 0;
  private failedSpins = 0;

  /** A locked exchange with memory that changed nothing (the lock was taken), with interrupts off. */
  noteFailedSpin(): void {
    // Tries in a row (a successful exchange starts the count again): a function of the
    // instructions alone, so every mode yields at the same one.
    if (++this.failedSpins >= SPIN_TRIES_BEFORE_YIELD) {
      this.failedSpins = 0;
      this.spinYields++;
      this.stop('yield');
    }
  }

  /** An exchange with memory that changed the lock: whoever spun on it has it now. */
  noteTakenLock(): void {
    this.failedSpins = 0;
  }

  constructor(
    readonly phys: PhysicalMemory,
    readonly io: IoBus = new IoBus(),
  ) {
    this.mem = phys.host;
    this.memView = phys.hostView;
    if (!LITTLE_ENDIAN_HOST) throw new Error('minivisor needs a little-endian host (x86, ARM): its guest memory is read as little-endian dwords');
    this.mem32 = new Int32Array(phys.host.buffer, phys.host.byteOffset, phys.host.length >> 2);
    phys.onMappingChange = () => this.flushTlb();
    phys.onCodeWrite = (hostPage) => this.codeWritten(hostPage);
    this.reset();
  }

  /**
   * Makes `cpus` (this one among them) the processors of one machine: a change of the memory's
   * mappings flushes every TLB, and a write to a page any of them decoded code from drops that
   * code in each (every CPU closes its fast writes to a code page, whoever decoded it).
   */
  static joinCluster(cpus: Cpu[]): void {
    if (cpus.length > 8) throw new RangeError('at most 8 CPUs share a memory (one bit each in codePages)');
    const phys = cpus[0].phys;
    cpus.forEach((cpu, i) => {
      cpu.cluster = cpus;
      cpu.codeBit = 1 << i;
    });
    phys.onMappingChange = () => {
      for (const cpu of cpus) cpu.flushTlb();
    };
    phys.onCodeWrite = (hostPage) => {
      const owners = phys.codePages[hostPage];
      for (const cpu of cpus) if (owners & cpu.codeBit) cpu.codeWritten(hostPage);
    };
  }

  /** Hands the TLB's arrays to the next CPU made (Machine.dispose): this one must not run again. */
  releaseBuffers(): void {
    recycle(this.tlb, this.tlbGlobal);
  }

  /** The state after RESET: real mode, CS:IP = F000:FFF0 with CS base FFFF0000 (the top-of-4-GiB alias). */
  reset(): void {
    this.st.fill(0);
    this.st[S_EFLAGS] = 2;
    this.st[S_CR0] = CR0_ET;
    this.st[S_A20_MASK] = -1;
    this.st[S_GDTR_LIMIT] = 0xffff;
    this.st[S_IDTR_LIMIT] = 0x3ff;
    for (const seg of [ES, CS, SS, DS, FS, GS]) this.setRealModeSegment(seg, 0, seg === CS ? ATTR_REAL_MODE_CODE : ATTR_REAL_MODE_DATA);
    this.setSegmentCache(CS, 0xf000, 0xffff0000 | 0, 0, 0xffff, ATTR_REAL_MODE_CODE);
    this.setSegmentCache(LDTR, 0, 0, 0, 0xffff, 0x82);
    this.setSegmentCache(TR, 0, 0, 0, 0xffff, 0x8b);
    this.st[S_EIP] = 0xfff0;
    this.reg[2] = CPU_SIGNATURE; // EDX at reset
    this.setCpl(0);
    this.attention = 0;
    this.stopReason = null;
    this.halted = false;
    this.resumeInsn = null;
    this.decodedInsn = null;
    this.flushTlb();
  }

  // ---------------------------------------------------------------- segments (caches only)

  /** Loads a segment register the way real mode does: selector and base; limit and attributes stay. */
  setRealModeSegment(seg: number, selector: number, attrIfFresh?: number): void {
    const st = this.st;
    const attr = attrIfFresh ?? st[S_SEG_ATTR + seg];
    const low = attrIfFresh === undefined ? st[S_SEG_LOW + seg] : 0;
    const high = attrIfFresh === undefined ? st[S_SEG_HIGH + seg] : 0xffff;
    this.setSegmentCache(seg, selector & 0xffff, (selector & 0xffff) << 4, low, high, attr);
  }

  /**
   * Fills a segment register's hidden cache. `low`/`high` are the lowest and highest valid
   * offsets (expand-down segments have low > 0). Writes are allowed when the attributes say
   * writable data (or always, in real mode with a real-mode data cache).
   */
  setSegmentCache(seg: number, selector: number, base: number, low: number, high: number, attr: number): void {
    const st = this.st;
    st[S_SEG_SEL + seg] = selector;
    st[S_SEG_BASE + seg] = base;
    st[S_SEG_LOW + seg] = low;
    st[S_SEG_HIGH + seg] = high;
    st[S_SEG_ATTR + seg] = attr;
    this.updateAccessRanges(seg);
    if (seg === CS) {
      st[S_CODE32] = attr & ATTR_DB ? 1 : 0;
      st[S_FETCH_SPAN] = -1;
      this.translationGeneration++;
    } else if (seg === SS) {
      st[S_STACK32] = attr & ATTR_DB ? 1 : 0;
    }
  }

  /**
   * Derives the readable and writable offset ranges of a segment from its cache. In protected
   * mode only writable data segments may be written, and execute-only code may not be read
   * (its R bit, the same bit as a data segment's W); in real mode every segment may be both.
   */
  updateAccessRanges(seg: number): void {
    const st = this.st;
    const attr = st[S_SEG_ATTR + seg];
    const code = (attr & ATTR_CODE) !== 0;
    const writableData = (attr & (ATTR_S | ATTR_CODE)) === ATTR_S && (attr & ATTR_WRITABLE) !== 0;
    const executeOnly = code && (attr & ATTR_S) !== 0 && (attr & ATTR_WRITABLE) === 0;
    // Real mode and virtual-8086 mode check limits but not types.
    const realStyle = (st[S_CR0] & CR0_PE) === 0 || (st[S_EFLAGS] & VM) !== 0;
    const usable = st[S_SEG_LOW + seg] !== -1;
    const writable = writableData || (realStyle && usable);
    const readable = !executeOnly || realStyle;
    st[S_SEG_WLOW + seg] = writable ? st[S_SEG_LOW + seg] : -1;
    st[S_SEG_WHIGH + seg] = writable ? st[S_SEG_HIGH + seg] : 0;
    st[S_SEG_RLOW + seg] = readable ? st[S_SEG_LOW + seg] : -1;
    st[S_SEG_RHIGH + seg] = readable ? st[S_SEG_HIGH + seg] : 0;
    const flat = st[S_SEG_BASE + seg] === 0 && st[S_SEG_LOW + seg] === 0 && st[S_SEG_HIGH + seg] === -1 && writable && readable;
    st[S_FLAT_SEGMENTS] = flat ? st[S_FLAT_SEGMENTS] | (1 << seg) : st[S_FLAT_SEGMENTS] & ~(1 << seg);
  }

  /** Marks a segment register unusable (a null selector in protected mode): every access faults. */
  setNullSegment(seg: number, selector: number): void {
    this.setSegmentCache(seg, selector, 0, -1, 0, 0);
  }

  // ---------------------------------------------------------------- faults

  /** Raises guest exception `vector` (with `errorCode` >= 0 when it has one) and abandons the instruction. */
  fault(vector: number, errorCode = -1): never {
    this.pendingVector = vector;
    this.pendingErrorCode = errorCode;
    throw GUEST_FAULT;
  }

  /** A segment limit or type violation: #SS(0) for the stack segment, #GP(0) otherwise. */
  segmentFault(seg: number, offset: number, bytes: number): never {
    this.lastSegmentFault.seg = seg;
    this.lastSegmentFault.offset = offset >>> 0;
    this.lastSegmentFault.bytes = bytes;
    return this.fault(seg === SS ? SS_ : GP, 0);
  }
  /** The last segment-limit fault, for reports and tests (written on the fault path only). */
  readonly lastSegmentFault = { seg: -1, offset: 0, bytes: 0 };

  // ---------------------------------------------------------------- segmented memory access

  read8(seg: number, offset: number): number {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_RLOW + seg] >>> 0 || o > st[S_SEG_RHIGH + seg] >>> 0) this.segmentFault(seg, offset, 1);
    return this.readLin8((st[S_SEG_BASE + seg] + offset) | 0);
  }
  read16(seg: number, offset: number): number {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_RLOW + seg] >>> 0 || o + 1 > st[S_SEG_RHIGH + seg] >>> 0) this.segmentFault(seg, offset, 2);
    return this.readLin16((st[S_SEG_BASE + seg] + offset) | 0);
  }
  read32(seg: number, offset: number): number {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_RLOW + seg] >>> 0 || o + 3 > st[S_SEG_RHIGH + seg] >>> 0) this.segmentFault(seg, offset, 4);
    return this.readLin32((st[S_SEG_BASE + seg] + offset) | 0);
  }
  write8(seg: number, offset: number, value: number): void {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_WLOW + seg] >>> 0 || o > st[S_SEG_WHIGH + seg] >>> 0) this.segmentFault(seg, offset, 1);
    this.writeLin8((st[S_SEG_BASE + seg] + offset) | 0, value);
  }
  write16(seg: number, offset: number, value: number): void {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_WLOW + seg] >>> 0 || o + 1 > st[S_SEG_WHIGH + seg] >>> 0) this.segmentFault(seg, offset, 2);
    this.writeLin16((st[S_SEG_BASE + seg] + offset) | 0, value);
  }
  write32(seg: number, offset: number, value: number): void {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_WLOW + seg] >>> 0 || o + 3 > st[S_SEG_WHIGH + seg] >>> 0) this.segmentFault(seg, offset, 4);
    this.writeLin32((st[S_SEG_BASE + seg] + offset) | 0, value);
  }
  /** Size-generic forms, for instructions written once for 8/16/32-bit operands. */
  read(seg: number, offset: number, size: number): number {
    return size === 32 ? this.read32(seg, offset) : size === 16 ? this.read16(seg, offset) : this.read8(seg, offset);
  }
  write(seg: number, offset: number, value: number, size: number): void {
    if (size === 32) this.write32(seg, offset, value);
    else if (size === 16) this.write16(seg, offset, value);
    else this.write8(seg, offset, value);
  }
  /**
   * Checks that `size` bits at seg:offset may be written, segment and page, without writing:
   * for instructions whose write must not fault after they changed registers or flags.
   */
  checkWritable(seg: number, offset: number, size: number): void {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[S_SEG_WLOW + seg] >>> 0 || o + (size >> 3) - 1 > st[S_SEG_WHIGH + seg] >>> 0) this.segmentFault(seg, offset, size >> 3);
    if (st[S_CR0] & CR0_PG) this.probeWrite((st[S_SEG_BASE + seg] + offset) | 0, size >> 3);
  }

  /**
   * For a read-modify-write of `size` bits at seg:offset in compiled code: the host address of
   * the operand when one translation serves both accesses at once — inside the segment's write
   * limits (a writable segment is readable), inside one page, and writable in the TLB without
   * the slow path (which pages holding decoded code, watched pages and alignment checks take) —
   * else -1, and the caller checks, reads and writes as the interpreter does.
   */
  hostForUpdate(flat: number, seg: number, offset: number, size: number): number {
    const st = this.st;
    const bytes = size >> 3;
    const o = offset >>> 0;
    // (A flat segment needs no check: an access that wraps past 4 GiB crosses a page, below.)
    if ((flat & (1 << seg)) === 0 && (o < st[S_SEG_WLOW + seg] >>> 0 || o + bytes - 1 > st[S_SEG_WHIGH + seg] >>> 0)) return -1;
    const lin = (st[S_SEG_BASE + seg] + offset) | 0;
    const e = this.tlb[lin >>> 12];
    if ((e & this.writeBit) === 0 || (lin & 4095) > 4096 - bytes) return -1;
    return (e & -4096) | (lin & 4095);
  }
  /**
   * The host address of `bytes` bytes at seg:offset when the TLB serves them all at once — inside
   * the segment's limits for the access, inside one page, allowed without the slow path (which
   * pages holding decoded code, watched pages and alignment checks take) — else -1: for a REP
   * string instruction that moves a page's worth of elements in one step.
   */
  hostRange(seg: number, offset: number, bytes: number, write: boolean): number {
    const st = this.st;
    const o = offset >>> 0;
    if (o < st[(write ? S_SEG_WLOW : S_SEG_RLOW) + seg] >>> 0 || o + bytes - 1 > st[(write ? S_SEG_WHIGH : S_SEG_RHIGH) + seg] >>> 0) return -1;
    const lin = (st[S_SEG_BASE + seg] + offset) | 0;
    if ((lin & 4095) + bytes > 4096) return -1;
    const e = this.tlb[lin >>> 12];
    if ((e & (write ? this.writeBit : this.readBit)) === 0) return -1;
    return (e & -4096) | (lin & 4095);
  }
  /**
   * Data accesses for compiled code, which passes `flat` (S_FLAT_SEGMENTS as the block last read
   * it): in a flat segment, an access inside one page is a linear access at the offset, without
   * the segment's checks (they cannot fail; one that crosses a page may wrap past 4 GiB, and is
   * checked); anything else as read() and write().
   */
  readSeg(flat: number, seg: number, offset: number, size: number): number {
    if ((flat & (1 << seg)) !== 0 && (offset & 4095) <= 4096 - (size >> 3)) {
      return size === 32 ? this.readLin32(offset) : size === 16 ? this.readLin16(offset) : this.readLin8(offset);
    }
    return this.read(seg, offset, size);
  }
  writeSeg(flat: number, seg: number, offset: number, value: number, size: number): void {
    if ((flat & (1 << seg)) !== 0 && (offset & 4095) <= 4096 - (size >> 3)) {
      if (size === 32) this.writeLin32(offset, value);
      else if (size === 16) this.writeLin16(offset, value);
      else this.writeLin8(offset, value);
      return;
    }
    this.write(seg, offset, value, size);
  }

  /** The read of a read-modify-write the TLB could not serve at once: the write is checked first (readEForUpdate's order). */
  readForUpdate(seg: number, offset: number, size: number): number {
    this.checkWritable(seg, offset, size);
    return this.read(seg, offset, size);
  }

  /** `size` bits of host memory at `at` (from hostForUpdate). */
  hostRead(at: number, size: number): number {
    if (size === 32) return (at & 3) === 0 ? this.mem32[at >> 2] : this.memView.getInt32(at, true);
    return size === 16 ? this.mem[at] | (this.mem[at + 1] << 8) : this.mem[at];
  }
  hostWrite(at: number, size: number, value: number): void {
    if (size === 32) {
      if ((at & 3) === 0) this.mem32[at >> 2] = value;
      else this.memView.setInt32(at, value, true);
    } else {
      this.mem[at] = value;
      if (size === 16) this.mem[at + 1] = value >> 8;
    }
  }

  /**
   * Meets now whatever an access of `size` bits at seg:offset will meet — a segment fault, a page
   * fault, a VM exit (an EPT violation, a shadow miss, MMIO) — without reading or writing: for an
   * instruction or an event delivery that writes memory and then reads or writes more. A VM exit
   * part-way restarts it from the beginning, which must find memory as it was: so each of its
   * accesses is prepared, in order, before the first write. (The bare machine never restarts
   * one; a fault in the guest is delivered after the state is undone either way.)
   */
  prepareAccess(seg: number, offset: number, size: number, write: boolean): void {
    const st = this.st;
    const o = offset >>> 0;
    const bytes = size >> 3;
    const low = st[(write ? S_SEG_WLOW : S_SEG_RLOW) + seg] >>> 0;
    const high = st[(write ? S_SEG_WHIGH : S_SEG_RHIGH) + seg] >>> 0;
    if (o < low || o + bytes - 1 > high) this.segmentFault(seg, offset, bytes);
    const lin = (st[S_SEG_BASE + seg] + offset) | 0;
    if (this.alignmentChecks && (lin & (bytes - 1)) !== 0) this.fault(AC_, 0);
    this.preparePages(lin, bytes, write, write ? this.writeBits : this.readBit);
  }

  /** prepareAccess for a write by the CPU itself (a descriptor's accessed bit): supervisor rights, at any CPL. */
  prepareSystemWrite(lin: number, bytes: number): void {
    const userMode = this.userMode;
    this.userMode = false;
    try {
      this.preparePages(lin, bytes, true, TLB_WRITE | TLB_WRITE_KEPT);
    } finally {
      this.userMode = userMode;
    }
  }

  /** Fills the TLB for the pages of an access the entries do not allow yet (`bits`): its #PF or VM exit happens now. */
  private preparePages(lin: number, bytes: number, write: boolean, bits: number): void {
    for (let page = lin >>> 12, last = ((lin + bytes - 1) | 0) >>> 12; ; page = (page + 1) & 0xfffff) {
      if ((this.tlb[page] & bits) === 0) this.tlbFill(page === lin >>> 12 ? lin : page << 12, write);
      if (page === last) break;
    }
  }

  // ---------------------------------------------------------------- linear memory access (TLB)

  readLin8(lin: number): number {
    const e = this.tlb[lin >>> 12];
    if (e & this.readBit) return this.mem[(e & -4096) | (lin & 4095)];
    return this.readSlow(lin, 1);
  }
  readLin16(lin: number): number {
    const e = this.tlb[lin >>> 12];
    if (e & this.readBit && (lin & 4095) !== 4095) {
      const a = (e & -4096) | (lin & 4095);
      return this.mem[a] | (this.mem[a + 1] << 8);
    }
    return this.readSlow(lin, 2);
  }
  readLin32(lin: number): number {
    const e = this.tlb[lin >>> 12];
    // (A frame is page-aligned: the host address is dword-aligned when the linear one is.)
    if (e & this.readBit && (lin & 4095) <= 4092) return (lin & 3) === 0 ? this.mem32[((e & -4096) | (lin & 4095)) >> 2] : this.memView.getInt32((e & -4096) | (lin & 4095), true);
    return this.readSlow(lin, 4);
  }
  writeLin8(lin: number, value: number): void {
    const e = this.tlb[lin >>> 12];
    if (e & this.writeBit) this.mem[(e & -4096) | (lin & 4095)] = value;
    else this.writeSlow(lin, 1, value);
  }
  writeLin16(lin: number, value: number): void {
    const e = this.tlb[lin >>> 12];
    if (e & this.writeBit && (lin & 4095) !== 4095) {
      const a = (e & -4096) | (lin & 4095);
      this.mem[a] = value;
      this.mem[a + 1] = value >> 8;
    } else this.writeSlow(lin, 2, value);
  }
  writeLin32(lin: number, value: number): void {
    const e = this.tlb[lin >>> 12];
    if (e & this.writeBit && (lin & 4095) <= 4092) {
      if ((lin & 3) === 0) this.mem32[((e & -4096) | (lin & 4095)) >> 2] = value;
      else this.memView.setInt32((e & -4096) | (lin & 4095), value, true);
    } else this.writeSlow(lin, 4, value);
  }

  /**
   * A dword of the page tables the CPU walks, at a physical address: guest-physical on the bare
   * machine and under EPT (through the EPT), host-physical for a VMM's shadow tables. The VMM's
   * translator says which frame holds it.
   */
  readTableEntry(gpa: number): number {
    if (this.guestPhysical === null) {
      if (this.snoopedTables !== null) this.snoopTable(gpa);
      return this.phys.read(gpa, 4);
    }
    const entry = this.guestPhysical.pageEntry(gpa, ACCESS_READ, -1, true);
    return (entry & 3) === PAGE_RAM || (entry & 3) === PAGE_ROM ? this.memView.getInt32((entry & -4096) | (gpa & 0xffc), true) : this.phys.read(gpa, 4);
  }
  writeTableEntry(gpa: number, value: number): void {
    if (this.guestPhysical === null) {
      this.phys.write(gpa, 4, value);
      return;
    }
    const entry = this.guestPhysical.pageEntry(gpa, ACCESS_WRITE, -1, true);
    if ((entry & 3) !== PAGE_RAM) {
      this.phys.write(gpa, 4, value);
      return;
    }
    const hostPage = entry >>> 12;
    if (this.phys.codePages[hostPage] !== 0) this.phys.onCodeWrite?.(hostPage);
    this.memView.setInt32((entry & -4096) | (gpa & 0xffc), value, true);
  }

  /**
   * Null on every machine users run. The equivalence fuzz's second reference sets it (see
   * snoopPagingStructureWrites): the host frames of paging structures the TLB was filled from.
   */
  private snoopedTables: Set<number> | null = null;

  /**
   * Makes the TLB forget every translation after an instruction (or a chunk of a REP one) that
   * wrote a paging structure it was filled from, instead of keeping it until INVLPG or a CR3
   * load. The SDM allows both (Vol. 3, 4.10.4: a processor may keep a translation after the
   * entries it came from change); this one is what shadow paging amounts to: a write to a guest
   * table traps, the VMM runs that instruction on the guest's tables and then drops the shadow
   * entries built from what changed. The fuzz runs a guest this way too, to tell a guest that
   * depends on a stale translation from a VMM that is wrong.
   */
  snoopPagingStructureWrites(): void {
    this.snoopedTables = new Set();
    this.flushTlb();
  }

  /** A paging structure at `gpa` is read for a TLB fill: its frame is written on the slow path only from now on. */
  private snoopTable(gpa: number): void {
    const entry = this.phys.backedEntry(gpa);
    if ((entry & 3) !== PAGE_RAM || this.snoopedTables!.has(entry >>> 12)) return;
    this.snoopedTables!.add(entry >>> 12);
    this.closeFastWritesTo(entry >>> 12);
  }

  /** The TLB bits that say a write at the current privilege needs no walk (fast or kept: see TLB_WRITE_KEPT). */
  private get writeBits(): number {
    return this.writeBit | (this.userMode ? TLB_USER_WRITE_KEPT : TLB_WRITE_KEPT);
  }

  /** True when memory accesses are checked as user-mode ones (CPL 3), false for a supervisor. */
  get userAccess(): boolean {
    return this.userMode;
  }

  /** Sets the current privilege level, and with it which TLB permissions accesses need. */
  setCpl(cpl: number): void {
    this.st[S_CPL] = cpl;
    this.updateAccessMasks();
  }

  /**
   * Recomputes what memory accesses check, from the CPL, CR0.AM, EFLAGS.AC and DR7. Call after
   * any of them changes (setCpl, POPF/IRET, MOV CR0, MOV DR7).
   */
  updateAccessMasks(): void {
    const st = this.st;
    const user = st[S_CPL] === 3;
    this.userMode = user;
    this.alignmentChecks = user && (st[S_CR0] & CR0_AM) !== 0 && (st[S_EFLAGS] & AC) !== 0;
    this.dataWatch = watchesData(st);
    this.codeWatch = watchesExecution(st);
    const slow = this.alignmentChecks || this.dataWatch;
    this.readBit = slow ? 0 : user ? TLB_USER_READ : TLB_READ;
    this.writeBit = slow ? 0 : user ? TLB_USER_WRITE : TLB_WRITE;
  }

  /**
   * Caches a linear page in the TLB when it is RAM or ROM, walking the page tables when paging
   * is on (which may raise #PF). Returns the physical address of `lin`.
   */
  private tlbFill(lin: number, write: boolean): number {
    const st = this.st;
    let phys: number;
    let allowed: number;
    let global = false;
    if (st[S_CR0] & CR0_PG) {
      const w = walk(this, lin, write, this.userMode);
      phys = w.physical;
      const supervisorMayWrite = w.writable || (st[S_CR0] & CR0_WP) === 0;
      allowed = TLB_READ | (w.user ? TLB_USER_READ : 0);
      if (w.dirty) allowed |= (supervisorMayWrite ? TLB_WRITE : 0) | (w.writable && w.user ? TLB_USER_WRITE : 0);
      global = w.global && (st[S_CR4] & CR4_PGE) !== 0;
    } else {
      phys = lin & st[S_A20_MASK];
      allowed = TLB_ALL;
    }
    const entry = this.guestPhysical === null ? this.phys.backedEntry(phys) : this.guestPhysical.pageEntry(phys, write ? ACCESS_WRITE : ACCESS_READ, lin, false);
    this.lastFillEntry = entry;
    this.lastFillAllowed = allowed;
    const cached = entry === PAGE_UNMAPPED ? 0 : this.tlbEntryFor(entry, phys, allowed);
    // A page a debugger watches is not cached: every access takes the slow path, where it is told.
    if (cached !== 0 && (this.debugHook === null || !this.debugHook.watchesPage(this, lin))) {
      const page = lin >>> 12;
      if (this.tlb[page] === 0) {
        if (this.tlbFilledCount === this.tlbFilled.length) this.flushTlb();
        this.tlbFilled[this.tlbFilledCount++] = page;
      }
      this.tlb[page] = cached;
      this.tlbGlobal[page] = global ? 1 : 0;
    }
    return phys;
  }

  /**
   * The TLB entry for a page the walk allowed `allowed` on, behind guest-physical `phys` (a
   * page entry of the memory's or the translator's), or 0: not cached. RAM and ROM: the host
   * frame with its rights (ROM takes no writes; a page holding decoded code, or a table a
   * snooping TLB watches, takes them on the slow path only). A device's page (MMIO on the bare
   * machine; under a VMM an MMIO entry comes only while the machine completes an exit, and must
   * not outlive it; or the VMM's APIC-access page): its physical address, rights shifted out of
   * the fast path's way.
   */
  private tlbEntryFor(entry: number, phys: number, allowed: number): number {
    const kind = entry & 3;
    if (kind === PAGE_RAM || kind === PAGE_ROM) {
      if (kind !== PAGE_RAM) allowed &= ~(TLB_WRITE | TLB_USER_WRITE);
      else if (this.phys.codePages[entry >>> 12] !== 0 || (this.snoopedTables !== null && this.snoopedTables.has(entry >>> 12))) allowed = closeFastWrites(allowed);
      return (entry & -4096) | allowed;
    }
    if (kind === PAGE_APIC_ACCESS ? this.guestPhysical !== null : kind === PAGE_MMIO && this.guestPhysical === null) {
      return (phys & -4096) | (allowed << TLB_MMIO_SHIFT) | (kind === PAGE_APIC_ACCESS ? TLB_APIC : 0);
    }
    return 0;
  }

  /**
   * Checks that a write to `bytes` bytes at `lin` would not page-fault, without writing: for
   * read-modify-write instructions, whose write must not fault after their flags changed.
   */
  probeWrite(lin: number, bytes: number): void {
    const first = lin >>> 12;
    for (let page = first, last = ((lin + bytes - 1) | 0) >>> 12; ; page = (page + 1) & 0xfffff) {
      // A #PF reports the address the access faults at: `lin` on its own page, the first byte of the next.
      if ((this.tlb[page] & this.writeBits) === 0 && (this.st[S_CR0] & CR0_PG) !== 0) this.tlbFill(page === first ? lin : page << 12, true);
      if (page === last) break;
    }
  }

  /**
   * A byte at a guest linear address, read with supervisor rights for the VMM or a debugger:
   * -1 when the page is not mapped. Raises nothing in the guest and leaves CR2 as it was.
   */
  peekLinear8(lin: number): number {
    const st = this.st;
    const cr2 = st[S_CR2];
    const cpl = st[S_CPL];
    this.setCpl(0);
    try {
      return this.readLin8(lin);
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      this.pendingVector = -1;
      return -1;
    } finally {
      st[S_CR2] = cr2;
      this.setCpl(cpl);
    }
  }

  /**
   * Writes a byte at a guest linear address with supervisor rights, for the VMM (a hypercall's
   * output): false when the page is not mapped writable. Raises nothing in the guest.
   */
  pokeLinear8(lin: number, value: number): boolean {
    const st = this.st;
    const cr2 = st[S_CR2];
    const cpl = st[S_CPL];
    this.setCpl(0);
    try {
      this.writeLin8(lin, value);
      return true;
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      this.pendingVector = -1;
      return false;
    } finally {
      st[S_CR2] = cr2;
      this.setCpl(cpl);
    }
  }

  // System structures (descriptor tables, the IDT, the TSS) are read and written with
  // supervisor rights whatever the CPL, as the hardware does. A page the TLB holds for a
  // supervisor costs one memory access, with no data breakpoint armed; anything else takes
  // the slow path as a supervisor's access (systemSlow).

  readSystem32(lin: number): number {
    const e = this.tlb[lin >>> 12];
    if (e & TLB_READ && !this.dataWatch && (lin & 4095) <= 4092) return this.memView.getInt32((e & -4096) | (lin & 4095), true);
    return this.systemSlow(lin, 4, false, 0);
  }
  readSystem16(lin: number): number {
    const e = this.tlb[lin >>> 12];
    if (e & TLB_READ && !this.dataWatch && (lin & 4095) !== 4095) {
      const a = (e & -4096) | (lin & 4095);
      return this.mem[a] | (this.mem[a + 1] << 8);
    }
    return this.systemSlow(lin, 2, false, 0);
  }
  writeSystem(lin: number, value: number, size: number): void {
    const e = this.tlb[lin >>> 12];
    const bytes = size === 32 ? 4 : size === 16 ? 2 : 1;
    if (e & TLB_WRITE && !this.dataWatch && (lin & 4095) <= 4096 - bytes) {
      const a = (e & -4096) | (lin & 4095);
      if (bytes === 4) this.memView.setInt32(a, value, true);
      else {
        this.mem[a] = value;
        if (bytes === 2) this.mem[a + 1] = value >> 8;
      }
      return;
    }
    this.systemSlow(lin, bytes, true, value);
  }

  /**
   * A system access the TLB cannot serve at once: made as CPL 0 makes it (supervisor page
   * rights, no alignment check; data breakpoints still watch). The access masks are swapped
   * for a supervisor's and put back as they were, without recomputing them (setCpl scans DR7).
   */
  private systemSlow(lin: number, bytes: 1 | 2 | 4, write: boolean, value: number): number {
    const st = this.st;
    const cpl = st[S_CPL];
    const userMode = this.userMode;
    const alignmentChecks = this.alignmentChecks;
    const readBit = this.readBit;
    const writeBit = this.writeBit;
    st[S_CPL] = 0;
    this.userMode = false;
    this.alignmentChecks = false;
    this.readBit = this.dataWatch ? 0 : TLB_READ;
    this.writeBit = this.dataWatch ? 0 : TLB_WRITE;
    try {
      if (write) {
        if (bytes === 4) this.writeLin32(lin, value);
        else if (bytes === 2) this.writeLin16(lin, value);
        else this.writeLin8(lin, value);
        return 0;
      }
      return bytes === 4 ? this.readLin32(lin) : bytes === 2 ? this.readLin16(lin) : this.readLin8(lin);
    } finally {
      st[S_CPL] = cpl;
      this.userMode = userMode;
      this.alignmentChecks = alignmentChecks;
      this.readBit = readBit;
      this.writeBit = writeBit;
    }
  }

  private readSlow(lin: number, bytes: 1 | 2 | 4): number {
    if (this.alignmentChecks && (lin & (bytes - 1)) !== 0) this.fault(AC_, 0);
    if (this.dataWatch) this.noteDataAccess(lin, bytes, false);
    if (((lin & 4095) + bytes) > 4096) {
      // Crosses a page: byte by byte, each through its own translation.
      let value = 0;
      for (let i = 0; i < bytes; i++) value |= this.readLin8((lin + i) | 0) << (8 * i);
      return value;
    }
    const kept = this.tlb[lin >>> 12];
    if (kept & (this.userMode ? TLB_USER_READ : TLB_READ)) {
      // The TLB holds a translation that allows it (this is the slow path for alignment checks
      // or data breakpoints): no walk, as for writes (TLB_WRITE_KEPT).
      if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, false);
      return this.readFrame(kept, lin, bytes);
    }
    // (Not while a VMM completes an exit: then the APIC page is the machine's MMIO, through pageEntry.)
    if (kept & (this.userMode ? TLB_MMIO_USER_READ : TLB_MMIO_READ) && !(kept & TLB_APIC && this.passIntercepts)) {
      // A device's page the TLB holds: to the device, without a walk.
      if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, false);
      const at = (kept & -4096) | (lin & 4095);
      return kept & TLB_APIC ? this.guestPhysical!.apicAccess(at, bytes, ACCESS_READ, 0, lin) : this.phys.read(at, bytes);
    }
    const phys = this.tlbFill(lin, false);
    // A debugger is told once the access will happen (the walk did not fault, no VM exit to retry it).
    if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, false);
    const entry = this.lastFillEntry;
    const kind = entry & 3;
    if (entry === PAGE_UNMAPPED || kind === PAGE_MMIO) return this.phys.read(phys, bytes);
    if (kind === PAGE_APIC_ACCESS) return this.guestPhysical!.apicAccess(phys, bytes, ACCESS_READ, 0, lin);
    // RAM or ROM: its frame, as the translation found it (host-physical: under a VMM's shadow
    // tables `phys` is already an HPA, which the guest-physical view must not be asked about).
    return this.readFrame(entry, lin, bytes);
  }

  /** A read of RAM or ROM in the host frame of `entry` (a TLB or page entry). */
  private readFrame(entry: number, lin: number, bytes: 1 | 2 | 4): number {
    const at = (entry & -4096) | (lin & 4095);
    return bytes === 1 ? this.mem[at] : bytes === 2 ? this.mem[at] | (this.mem[at + 1] << 8) : this.memView.getInt32(at, true);
  }

  private writeSlow(lin: number, bytes: 1 | 2 | 4, value: number): void {
    if (this.alignmentChecks && (lin & (bytes - 1)) !== 0) this.fault(AC_, 0);
    if (this.dataWatch) this.noteDataAccess(lin, bytes, true);
    if (((lin & 4095) + bytes) > 4096) {
      for (let i = 0; i < bytes; i++) this.writeLin8((lin + i) | 0, value >>> (8 * i));
      return;
    }
    const kept = this.tlb[lin >>> 12];
    if (kept & (this.userMode ? TLB_USER_WRITE_KEPT : TLB_WRITE_KEPT)) {
      // The TLB holds a translation that allows it: no walk (see TLB_WRITE_KEPT).
      if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, true);
      this.writeFrame(kept, lin, bytes, value);
      return;
    }
    if (kept & (this.userMode ? TLB_MMIO_USER_WRITE : TLB_MMIO_WRITE) && !(kept & TLB_APIC && this.passIntercepts)) {
      if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, true);
      const at = (kept & -4096) | (lin & 4095);
      if (kept & TLB_APIC) this.guestPhysical!.apicAccess(at, bytes, ACCESS_WRITE, value, lin);
      else this.phys.write(at, bytes, value);
      return;
    }
    const phys = this.tlbFill(lin, true);
    // A debugger is told once the access will happen, before the bytes change (it keeps the old ones).
    if (this.debugHook !== null) this.debugHook.onAccess(this, lin, bytes, true);
    const entry = this.lastFillEntry;
    const kind = entry & 3;
    if (entry === PAGE_UNMAPPED || kind === PAGE_MMIO) {
      this.phys.write(phys, bytes, value);
      return;
    }
    if (kind === PAGE_APIC_ACCESS) {
      this.guestPhysical!.apicAccess(phys, bytes, ACCESS_WRITE, value, lin);
      return;
    }
    if (kind === PAGE_ROM) return; // ROM takes no writes
    this.writeFrame(entry, lin, bytes, value);
  }

  /** A write to RAM in the host frame of `entry` (a TLB or page entry), telling whoever watches that frame. */
  private writeFrame(entry: number, lin: number, bytes: 1 | 2 | 4, value: number): void {
    const hostPage = entry >>> 12;
    if (this.phys.codePages[hostPage] !== 0) this.phys.onCodeWrite?.(hostPage);
    const at = (entry & -4096) | (lin & 4095);
    if (bytes === 1) this.mem[at] = value;
    else if (bytes === 2) {
      this.mem[at] = value;
      this.mem[at + 1] = value >> 8;
    } else this.memView.setInt32(at, value, true);
    if (this.snoopedTables !== null && this.snoopedTables.has(hostPage)) this.attention |= ATTN_TABLE_WRITTEN;
  }

  /** Empties the TLB; `keepGlobal` keeps pages from global entries (a CR3 load with CR4.PGE). */
  /** A data breakpoint's access: the #DB trap comes after the instruction (serviceAttention). */
  private noteDataAccess(lin: number, bytes: number, write: boolean): void {
    const hits = dataBreakpoints(this.st, lin, bytes, write);
    if (hits !== 0) {
      this.dataBreakHits |= hits;
      this.attention |= ATTN_DEBUG;
    }
  }

  /** Before an instruction with instruction breakpoints armed: #DB (a fault) when one matches, unless EFLAGS.RF. */
  checkInstructionBreakpoint(): void {
    const st = this.st;
    if (st[S_EFLAGS] & RF) return;
    const hits = instructionBreakpoints(st, (st[S_SEG_BASE + CS] + st[S_EIP]) | 0);
    if (hits !== 0) {
      st[DR6] |= hits;
      this.fault(DB, -1);
    }
  }

  flushTlb(keepGlobal = false): void {
    let kept = 0;
    for (let i = 0; i < this.tlbFilledCount; i++) {
      const page = this.tlbFilled[i];
      if (keepGlobal && this.tlbGlobal[page] !== 0 && this.tlb[page] !== 0) {
        this.tlbFilled[kept++] = page;
      } else {
        this.tlb[page] = 0;
        this.tlbGlobal[page] = 0;
      }
    }
    this.tlbFilledCount = kept;
    this.st[S_FETCH_SPAN] = -1;
    this.translationGeneration++;
  }

  /** The TLB's entries, for the debugger: linear page number, host frame | TLB_* rights, whether global. */
  tlbEntries(): { page: number; entry: number; global: boolean }[] {
    const out: { page: number; entry: number; global: boolean }[] = [];
    for (let i = 0; i < this.tlbFilledCount; i++) {
      const page = this.tlbFilled[i];
      if (this.tlb[page] !== 0) out.push({ page, entry: this.tlb[page], global: this.tlbGlobal[page] !== 0 });
    }
    return out.sort((a, b) => a.page - b.page);
  }

  /** INVLPG: drops the page holding `lin`, global or not. */
  invalidatePage(lin: number): void {
    const page = lin >>> 12;
    this.tlb[page] = 0;
    this.tlbGlobal[page] = 0;
    this.st[S_FETCH_SPAN] = -1;
    this.translationGeneration++;
  }

  /** A host page now holds this CPU's decoded code: take fast write permission away from every CPU's TLB entries for it. */
  protectCodePage(hostPage: number): void {
    this.phys.codePages[hostPage] |= this.codeBit;
    for (const cpu of this.cluster) cpu.closeFastWritesTo(hostPage);
  }

  /**
   * Writes to pages that hold no decoded code any more (and no table a snooping TLB watches) take
   * the fast path again: host page `hostPage`, or every page after the block cache was flushed.
   */
  reopenFastWrites(hostPage = -1): void {
    const kept = TLB_WRITE_KEPT | TLB_USER_WRITE_KEPT;
    for (let i = 0; i < this.tlbFilledCount; i++) {
      const page = this.tlbFilled[i];
      const entry = this.tlb[page];
      if ((entry & kept) === 0) continue;
      const frame = entry >>> 12;
      if ((hostPage !== -1 && frame !== hostPage) || this.phys.codePages[frame] !== 0 || (this.snoopedTables !== null && this.snoopedTables.has(frame))) continue;
      this.tlb[page] = openFastWrites(entry);
    }
  }

  /** Writes to host page `hostPage` take the slow path from now on, through the translations the TLB holds (TLB_WRITE_KEPT). */
  private closeFastWritesTo(hostPage: number): void {
    for (let i = 0; i < this.tlbFilledCount; i++) {
      const page = this.tlbFilled[i];
      if (this.tlb[page] !== 0 && this.tlb[page] >>> 12 === hostPage) this.tlb[page] = closeFastWrites(this.tlb[page]);
    }
  }

  /** Something is writing to a host page that this CPU's decoded blocks came from. */
  private codeWritten(hostPage: number): void {
    this.blocks.dropPage(hostPage);
    const owners = (this.phys.codePages[hostPage] &= ~this.codeBit);
    if (owners === 0) for (const cpu of this.cluster) cpu.reopenFastWrites(hostPage);
    this.attention |= ATTN_CODE_WRITTEN;
  }

  /** Opens or closes the A20 gate (port 0x92, the keyboard controller). */
  setA20(enabled: boolean): void {
    const mask = enabled ? -1 : ~(1 << 20);
    if (this.st[S_A20_MASK] === mask) return;
    this.st[S_A20_MASK] = mask;
    this.flushTlb();
    this.interceptor?.a20Changed();
  }
  get a20Enabled(): boolean {
    return this.st[S_A20_MASK] === -1;
  }

  // ---------------------------------------------------------------- instruction fetch

  /**
   * The fetch window: the EIPs from S_FETCH_LO to S_FETCH_LO + S_FETCH_SPAN lie in one page
   * that is RAM or ROM and inside CS's limit, and host byte = mem[S_FETCH_DELTA + eip]. One
   * unsigned compare per byte covers the limit check and the translation.
   */
  fetch8(): number {
    const st = this.st;
    const eip = st[S_EIP];
    if ((eip - st[S_FETCH_LO]) >>> 0 <= st[S_FETCH_SPAN]) {
      st[S_EIP] = eip + 1;
      return this.mem[(st[S_FETCH_DELTA] + eip) | 0];
    }
    return this.fetchSlow();
  }
  fetch16(): number {
    const st = this.st;
    const eip = st[S_EIP];
    if (((eip - st[S_FETCH_LO]) >>> 0) + 1 <= st[S_FETCH_SPAN]) {
      st[S_EIP] = eip + 2;
      const a = (st[S_FETCH_DELTA] + eip) | 0;
      return this.mem[a] | (this.mem[a + 1] << 8);
    }
    return this.fetchSlow() | (this.fetch8() << 8);
  }
  fetch32(): number {
    const st = this.st;
    const eip = st[S_EIP];
    if (((eip - st[S_FETCH_LO]) >>> 0) + 3 <= st[S_FETCH_SPAN]) {
      st[S_EIP] = eip + 4;
      return this.memView.getInt32((st[S_FETCH_DELTA] + eip) | 0, true);
    }
    const lo = this.fetch16();
    return lo | (this.fetch16() << 16);
  }

  /** Fetches one byte outside the window, checking the limit and reopening the window. */
  private fetchSlow(): number {
    const st = this.st;
    const eip = st[S_EIP] >>> 0;
    const high = st[S_SEG_HIGH + CS] >>> 0;
    // In 16-bit code IP wraps at 64 KiB as on hardware only when the limit allows; past the limit it is #GP.
    if (eip > high || eip < st[S_SEG_LOW + CS] >>> 0) this.fault(GP, 0);
    const lin = (st[S_SEG_BASE + CS] + eip) | 0;
    const readRight = this.userMode ? TLB_USER_READ : TLB_READ;
    // A translation the TLB holds is used as it is, without walking again: the decoded blocks
    // run from it too (blockAtEip), so a page entry changed without INVLPG takes effect at the
    // same instruction whichever way the CPU fetches it.
    const cached = this.tlb[lin >>> 12];
    let entry = cached;
    let phys = 0;
    if ((cached & readRight) === 0) {
      phys = this.tlbFill(lin, false);
      entry = this.lastFillEntry;
      // Execution needs read permission at the CPL, as the fill found it (not readBit, which may be
      // 0: see updateAccessMasks; and a page a debugger watches is not in the TLB at all).
      const kind = entry & 3;
      if (kind === PAGE_APIC_ACCESS && entry !== PAGE_UNMAPPED) this.guestPhysical!.apicAccess(phys, 1, ACCESS_FETCH, 0, lin); // (exits)
      if (entry === PAGE_UNMAPPED || (kind !== PAGE_RAM && kind !== PAGE_ROM) || (this.lastFillAllowed & readRight) === 0) entry = PAGE_UNMAPPED;
    }
    if (entry !== PAGE_UNMAPPED) {
      const pageOffset = lin & 4095;
      const lo = Math.max(eip - pageOffset, st[S_SEG_LOW + CS] >>> 0);
      const hi = Math.min(eip - pageOffset + 4095, high);
      st[S_FETCH_LO] = lo;
      st[S_FETCH_SPAN] = hi - lo;
      st[S_FETCH_DELTA] = ((entry & -4096) + pageOffset - eip) | 0;
      st[S_EIP] = eip + 1;
      return this.mem[(entry & -4096) | pageOffset];
    }
    if (this.phys.kindAt(phys) === PAGE_MMIO) {
      st[S_EIP] = eip + 1;
      return this.phys.read8(phys);
    }
    this.stop('unmapped-fetch', `execution reached physical address ${hex(phys)}, which has no RAM or ROM behind it`);
    throw GUEST_FAULT; // abandons the instruction; the run loop sees the stop
  }

  // ---------------------------------------------------------------- sensitive instructions

  /**
   * Gives the VMM a chance to take over a sensitive instruction. Returns true when it did (a VM
   * exit): the caller must then return without executing the instruction.
   */
  intercept(reason: ExitReason, qualification = 0): boolean {
    if (this.interceptor === null || this.passIntercepts) return false;
    if (this.runNextNatively) {
      // The VMM chose to let this one instruction run (a handler completing an exit).
      this.runNextNatively = false;
      return false;
    }
    if (!this.interceptor.intercept(this, reason, qualification)) return false;
    this.st[S_EIP] = this.st[S_INSN_EIP];
    this.stop('vmexit', `VM exit, reason ${reason}`);
    return true;
  }

  /**
   * Set by the VMM after an exit it completes by letting the instruction execute: the next
   * intercept() is passed through once. (Its instruction length is S_EIP - S_INSN_EIP at the exit.)
   */
  runNextNatively = false;
  /** While the machine serves one whole instruction (a string I/O exit), none of its accesses exits. */
  passIntercepts = false;
  /** Set by a REP instruction that stopped after a chunk and will run again: it has not retired yet. */
  incompleteInstruction = false;

  /** 1 when the instruction just executed retired, 0 when it will run again (a REP chunk). */
  retiredNow(): number {
    if (!this.incompleteInstruction) return 1;
    this.incompleteInstruction = false;
    this.partialRuns++;
    // Completing an exit for the VMM, a REP instruction runs one chunk: the guest resumes and
    // exits again for the next, so a REP over gigabytes of MMIO stays one chunk at a time.
    if (this.passIntercepts) this.stop('budget', 'a chunk of a REP instruction, completed for the VMM');
    return 0;
  }

  // ---------------------------------------------------------------- running

  /** A copy of the state taken when an event delivery starts (see interrupts.ts, atomically). */
  private readonly rollbackState = new Int32Array(STATE_SIZE);

  /** Saves the architectural state, so that an event delivery that faults part-way can be undone. */
  saveStateForRollback(): void {
    this.rollbackState.set(this.st);
  }

  /** Undoes an event delivery: everything back as saved, except CR2 and DR6, which report the fault. */
  rollBackState(): void {
    const st = this.st;
    const cr2 = st[S_CR2];
    const dr6 = st[DR6];
    st.set(this.rollbackState);
    st[S_CR2] = cr2;
    st[DR6] = dr6;
    st[S_FETCH_SPAN] = -1; // the fetch window is a cache of the TLB, which may have changed since
    this.setCpl(st[S_CPL]);
  }

  /** Clears a stop reason left from the last run (the VMM does so before it delivers an event at VM entry). */
  clearStop(): void {
    this.stopReason = null;
    this.stopDetail = '';
    this.attention &= ~ATTN_STOP;
  }

  /** Asks the run loop to stop at the next instruction boundary. */
  stop(reason: StopReason, detail = ''): void {
    if (this.stopReason === null) {
      this.stopReason = reason;
      this.stopDetail = detail;
    }
    this.attention |= ATTN_STOP;
  }

  /** Tells the CPU that its interrupt controller may have an interrupt for it. */
  raiseInterruptLine(): void {
    this.attention |= ATTN_INTERRUPT;
  }

  /**
   * After an instruction loaded EFLAGS (POPF, IRET, a task switch): alignment checks follow AC,
   * the next instruction is single-stepped when TF is set, and IF may let an interrupt in.
   */
  eflagsLoaded(old: number, value: number): void {
    if ((old ^ value) & AC) this.updateAccessMasks();
    if (value & TF) this.attention |= ATTN_RECHECK_TF;
    if (value & IF && !(old & IF)) this.raiseInterruptLine();
  }

  /** Keeps the state as a delivery chain begins, for a debugger that may undo the chain (deliverPendingEvent). */
  saveStateBeforeChain(): void {
    this.chainStartState.set(this.st);
    this.chainStartHalted = this.halted;
  }

  /** Puts back the state saved as the chain began: the instruction that raised it has not run. */
  restoreStateBeforeChain(): void {
    const st = this.st;
    st.set(this.chainStartState);
    this.halted = this.chainStartHalted;
    st[S_FETCH_SPAN] = -1;
    this.setCpl(st[S_CPL]);
    this.flushTlb();
  }

  /**
   * Runs until `budget` instructions have retired or something stops the CPU (run-loop.ts).
   * Returns why it stopped; `stopReason` keeps that until the next run.
   */
  run(budget: number): StopReason {
    return runCpu(this, budget);
  }

  // ---------------------------------------------------------------- inspection

  get eip(): number {
    return this.st[S_EIP] >>> 0;
  }
  get eflags(): number {
    return getEflags(this.st) >>> 0;
  }
  segmentSelector(seg: number): number {
    return this.st[S_SEG_SEL + seg] & 0xffff;
  }
  segmentBase(seg: number): number {
    return this.st[S_SEG_BASE + seg] >>> 0;
  }

  /**
   * A one-screen description of the state, for reports after a crash or a stop. `cr0` is CR0
   * as the guest reads it (under a VMM, its read shadow: not the VMM's own bits).
   */
  describe(cr0 = this.st[S_CR0]): string {
    const r = (i: number) => hex(this.reg[i]).slice(2);
    const s = (seg: number) => hex(this.segmentSelector(seg), 4).slice(2);
    const lines = [
      `EAX=${r(0)} EBX=${r(3)} ECX=${r(1)} EDX=${r(2)}`,
      `ESI=${r(6)} EDI=${r(7)} EBP=${r(5)} ESP=${r(4)}`,
      `EIP=${hex(this.eip).slice(2)} EFLAGS=${hex(this.eflags).slice(2)} CS=${s(CS)} DS=${s(DS)} ES=${s(ES)} SS=${s(SS)} FS=${s(FS)} GS=${s(GS)}`,
      `CR0=${hex(cr0).slice(2)} mode=${this.st[S_CR0] & 1 ? (this.st[S_CODE32] ? 'protected, 32-bit code' : 'protected, 16-bit code') : 'real'} CS base=${hex(this.segmentBase(CS))}`,
    ];
    return lines.join('\n');
  }

  /** CS:EIP as text: of the next instruction, or of the last one started (`current`, for fault reports). */
  location(current = false): string {
    const eip = current ? this.st[S_INSN_EIP] : this.st[S_EIP];
    return `${hex(this.segmentSelector(CS), 4).slice(2)}:${hex(eip, this.st[S_CODE32] ? 8 : 4).slice(2)}`;
  }
}

// Not state: the TLB and the blocks are caches of memory and registers (a load drops them:
// Machine.afterStateLoad); the compiler and the debugger's hook belong to whoever runs the machine.
snapshotRules(Cpu, { transient: ['tlb', 'tlbGlobal', 'tlbFilled', 'tlbFilledCount', 'translationGeneration', 'blocks', 'compiler', 'debugHook', 'compiledFaultInsns'] });
