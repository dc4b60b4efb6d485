/**
 * The decoded-block cache: runs of decoded instructions, so that code executed again (every
 * loop) is not decoded again. This is the interpreter's cache, as Bochs's iCache; the
 * translation cache will compile the same blocks to JavaScript.
 *
 * A block starts at a host address (the RAM or ROM byte behind the guest's CS:EIP, so aliases
 * share blocks) in one code size (16- or 32-bit), lies inside one 4 KiB page, and ends after
 * an instruction the opcode table marks as ending a block (a branch, a mode change, anything
 * sensitive). Writing to a page that holds blocks drops them: such pages get no fast write
 * permission in the TLB, so the write takes the slow path, which tells the cache.
 *
 * The cache is bounded: every start address and code size gets a block of its own, so a guest
 * that jumps to each byte of a large NOP sled would otherwise fill the host's memory. When the
 * instructions decoded since the last flush would pass MAX_CACHED_INSNS, everything is flushed
 * and decoding starts again, as QEMU's tb_flush does when its code buffer is full.
 */
import { GUEST_FAULT, type Cpu } from './cpu.ts';
import { decode } from './decoder.ts';
import { dropDeadFlags } from './hot-forms.ts';
import { Insn } from './insn.ts';
import { D_ENDS_BLOCK } from './opcode-table.ts';
import { execCallRel, execJcc, execJmpRel } from './ops/control.ts';
import { S_EIP, S_INSN_EIP } from './state.ts';

/** An instruction never spans more than this many bytes. */
const MAX_INSN_BYTES = 15;
const MAX_BLOCK_INSNS = 64;

/**
 * The cache's budget in decoded instructions, at least MAX_BLOCK_INSNS. An Insn costs about
 * 170 bytes of heap together with its share of its block, the block's array and the two maps
 * (measured: V8's heapUsed after a guest decoded 1.57 million instructions in 32,674 blocks of
 * a NOP sled, 167 bytes each), so 2^18 instructions keep the cache near 42 MiB. A loop's working
 * set is a few hundred instructions, the BIOS's and the toy kernel's a few thousand.
 */
export const MAX_CACHED_INSNS = 1 << 18;

/**
 * A block compiled to JavaScript (src/jit/translation-cache.ts): runs the block from its first
 * instruction (EIP on it) with at most `budget` instructions (at least the block's length).
 * `retiredBefore` is the run loop's count in its current chunk, to keep `Cpu.retired` (virtual
 * time) exact for the last instruction. The contract with the run loop (run-loop.ts) is in that file.
 */
export type CompiledBlock = (cpu: Cpu, st: Int32Array, budget: number, retiredBefore: number) => number;

/**
 * What compiles a decoded block: the translation cache's compileBlock, installed by the machine.
 * `linear` is where the guest runs it now (CS base + EIP), for its name; the block itself is the
 * cache's, by host address.
 */
export type BlockCompiler = (insns: readonly Insn[], linear: number, code32: number, region: readonly RegionPart[]) => CompiledBlock;

/**
 * A block of a region: a hot block is compiled together with the blocks of its page it leads to
 * (BlockCache.regionFrom, src/jit/region.ts), so that a loop over several blocks runs in one
 * function. Its instructions, where it starts relative to the region's first block, its length,
 * and where its last instruction may go next, relative to the first block too, where that is
 * fixed before it runs.
 */
export interface RegionPart {
  insns: readonly Insn[];
  delta: number;
  byteLength: number;
  next: number[];
}

/** A region's size at most: a bound on what compiling it costs (the source, new Function, V8's optimizing). */
const MAX_REGION_BLOCKS = 16;
const MAX_REGION_INSNS = 256;

/**
 * Where a block of 32-bit code may go after its last instruction, relative to its start, when
 * that is fixed: a Jcc's target and the next instruction, a JMP's or CALL's target, the next
 * instruction after one that does not end a block (the block was cut at its length). None for
 * anything else (a RET, a far or indirect transfer, an instruction that changes the mode), nor
 * for a 16-bit operand size, whose target wraps at 64 KiB.
 */
function fixedSuccessors(block: DecodedBlock): number[] {
  const d = block.insns[block.insns.length - 1];
  const end = block.byteLength;
  if ((d.info & D_ENDS_BLOCK) === 0) return [end];
  if (d.o32 === 0) return [];
  if (d.execute === execJcc) return [end + d.imm, end];
  if (d.execute === execJmpRel || d.execute === execCallRel) return [end + d.imm];
  return [];
}

export class DecodedBlock {
  readonly insns: Insn[] = [];
  /** Bytes from the first instruction to the end of the last. */
  byteLength = 0;
  /** False once the code under it was written, or the cache was flushed: chaining never enters it again. */
  valid = true;
  /**
   * Chaining: the blocks that followed this one last time, with the EIP they started at and
   * the translation generation (Cpu.translationGeneration) under which that EIP led there.
   */
  nextEip0 = -1;
  nextGen0 = -1;
  next0: DecodedBlock | null = null;
  nextEip1 = -1;
  nextGen1 = -1;
  next1: DecodedBlock | null = null;
  /** Times the interpreter ran it; at Cpu.compileThreshold it is compiled. */
  runs = 0;
  /** Its compiled function, once it has one. */
  compiled: CompiledBlock | null = null;

  constructor(
    /** Host address * 2 + code32: the cache key. */
    readonly key: number,
    readonly hostPage: number,
  ) {}
}

/**
 * Whether the run loop may run decoded blocks now: not when an instruction breakpoint is armed
 * (each instruction is checked before it runs) nor when an instruction is resumed as decoded (Cpu.resumeInsn).
 */
export const decodedBlocksRun = (cpu: Cpu): boolean => cpu.useDecodedBlocks && !cpu.codeWatch && cpu.resumeInsn === null;

/**
 * The block `previous` chained to at `eip` last time, if that still holds: the same EIP under
 * the same translation generation, and the block still valid. Null: look it up.
 */
export function chainedBlock(previous: DecodedBlock, eip: number, generation: number): DecodedBlock | null {
  const next0 = previous.next0;
  if (previous.nextEip0 === eip && previous.nextGen0 === generation && next0 !== null && next0.valid) return next0;
  const next1 = previous.next1;
  if (previous.nextEip1 === eip && previous.nextGen1 === generation && next1 !== null && next1.valid) return next1;
  return null;
}

/** Slots of the direct-mapped table in front of the map (a power of two). */
const RECENT_SLOTS = 8192;
/** A block key's slot: its host address's low bits, with the page's mixed in (blocks at one offset of many pages). */
const recentSlot = (key: number): number => (key ^ (key >>> 13)) & (RECENT_SLOTS - 1);

export class BlockCache {
  private readonly blocks = new Map<number, DecodedBlock>();
  /**
   * The blocks looked up last, by recentSlot: a lookup that the previous block's chain misses
   * (a RET, an indirect jump, a third successor) finds its block here with one load and a
   * compare, instead of the map's hashing (QEMU's tb_jmp_cache). A slot holds only blocks in the map.
   */
  private readonly recent: (DecodedBlock | undefined)[] = new Array(RECENT_SLOTS).fill(undefined);
  private readonly blocksOfPage = new Map<number, DecodedBlock[]>();
  /**
   * Instructions decoded since the last flush, those of dropped blocks included: a dropped
   * block leaves the maps but a chained block may still point to it (behind its `valid` flag)
   * until the next flush, as an invalidated TB keeps its space in QEMU's code buffer. So this
   * bounds everything the cache can keep alive.
   */
  insnCount = 0;
  /** Blocks decoded and dropped, and flushes of the whole cache, for statistics. */
  built = 0;
  dropped = 0;
  /** Blocks compiled to JavaScript. */
  compiledCount = 0;
  flushes = 0;

  /** @param maxInsns the budget of decoded instructions between flushes (tests lower it) */
  constructor(public maxInsns = MAX_CACHED_INSNS) {}

  get(key: number): DecodedBlock | undefined {
    const slot = recentSlot(key);
    const recent = this.recent[slot];
    if (recent !== undefined && recent.key === key) return recent;
    const block = this.blocks.get(key);
    if (block !== undefined) this.recent[slot] = block;
    return block;
  }

  /**
   * Decodes a block at the CPU's CS:EIP, whose first byte is host byte `host`. Returns null
   * when no instruction can be decoded without risk (near the end of the page or of CS, or an
   * instruction that faults while decoding): the caller single-steps instead, which raises any
   * fault with the right state.
   */
  build(cpu: Cpu, host: number, code32: number, eipLimit: number): DecodedBlock | null {
    const st = cpu.st;
    const start = st[S_EIP];
    const savedInsnEip = st[S_INSN_EIP];
    const pageEnd = (host | 4095) + 1;
    const block = new DecodedBlock(host * 2 + code32, host >>> 12);
    let offset = 0;
    try {
      while (block.insns.length < MAX_BLOCK_INSNS) {
        // Only decode what cannot reach past the page or CS's limit.
        if (host + offset + MAX_INSN_BYTES > pageEnd || (start + offset + MAX_INSN_BYTES - 1) >>> 0 > eipLimit) break;
        const d = new Insn();
        st[S_EIP] = start + offset;
        st[S_INSN_EIP] = start + offset;
        decode(cpu, d);
        d.offset = offset;
        offset += d.length;
        block.insns.push(d);
        if (d.info & D_ENDS_BLOCK) break;
      }
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      cpu.pendingVector = -1; // the single-step path will raise it for real
    }
    st[S_EIP] = start;
    st[S_INSN_EIP] = savedInsnEip;
    if (block.insns.length === 0) return null;
    block.byteLength = offset;
    dropDeadFlags(block.insns);
    // The budget is checked here, where a block is made, never where one is executed. Decoding
    // does not depend on the cache, so the block just decoded survives the flush.
    if (this.insnCount + block.insns.length > this.maxInsns) {
      this.flush(cpu.phys.codePages, cpu.codeBit);
      cpu.reopenFastWrites();
    }
    this.insnCount += block.insns.length;
    this.blocks.set(block.key, block);
    let list = this.blocksOfPage.get(block.hostPage);
    if (list === undefined) {
      list = [];
      this.blocksOfPage.set(block.hostPage, list);
    }
    list.push(block);
    this.built++;
    return block;
  }

  /**
   * The region a hot block is compiled with (RegionPart): the block first, then, breadth first,
   * the blocks already decoded in its host page that it leads to by a fixed successor
   * (fixedSuccessors), and those they lead to, keeping those on a loop back to the first. Blocks
   * of 32-bit code only; none with a loop of one block.
   */
  regionFrom(entry: DecodedBlock): RegionPart[] {
    const partOf = (block: DecodedBlock, delta: number): RegionPart => ({ insns: block.insns, delta, byteLength: block.byteLength, next: fixedSuccessors(block).map((n) => n + delta) });
    // A block that branches back to its own start is a loop of one block, which its own function
    // runs fastest (translation-cache.ts): compiled alone, and left out of other blocks' regions.
    const loopsAlone = (block: DecodedBlock) => fixedSuccessors(block).includes(0);
    const parts = [partOf(entry, 0)];
    if ((entry.key & 1) === 0 || loopsAlone(entry)) return parts;
    const host = (entry.key - 1) / 2;
    const inPage = host % 4096;
    const seen = new Set([0]);
    let insns = entry.insns.length;
    for (let i = 0; i < parts.length && parts.length < MAX_REGION_BLOCKS; i++) {
      for (const delta of parts[i].next) {
        if (seen.has(delta) || inPage + delta < 0 || inPage + delta >= 4096) continue;
        seen.add(delta);
        const block = this.blocks.get((host + delta) * 2 + 1);
        if (block === undefined || !block.valid || loopsAlone(block) || insns + block.insns.length > MAX_REGION_INSNS || parts.length >= MAX_REGION_BLOCKS) continue;
        insns += block.insns.length;
        parts.push(partOf(block, delta));
      }
    }
    // Only the blocks of a loop through the first: the others run once each time the region is
    // entered, and would cost more to compile than they save.
    const loops = new Set([0]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const part of parts) {
        if (!loops.has(part.delta) && part.next.some((n) => loops.has(n))) {
          loops.add(part.delta);
          grew = true;
        }
      }
    }
    return parts.filter((part) => loops.has(part.delta));
  }

  /** True when blocks were decoded from this host page. */
  hasPage(hostPage: number): boolean {
    return this.blocksOfPage.has(hostPage);
  }

  /** Drops every block decoded from a host page (its bytes are being written). */
  dropPage(hostPage: number): void {
    const list = this.blocksOfPage.get(hostPage);
    if (list === undefined) return;
    for (const block of list) {
      block.valid = false;
      this.blocks.delete(block.key);
      if (this.recent[recentSlot(block.key)] === block) this.recent[recentSlot(block.key)] = undefined;
    }
    this.dropped += list.length;
    this.blocksOfPage.delete(hostPage);
  }

  /**
   * Drops every block (QEMU's tb_flush). Each is marked invalid, so a chain from a block the
   * CPU still holds (its previous block) cannot lead into the flushed ones; blocks made from now
   * on only chain to blocks that were valid when chained, so nothing made after the flush
   * reaches one made before it. Every page that held blocks is no longer this CPU's code page
   * (its `codeBit` in `codePages`, the PhysicalMemory's array): writes to it may take the fast path again once
   * the TLB is refilled, and the next block decoded there protects it again.
   */
  flush(codePages: Uint8Array, codeBit = 1): void {
    for (const block of this.blocks.values()) {
      block.valid = false;
      block.next0 = null;
      block.next1 = null;
    }
    for (const page of this.blocksOfPage.keys()) codePages[page] &= ~codeBit;
    this.blocks.clear();
    this.recent.fill(undefined);
    this.blocksOfPage.clear();
    this.insnCount = 0;
    this.flushes++;
  }
}
