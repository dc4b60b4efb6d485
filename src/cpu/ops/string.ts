/**
 * String instructions: MOVS CMPS SCAS LODS STOS INS OUTS, with REP / REPE / REPNE. A REP
 * instruction runs at most Cpu.repChunk iterations per execution and then restarts itself (EIP
 * stays on it), so a huge count cannot stall the host and interrupts are taken between
 * chunks, as hardware takes them between iterations. Registers are updated every iteration,
 * so a fault in the middle leaves the state a restart continues from.
 */
import { ATTN_DEBUG, ATTN_TRAP, type Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { recordLazy, LAZY_SUB, getZF } from '../flags.ts';
import { dataSegment, P_REP, P_REPNE } from '../decoder.ts';
import { ARITH_FLAGS, DF, EDI, ES, ESI, S_EFLAGS, S_EIP, S_INSN_EIP, S_SEG_BASE } from '../state.ts';
import { advanceIndex, readCount, readIndex, readReg, sizeFromOpcodeBit, writeCount, writeReg } from '../operands.ts';
import { portIn, portOut } from './io.ts';

const MOVS = 0, CMPS = 1, STOS = 2, LODS = 3, SCAS = 4, INS = 5, OUTS = 6;

function kindOf(opcode: number): number {
  switch (opcode & 0xfe) {
    case 0xa4: return MOVS;
    case 0xa6: return CMPS;
    case 0xaa: return STOS;
    case 0xac: return LODS;
    case 0xae: return SCAS;
    case 0x6c: return INS;
    default: return OUTS;
  }
}

/** One iteration. Returns false when a REPE/REPNE condition ends the repetition. */
function iterate(cpu: Cpu, d: Insn, kind: number, size: number, delta: number): void {
  const st = cpu.st;
  switch (kind) {
    case MOVS:
      cpu.write(ES, readIndex(cpu, d, EDI), cpu.read(dataSegment(d), readIndex(cpu, d, ESI), size), size);
      advanceIndex(cpu, d, ESI, delta);
      advanceIndex(cpu, d, EDI, delta);
      break;
    case CMPS: {
      const a = cpu.read(dataSegment(d), readIndex(cpu, d, ESI), size);
      const b = cpu.read(ES, readIndex(cpu, d, EDI), size);
      recordLazy(st, LAZY_SUB, a, b, (a - b) | 0, size, ARITH_FLAGS);
      advanceIndex(cpu, d, ESI, delta);
      advanceIndex(cpu, d, EDI, delta);
      break;
    }
    case STOS:
      cpu.write(ES, readIndex(cpu, d, EDI), readReg(cpu, 0, size), size);
      advanceIndex(cpu, d, EDI, delta);
      break;
    case LODS:
      writeReg(cpu, 0, size, cpu.read(dataSegment(d), readIndex(cpu, d, ESI), size));
      advanceIndex(cpu, d, ESI, delta);
      break;
    case SCAS: {
      const a = readReg(cpu, 0, size);
      const b = cpu.read(ES, readIndex(cpu, d, EDI), size);
      recordLazy(st, LAZY_SUB, a, b, (a - b) | 0, size, ARITH_FLAGS);
      advanceIndex(cpu, d, EDI, delta);
      break;
    }
    case INS: {
      // The destination is checked before the port is read: a fault must not lose the input.
      const di = readIndex(cpu, d, EDI);
      cpu.checkWritable(ES, di, size);
      cpu.write(ES, di, portIn(cpu, d, cpu.reg16[4], size, true), size);
      advanceIndex(cpu, d, EDI, delta);
      break;
    }
    default:
      portOut(cpu, d, cpu.reg16[4], size, cpu.read(dataSegment(d), readIndex(cpu, d, ESI), size), true);
      advanceIndex(cpu, d, ESI, delta);
      break;
  }
}

/**
 * REP STOS or REP MOVS (forward, 32-bit addresses) over as many of `most` elements as fit in
 * the rest of the page (or pages, for MOVS) the TLB serves at once, in one step: the same bytes
 * and registers as the elements one by one, where nothing can fault or be watched part-way.
 * Returns how many elements it did (0: not here, the caller goes element by element).
 */
function bulkStep(cpu: Cpu, d: Insn, kind: number, bytes: number, most: number): number {
  const reg = cpu.reg;
  const st = cpu.st;
  const edi = reg[EDI];
  let n = Math.min(most, ((4096 - ((st[S_SEG_BASE + ES] + edi) & 4095)) / bytes) | 0);
  const mem = cpu.mem;
  if (kind === STOS) {
    const at = n === 0 ? -1 : cpu.hostRange(ES, edi, n * bytes, true);
    if (at < 0) return 0;
    const value = reg[0];
    if (bytes === 1 || (bytes === 2 ? (value & 0xff) === ((value >> 8) & 0xff) : value === Math.imul(value & 0xff, 0x01010101))) {
      mem.fill(value & 0xff, at, at + n * bytes);
    } else if (bytes === 2) {
      for (let i = 0; i < n; i++) cpu.memView.setUint16(at + 2 * i, value, true);
    } else {
      for (let i = 0; i < n; i++) cpu.memView.setInt32(at + 4 * i, value, true);
    }
    reg[EDI] = (edi + n * bytes) | 0;
    return n;
  }
  const esi = reg[ESI];
  const seg = dataSegment(d);
  n = Math.min(n, ((4096 - ((st[S_SEG_BASE + seg] + esi) & 4095)) / bytes) | 0);
  const length = n * bytes;
  const from = n === 0 ? -1 : cpu.hostRange(seg, esi, length, false);
  const to = from < 0 ? -1 : cpu.hostRange(ES, edi, length, true);
  // A destination just above its source repeats what it copies, element by element: not a memmove.
  if (to < 0 || (to > from && to < from + length)) return 0;
  mem.copyWithin(to, from, from + length);
  reg[ESI] = (esi + length) | 0;
  reg[EDI] = (edi + length) | 0;
  return n;
}

/** A4-A7, AA-AF, 6C-6F. */
export function execString(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const size = sizeFromOpcodeBit(d);
  const kind = kindOf(opcode);
  const delta = st[S_EFLAGS] & DF ? -(size >> 3) : size >> 3;
  const prefixes = d.prefixes;
  if ((prefixes & (P_REP | P_REPNE)) === 0) {
    iterate(cpu, d, kind, size, delta);
    return;
  }
  const compares = kind === CMPS || kind === SCAS;
  const stopWhenZero = (prefixes & P_REPNE) !== 0; // REPNE stops on ZF = 1, REPE on ZF = 0
  let count = readCount(cpu, d);
  // Single-step traps after each iteration, with EIP still on the instruction while more are
  // left (so a debugger traces every iteration); a data breakpoint after the iteration that hit it.
  // A chunk ends where the count left is a multiple of the chunk size, not a chunk from where
  // this execution began: the same iteration whatever split the instruction before (a VM exit
  // part-way, an interrupt), so the machine is the same at each chunk's end in every mode.
  const chunkMask = cpu.attention & ATTN_TRAP ? 0 : cpu.repChunk - 1;
  const bulk = (kind === STOS || kind === MOVS) && d.a32 !== 0 && delta > 0 && chunkMask !== 0;
  while (count !== 0) {
    if (bulk && (cpu.attention & ATTN_DEBUG) === 0) {
      // Up to the chunk's end, as the loop below would stop there.
      const done = bulkStep(cpu, d, kind, size >> 3, Math.min(count, (count & chunkMask) || chunkMask + 1));
      if (done !== 0) {
        count -= done;
        writeCount(cpu, d, count);
        if ((count & chunkMask) === 0) break;
        continue;
      }
    }
    iterate(cpu, d, kind, size, delta);
    count = (count - 1) >>> 0;
    writeCount(cpu, d, count);
    if (compares && getZF(st) === stopWhenZero) {
      count = 0;
      break;
    }
    if ((count & chunkMask) === 0 || cpu.attention & ATTN_DEBUG) break;
  }
  if (count === 0) return;
  // More to do: run this instruction again, as decoded now. It retires once, when it completes,
  // so that instruction counts (and virtual time) do not depend on where a chunk ended.
  st[S_EIP] = st[S_INSN_EIP];
  cpu.incompleteInstruction = true;
  cpu.holdInsn(d);
}
