/** Data movement: MOV in all its forms, MOVZX/MOVSX, XCHG, LEA, LDS and friends, XLAT, CBW/CWD, LAHF/SAHF. */
import type { Cpu } from '../cpu.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { getEflags, setArithFlags } from '../flags.ts';
import { ATTN_SHADOW } from '../cpu.ts';
import { dataSegment } from '../decoder.ts';
import { loadSegment } from '../segments.ts';
import { AF, CF, CS, IF, PF, S_EFLAGS, SF, SS, UD, ZF } from '../state.ts';
import {
  isRegisterOperand, operandSize, readE, readEForUpdate, readG, readReg, sizeFromOpcodeBit, writeE, writeG, writeReg,
} from '../operands.ts';
import { offsetJs, readEJs, regField, regJs, setRegJs, writeEJs, type Emitter } from '../emit.ts';

/** 88/89 MOV r/m, r. */
export function execMovEG(cpu: Cpu, d: Insn): void {
  const size = sizeFromOpcodeBit(d);
  writeE(cpu, d, size, readG(cpu, d, size));
}

/** 8A/8B MOV r, r/m. */
export function execMovGE(cpu: Cpu, d: Insn): void {
  const size = sizeFromOpcodeBit(d);
  writeG(cpu, d, size, readE(cpu, d, size));
}

/** C6/C7 /0 MOV r/m, imm. */
export function execMovEImm(cpu: Cpu, d: Insn): void {
  const size = sizeFromOpcodeBit(d);
  writeE(cpu, d, size, d.imm);
}

/** B0-B7 MOV r8, imm8; B8-BF MOV r16/32, imm. */
export function execMovRegImm(cpu: Cpu, d: Insn): void {
  const opcode = d.opcode;
  writeReg(cpu, opcode & 7, opcode < 0xb8 ? 8 : operandSize(d), d.imm);
}

/** A0-A3 MOV between the accumulator and a memory offset (moffs). */
export function execMovAccOffset(cpu: Cpu, d: Insn): void {
  const opcode = d.opcode;
  const size = sizeFromOpcodeBit(d);
  if (opcode < 0xa2) writeReg(cpu, 0, size, cpu.read(d.eaSeg, effectiveAddress(cpu, d), size));
  else cpu.write(d.eaSeg, effectiveAddress(cpu, d), readReg(cpu, 0, size), size);
}

/** 8C MOV r/m, Sreg. A register destination gets the selector zero-extended to the operand size. */
export function execMovESreg(cpu: Cpu, d: Insn): void {
  const sreg = (d.modrm >> 3) & 7;
  if (sreg > 5) cpu.fault(UD);
  const selector = cpu.segmentSelector(sreg);
  writeE(cpu, d, isRegisterOperand(d) ? operandSize(d) : 16, selector);
}

/** 8E MOV Sreg, r/m. Loading CS this way is #UD; loading SS inhibits interrupts for one instruction. */
export function execMovSregE(cpu: Cpu, d: Insn): void {
  const sreg = (d.modrm >> 3) & 7;
  if (sreg > 5 || sreg === CS) cpu.fault(UD);
  loadSegment(cpu, sreg, readE(cpu, d, 16));
  if (sreg === SS) cpu.attention |= ATTN_SHADOW;
}

/** 0F B6/B7 MOVZX, 0F BE/BF MOVSX. */
export function execMovExtend(cpu: Cpu, d: Insn): void {
  const srcSize = d.opcode & 1 ? 16 : 8;
  const value = readE(cpu, d, srcSize);
  writeG(cpu, d, operandSize(d), d.opcode >= 0x1be ? signExtend(value, srcSize) : value);
}

/** The low `size` bits of `value`, sign-extended to 32. */
export const signExtend = (value: number, size: number): number => (value << (32 - size)) >> (32 - size);

/** 86/87 XCHG r/m, r. */
export function execXchgEG(cpu: Cpu, d: Insn): void {
  const size = sizeFromOpcodeBit(d);
  const a = readEForUpdate(cpu, d, size);
  const b = readG(cpu, d, size);
  writeE(cpu, d, size, b);
  writeG(cpu, d, size, a);
  // With memory, the exchange that takes a spinlock: nothing changed, the lock was held.
  if (cpu.yieldsOnSpin && d.modrm < 0xc0) {
    if (a !== b) cpu.noteTakenLock();
    else if ((cpu.st[S_EFLAGS] & IF) === 0) cpu.noteFailedSpin();
  }
}

/** 91-97 XCHG eAX, r (90 is NOP). */
export function execXchgAccReg(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const r = d.opcode & 7;
  const a = readReg(cpu, 0, size);
  writeReg(cpu, 0, size, readReg(cpu, r, size));
  writeReg(cpu, r, size, a);
}

/** 8D LEA: the offset alone, truncated to the operand size. */
export function execLea(cpu: Cpu, d: Insn): void {
  writeG(cpu, d, operandSize(d), effectiveAddress(cpu, d));
}

/** C4 LES, C5 LDS, 0F B2 LSS, 0F B4 LFS, 0F B5 LGS: load a far pointer. */
export function execLoadFarPointer(cpu: Cpu, d: Insn): void {
  const opcode = d.opcode;
  const sreg = opcode === 0xc4 ? 0 : opcode === 0xc5 ? 3 : opcode - 0x1b0;
  const size = operandSize(d);
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  const offset = cpu.read(seg, ea, size);
  const selector = cpu.read16(seg, d.a32 ? (ea + (size >> 3)) | 0 : (ea + (size >> 3)) & 0xffff);
  loadSegment(cpu, sreg, selector);
  writeG(cpu, d, size, offset);
  if (sreg === SS) cpu.attention |= ATTN_SHADOW;
}

/** D7 XLAT: AL = [seg:(E)BX + AL]. */
export function execXlat(cpu: Cpu, d: Insn): void {
  const offset = d.a32 ? (cpu.reg[3] + cpu.reg8[0]) | 0 : (cpu.reg16[6] + cpu.reg8[0]) & 0xffff;
  cpu.reg8[0] = cpu.read8(dataSegment(d), offset);
}

/** 98 CBW / CWDE. */
export function execCbw(cpu: Cpu, d: Insn): void {
  if (operandSize(d) === 32) cpu.reg[0] = (cpu.reg[0] << 16) >> 16;
  else cpu.reg16[0] = (cpu.reg8[0] << 24) >> 24;
}

/** 99 CWD / CDQ. */
export function execCwd(cpu: Cpu, d: Insn): void {
  if (operandSize(d) === 32) cpu.reg[2] = cpu.reg[0] >> 31;
  else cpu.reg16[4] = (cpu.reg16[0] << 16) >> 31;
}

/** 9F LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
export function execLahf(cpu: Cpu, d: Insn): void {
  cpu.reg8[1] = getEflags(cpu.st) & 0xff;
}

/** 9E SAHF: SF, ZF, AF, PF, CF from AH. */
export function execSahf(cpu: Cpu, d: Insn): void {
  setArithFlags(cpu.st, SF | ZF | AF | PF | CF, cpu.reg8[1]);
}

/** 90 NOP, 0F 1F NOP r/m, x87 escapes without a coprocessor, WAIT, cache flushes: nothing to do. */
export function execNop(_cpu: Cpu, _d: Insn): void {}

// ------------------------------------------------------------------ the translation cache's forms (emit.ts)

/** execMovEG. */
export const emitMovEG: Emitter = (d) => {
  const size = sizeFromOpcodeBit(d);
  return writeEJs(d, size, regJs(regField(d), size));
};

/** execMovGE. */
export const emitMovGE: Emitter = (d) => {
  const size = sizeFromOpcodeBit(d);
  return setRegJs(regField(d), size, readEJs(d, size));
};

/** execMovEImm. */
export const emitMovEImm: Emitter = (d) => writeEJs(d, sizeFromOpcodeBit(d), String(d.imm));

/** execMovRegImm. */
export const emitMovRegImm: Emitter = (d) => setRegJs(d.opcode & 7, d.opcode < 0xb8 ? 8 : operandSize(d), String(d.imm));

/** execLea. */
export const emitLea: Emitter = (d) => setRegJs(regField(d), operandSize(d), offsetJs(d));

/** execMovExtend. */
export const emitMovExtend: Emitter = (d) => {
  const srcSize = d.opcode & 1 ? 16 : 8;
  const value = readEJs(d, srcSize);
  return setRegJs(regField(d), operandSize(d), d.opcode >= 0x1be ? `signExtend(${value}, ${srcSize})` : value);
};

/** execNop. */
export const emitNop: Emitter = () => '';
