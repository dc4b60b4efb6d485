/**
 * Decodes one instruction into an Insn. Everything about an opcode's encoding (ModRM, group,
 * immediate, whether LOCK is allowed) comes from the opcode table (opcode-table.ts), compiled
 * at load time into the typed arrays used here. `step` decodes and executes one instruction;
 * the decoded-block cache calls `decode` alone and keeps the result.
 */
import type { Cpu } from './cpu.ts';
import { Insn } from './insn.ts';
import {
  COMPILED, DECODE_INFO, EXECUTE, HOT, GROUP_BASE, D_GROUP, D_IGNORE_MOD, D_LOCKABLE, D_MEM_ONLY, D_MODRM, D_REG_ONLY, IMM_SHIFT, IMM_MASK, Imm,
} from './opcode-table.ts';
import { CS, DS, EBP, ES, FS, GP, GS, SS, UD, S_CODE32, S_EIP } from './state.ts';

/** Prefix bits in Insn.prefixes. */
export const P_REP = 1, P_REPNE = 2, P_LOCK = 4, P_SEG = 8;
/** Insn.prefixes >> SEG_SHIFT is the segment-override register when P_SEG is set. */
const SEG_SHIFT = 8;

/** For each byte: 0 when it is not a prefix, else 1 + the segment register or a code. */
const PREFIX = new Uint8Array(256);
PREFIX[0x26] = 1 + ES;
PREFIX[0x2e] = 1 + CS;
PREFIX[0x36] = 1 + SS;
PREFIX[0x3e] = 1 + DS;
PREFIX[0x64] = 1 + FS;
PREFIX[0x65] = 1 + GS;
const PFX_OPSIZE = 10, PFX_ADDRSIZE = 11, PFX_LOCK = 12, PFX_REPNE = 13, PFX_REP = 14;
PREFIX[0x66] = PFX_OPSIZE;
PREFIX[0x67] = PFX_ADDRSIZE;
PREFIX[0xf0] = PFX_LOCK;
PREFIX[0xf2] = PFX_REPNE;
PREFIX[0xf3] = PFX_REP;

/** The longest instruction a 386 accepts; one byte more is #GP(0). */
const MAX_INSN_LENGTH = 15;

/** The decode target of the single-step path. */
const scratch = new Insn();

/** Decodes and executes the instruction at CS:EIP. */
export function step(cpu: Cpu): void {
  const resume = cpu.resumeInsn;
  if (resume !== null) {
    // An instruction stopped part-way resumes as it was decoded, if it is what runs next.
    const here = cpu.resumesHere();
    cpu.resumeInsn = null;
    if (here) {
      const st = cpu.st;
      st[S_EIP] = (st[S_EIP] + resume.length) | 0;
      cpu.decodedInsn = resume;
      resume.execute(cpu, resume);
      cpu.decodedInsn = null;
      return;
    }
  }
  const d = scratch;
  decode(cpu, d);
  cpu.decodedInsn = d;
  d.execute(cpu, d);
  cpu.decodedInsn = null;
}

/**
 * Decodes the instruction at CS:EIP into `d`, leaving EIP after it. Faults (#GP past the CS
 * limit or 15 bytes, #UD for impossible forms) are raised as the hardware raises them.
 */
export function decode(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const start = st[S_EIP];
  const code32 = st[S_CODE32];
  let o32 = code32;
  let a32 = code32;
  let prefixes = 0;
  let op = cpu.fetch8();
  let kind = PREFIX[op];
  while (kind !== 0) {
    if (kind <= 6) prefixes = (prefixes & ((1 << SEG_SHIFT) - 1)) | P_SEG | ((kind - 1) << SEG_SHIFT);
    else if (kind === PFX_OPSIZE) o32 = code32 ^ 1;
    else if (kind === PFX_ADDRSIZE) a32 = code32 ^ 1;
    else if (kind === PFX_LOCK) prefixes |= P_LOCK;
    else if (kind === PFX_REPNE) prefixes = (prefixes & ~P_REP) | P_REPNE;
    else prefixes = (prefixes & ~P_REPNE) | P_REP;
    if (st[S_EIP] - start >= MAX_INSN_LENGTH) cpu.fault(GP, 0);
    op = cpu.fetch8();
    kind = PREFIX[op];
  }
  if (op === 0x0f) op = 0x100 | cpu.fetch8();
  d.o32 = o32;
  d.a32 = a32;
  d.prefixes = prefixes;
  d.opcode = op;
  d.eaBase = -1;
  d.eaIndex = -1;

  let entry = op;
  let info = DECODE_INFO[op];
  if (info & D_MODRM) {
    const modrm = cpu.fetch8();
    d.modrm = modrm;
    if (info & D_GROUP) {
      entry = GROUP_BASE[op] + ((modrm >> 3) & 7);
      info = DECODE_INFO[entry];
    }
    if (modrm < 0xc0 && !(info & D_IGNORE_MOD)) {
      if (info & D_REG_ONLY) cpu.fault(UD);
      if (a32) decodeEA32(cpu, d, modrm, prefixes);
      else decodeEA16(cpu, d, modrm, prefixes);
    } else if (info & D_MEM_ONLY) {
      cpu.fault(UD);
    }
    if (prefixes & P_LOCK && (!(info & D_LOCKABLE) || modrm >= 0xc0)) cpu.fault(UD);
  } else if (prefixes & P_LOCK) {
    cpu.fault(UD);
  }
  const imm = (info >> IMM_SHIFT) & IMM_MASK;
  if (imm !== Imm.None) fetchImmediate(cpu, d, imm, o32, a32);
  d.info = info;
  d.execute = EXECUTE[entry];
  d.form = COMPILED[entry];
  d.hot = HOT[entry](d);
  d.length = (st[S_EIP] - start) | 0;
  // Prefixes are checked as they come; an instruction made long by its operands is caught here.
  if (d.length > MAX_INSN_LENGTH) cpu.fault(GP, 0);
}

function fetchImmediate(cpu: Cpu, d: Insn, imm: number, o32: number, a32: number): void {
  switch (imm) {
    case Imm.Byte:
      d.imm = cpu.fetch8();
      break;
    case Imm.SignedByte:
      d.imm = (cpu.fetch8() << 24) >> 24;
      break;
    case Imm.Word:
      d.imm = cpu.fetch16();
      break;
    case Imm.Operand:
      d.imm = o32 ? cpu.fetch32() : cpu.fetch16();
      break;
    case Imm.SignedOperand:
      d.imm = o32 ? cpu.fetch32() : (cpu.fetch16() << 16) >> 16;
      break;
    case Imm.FarPointer:
      d.imm = o32 ? cpu.fetch32() : cpu.fetch16();
      d.imm2 = cpu.fetch16();
      break;
    case Imm.MemoryOffset:
      d.eaDisp = a32 ? cpu.fetch32() : cpu.fetch16();
      d.eaSeg = d.prefixes & P_SEG ? d.prefixes >> SEG_SHIFT : DS;
      break;
    case Imm.WordThenByte:
      d.imm = cpu.fetch16();
      d.imm2 = cpu.fetch8();
      break;
  }
}

/** Base and index registers of the eight 16-bit r/m encodings (-1: none). */
const EA16_BASE = Int8Array.of(3, 3, 5, 5, 6, 7, 5, 3);
const EA16_INDEX = Int8Array.of(6, 7, 6, 7, -1, -1, -1, -1);

/** 16-bit addressing: [BX+SI], [BX+DI], [BP+SI], [BP+DI], [SI], [DI], [BP]/disp16, [BX] (+disp). */
function decodeEA16(cpu: Cpu, d: Insn, modrm: number, prefixes: number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let seg = rm === 2 || rm === 3 || (rm === 6 && mod !== 0) ? SS : DS;
  if (rm === 6 && mod === 0) {
    d.eaDisp = cpu.fetch16();
    seg = DS;
  } else {
    d.eaBase = EA16_BASE[rm];
    d.eaIndex = EA16_INDEX[rm];
    d.eaDisp = mod === 1 ? (cpu.fetch8() << 24) >> 24 : mod === 2 ? cpu.fetch16() : 0;
  }
  d.eaShift = 0;
  d.eaSeg = prefixes & P_SEG ? prefixes >> SEG_SHIFT : seg;
}

/** 32-bit addressing: base + index * scale + displacement, with SIB when r/m = 4. */
function decodeEA32(cpu: Cpu, d: Insn, modrm: number, prefixes: number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let seg = DS;
  let disp = 0;
  d.eaShift = 0;
  if (rm === 4) {
    const sib = cpu.fetch8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    if (base === 5 && mod === 0) {
      disp = cpu.fetch32();
    } else {
      d.eaBase = base;
      if (base === 4 || base === EBP) seg = SS;
    }
    if (index !== 4) {
      d.eaIndex = index;
      d.eaShift = sib >> 6;
    }
  } else if (rm === 5 && mod === 0) {
    disp = cpu.fetch32();
  } else {
    d.eaBase = rm;
    if (rm === EBP) seg = SS;
  }
  if (mod === 1) disp = (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) disp = cpu.fetch32();
  d.eaDisp = disp;
  d.eaSeg = prefixes & P_SEG ? prefixes >> SEG_SHIFT : seg;
}

/** The segment an instruction with an implicit DS operand uses (string sources, XLAT): DS unless overridden. */
export function dataSegment(d: Insn): number {
  return d.prefixes & P_SEG ? d.prefixes >> SEG_SHIFT : DS;
}
