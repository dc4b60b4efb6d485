/**
 * The interpreter's hot forms. Every decoded instruction can run through its `execute`, the
 * semantics function of its opcode-table entry, written once for every operand size and form.
 * Called through a field from the run loop, that call is megamorphic: V8 can neither inline it
 * nor call it directly, and takes its generic call path (on the loop benchmark, a third of the
 * interpreter's time); and the generic function then asks again what the decoder already knew
 * (operand size, register or memory, which operation).
 *
 * So the forms compiled code is made of — 32-bit operands, registers and memory — get a number
 * when they are decoded (`Insn.hot`, chosen by the opcode-table entry's `hot` function below),
 * and `interpret` runs them from one switch by direct calls that pass the operation as a
 * constant: V8 inlines the call and folds the operation's switch. Everything else (16- and
 * 8-bit operands, every other opcode) has `hot` 0 and goes through `execute` as before.
 *
 * The bindings call the same semantic functions as the generic forms (alu, inc, dec, shift,
 * testCondition, jumpNear, push, pop) and reach memory as compiled code does (emit.ts), so an
 * instruction's meaning is still written once; test/cpu/hot-forms.test.ts runs each hot form and
 * its generic form from the same random states and compares everything they leave.
 */
import type { Cpu } from './cpu.ts';
import { flagsLiveAfter } from './emit.ts';
import { testCondition } from './flags.ts';
import { effectiveAddress, type Insn } from './insn.ts';
import { alu, aluValue, CMP, dec, decValue, inc, incValue, test } from './ops/alu.ts';
import { execCallRel, execJmpRel, execRetNear, jumpNear } from './ops/control.ts';
import { execLea, execMovExtend } from './ops/move.ts';
import { shift } from './ops/shift.ts';
import { execPopReg, execPushReg } from './ops/stack.ts';
import { S_EIP, S_FLAT_SEGMENTS } from './state.ts';

/** The hot forms (32-bit operands unless said). */
const enum Hot {
  None = 0,
  AluRegReg, // op r/m32, r32 with a register r/m (00-3D, low bits 01)
  AluMemReg, // op m32, r32
  AluRegMem, // op r32, m32 (low bits 11)
  AluRegGReg, // op r32, r/m32 with a register r/m
  AluRegImm, // op r32, imm (81, 83)
  AluMemImm, // op m32, imm
  AluEaxImm, // op eAX, imm32 (05-3D)
  ShiftRegImm, // shift r32, imm8 (C1)
  ShiftReg1, // shift r32, 1 (D1)
  Jcc, // Jcc rel8 / rel16/32, any operand size (jumpNear truncates)
  IncReg,
  DecReg,
  // The value alone, for an instruction in a block whose flags nobody can see (flagsLiveAfter):
  // in the interpreter as in compiled code, its lazy record is not written.
  AluRegRegValue,
  AluRegGRegValue,
  AluRegImmValue,
  AluEaxImmValue,
  IncRegValue,
  DecRegValue,
  Unseen, // CMP or TEST between registers: nothing at all
  MovRegReg, // 89 to a register
  MovMemReg, // 89 to memory
  MovRegGReg, // 8B from a register
  MovRegMem, // 8B from memory
  MovRegImm, // B8+r
  MovMemImm, // C7 /0 to memory
  TestRegReg, // 85 with a register r/m
  // The generic forms called directly: no size of theirs to fold, but no megamorphic call either.
  Lea,
  PushReg,
  PopReg,
  CallRel,
  JmpRel,
  RetNear,
  MovExtend,
}

/**
 * Runs one decoded instruction: its hot form when it has one, else its semantics function.
 * Kept small enough for V8 to inline into the run loop (a case per form, the operation read
 * from the Insn in the form's function), so the forms' functions are inlined there too.
 */
export function interpret(cpu: Cpu, d: Insn): void {
  switch (d.hot) {
    case Hot.AluRegReg: aluRegReg(cpu, d); return;
    case Hot.AluMemReg: aluMemReg(cpu, d); return;
    case Hot.AluRegMem: aluRegMem(cpu, d); return;
    case Hot.AluRegGReg: aluRegGReg(cpu, d); return;
    case Hot.AluRegImm: aluRegImm(cpu, d); return;
    case Hot.AluMemImm: aluMemImm(cpu, d); return;
    case Hot.AluEaxImm: aluEaxImm(cpu, d); return;
    case Hot.ShiftRegImm: shiftRegImm(cpu, d); return;
    case Hot.ShiftReg1: shiftReg1(cpu, d); return;
    case Hot.Jcc: jcc(cpu, d); return;
    case Hot.IncReg: incReg(cpu, d); return;
    case Hot.DecReg: decReg(cpu, d); return;
    case Hot.AluRegRegValue: aluRegRegValue(cpu, d); return;
    case Hot.AluRegGRegValue: aluRegGRegValue(cpu, d); return;
    case Hot.AluRegImmValue: aluRegImmValue(cpu, d); return;
    case Hot.AluEaxImmValue: aluEaxImmValue(cpu, d); return;
    case Hot.IncRegValue: incRegValue(cpu, d); return;
    case Hot.DecRegValue: decRegValue(cpu, d); return;
    case Hot.Unseen: return;
    case Hot.MovRegReg: movRegReg(cpu, d); return;
    case Hot.MovMemReg: movMemReg(cpu, d); return;
    case Hot.MovRegGReg: movRegGReg(cpu, d); return;
    case Hot.MovRegMem: movRegMem(cpu, d); return;
    case Hot.MovRegImm: movRegImm(cpu, d); return;
    case Hot.MovMemImm: movMemImm(cpu, d); return;
    case Hot.TestRegReg: testRegReg(cpu, d); return;
    case Hot.Lea: execLea(cpu, d); return;
    case Hot.PushReg: execPushReg(cpu, d); return;
    case Hot.PopReg: execPopReg(cpu, d); return;
    case Hot.CallRel: execCallRel(cpu, d); return;
    case Hot.JmpRel: execJmpRel(cpu, d); return;
    case Hot.RetNear: execRetNear(cpu, d); return;
    case Hot.MovExtend: execMovExtend(cpu, d); return;
    default: d.execute(cpu, d); // Hot.None
  }
}

// ------------------------------------------------------------------ the bindings (32-bit operands)

/** execAluEG with a register r/m. */
function aluRegReg(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const op = (d.opcode >> 3) & 7;
  const rm = d.modrm & 7;
  const r = alu(cpu.st, op, reg[rm], reg[(d.modrm >> 3) & 7], 32);
  if (op !== CMP) reg[rm] = r;
}

/** execAluGE with a register r/m. */
function aluRegGReg(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const op = (d.opcode >> 3) & 7;
  const g = (d.modrm >> 3) & 7;
  const r = alu(cpu.st, op, reg[g], reg[d.modrm & 7], 32);
  if (op !== CMP) reg[g] = r;
}

/** execAluGE with a memory r/m. */
function aluRegMem(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const reg = cpu.reg;
  const op = (d.opcode >> 3) & 7;
  const g = (d.modrm >> 3) & 7;
  const r = alu(st, op, reg[g], cpu.readSeg(st[S_FLAT_SEGMENTS], d.eaSeg, effectiveAddress(cpu, d), 32), 32);
  if (op !== CMP) reg[g] = r;
}

/** execAluEImm with a register r/m. */
function aluRegImm(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const op = (d.modrm >> 3) & 7;
  const rm = d.modrm & 7;
  const r = alu(cpu.st, op, reg[rm], d.imm, 32);
  if (op !== CMP) reg[rm] = r;
}

/** execAluAccImm. */
function aluEaxImm(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const op = (d.opcode >> 3) & 7;
  const r = alu(cpu.st, op, reg[0], d.imm, 32);
  if (op !== CMP) reg[0] = r;
}

/** execAluEG with a memory r/m. */
function aluMemReg(cpu: Cpu, d: Insn): void {
  updateMemory(cpu, d, (d.opcode >> 3) & 7, cpu.reg[(d.modrm >> 3) & 7]);
}

/** execAluEImm with a memory r/m. */
function aluMemImm(cpu: Cpu, d: Insn): void {
  updateMemory(cpu, d, (d.modrm >> 3) & 7, d.imm);
}

/**
 * execAluEG and execAluEImm with a memory r/m: m32 (op)= b, as updateEJs writes it for compiled
 * code. One translation serves the read and the write when the TLB allows; else the write is
 * checked before the read (readEForUpdate's order). CMP only reads.
 */
function updateMemory(cpu: Cpu, d: Insn, op: number, b: number): void {
  const st = cpu.st;
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  if (op === CMP) {
    alu(st, op, cpu.readSeg(st[S_FLAT_SEGMENTS], seg, ea, 32), b, 32);
    return;
  }
  const at = cpu.hostForUpdate(st[S_FLAT_SEGMENTS], seg, ea, 32);
  const r = alu(st, op, at >= 0 ? cpu.hostRead(at, 32) : cpu.readForUpdate(seg, ea, 32), b, 32);
  if (at >= 0) cpu.hostWrite(at, 32, r);
  else cpu.write(seg, ea, r, 32);
}

/** execShiftGroup with a register r/m: by imm8, by 1. */
function shiftRegImm(cpu: Cpu, d: Insn): void {
  shiftReg(cpu, d, d.imm & 31);
}
function shiftReg1(cpu: Cpu, d: Insn): void {
  shiftReg(cpu, d, 1);
}
function shiftReg(cpu: Cpu, d: Insn, count: number): void {
  if (count === 0) return;
  const reg = cpu.reg;
  const rm = d.modrm & 7;
  reg[rm] = shift(cpu.st, (d.modrm >> 3) & 7, reg[rm], count, 32);
}

/** execIncDecReg. */
function incReg(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const n = d.opcode & 7;
  reg[n] = inc(cpu.st, reg[n], 32);
}
function decReg(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const n = d.opcode & 7;
  reg[n] = dec(cpu.st, reg[n], 32);
}

// Their values alone (CMP's is nothing: Unseen).
function aluRegRegValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const rm = d.modrm & 7;
  reg[rm] = aluValue(cpu.st, (d.opcode >> 3) & 7, reg[rm], reg[(d.modrm >> 3) & 7]);
}
function aluRegGRegValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const g = (d.modrm >> 3) & 7;
  reg[g] = aluValue(cpu.st, (d.opcode >> 3) & 7, reg[g], reg[d.modrm & 7]);
}
function aluRegImmValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const rm = d.modrm & 7;
  reg[rm] = aluValue(cpu.st, (d.modrm >> 3) & 7, reg[rm], d.imm);
}
function aluEaxImmValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  reg[0] = aluValue(cpu.st, (d.opcode >> 3) & 7, reg[0], d.imm);
}
function incRegValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const n = d.opcode & 7;
  reg[n] = incValue(reg[n]);
}
function decRegValue(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  const n = d.opcode & 7;
  reg[n] = decValue(reg[n]);
}

/** execMovEG and execMovGE, execMovRegImm and execMovEImm. */
function movRegReg(cpu: Cpu, d: Insn): void {
  cpu.reg[d.modrm & 7] = cpu.reg[(d.modrm >> 3) & 7];
}
function movMemReg(cpu: Cpu, d: Insn): void {
  cpu.writeSeg(cpu.st[S_FLAT_SEGMENTS], d.eaSeg, effectiveAddress(cpu, d), cpu.reg[(d.modrm >> 3) & 7], 32);
}
function movRegGReg(cpu: Cpu, d: Insn): void {
  cpu.reg[(d.modrm >> 3) & 7] = cpu.reg[d.modrm & 7];
}
function movRegMem(cpu: Cpu, d: Insn): void {
  cpu.reg[(d.modrm >> 3) & 7] = cpu.readSeg(cpu.st[S_FLAT_SEGMENTS], d.eaSeg, effectiveAddress(cpu, d), 32);
}
function movRegImm(cpu: Cpu, d: Insn): void {
  cpu.reg[d.opcode & 7] = d.imm;
}
function movMemImm(cpu: Cpu, d: Insn): void {
  cpu.writeSeg(cpu.st[S_FLAT_SEGMENTS], d.eaSeg, effectiveAddress(cpu, d), d.imm, 32);
}

/** execTestEG with a register r/m. */
function testRegReg(cpu: Cpu, d: Insn): void {
  test(cpu.st, cpu.reg[d.modrm & 7], cpu.reg[(d.modrm >> 3) & 7], 32);
}

/** execJcc. */
function jcc(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  if (testCondition(st, d.opcode & 15)) jumpNear(cpu, d, st[S_EIP] + d.imm);
}

// ------------------------------------------------------------------ choosing (the opcode table's `hot`)

/**
 * Marks the instructions of a decoded block whose flags nobody can see (flagsLiveAfter) to run
 * as their values alone. The run loop enters a block's hot forms only with nothing pending
 * (cpu.attention 0): a single-step trap after the first instruction would see its flags.
 */
export function dropDeadFlags(insns: readonly Insn[]): void {
  const { live } = flagsLiveAfter(insns);
  for (let k = 0; k < insns.length; k++) {
    if (!live[k]) insns[k].hot = withoutFlags(insns[k]);
  }
}

function withoutFlags(d: Insn): number {
  const compare = (d.hot === Hot.AluRegImm ? (d.modrm >> 3) & 7 : (d.opcode >> 3) & 7) === CMP;
  switch (d.hot) {
    case Hot.AluRegReg: return compare ? Hot.Unseen : Hot.AluRegRegValue;
    case Hot.AluRegGReg: return compare ? Hot.Unseen : Hot.AluRegGRegValue;
    case Hot.AluRegImm: return compare ? Hot.Unseen : Hot.AluRegImmValue;
    case Hot.AluEaxImm: return compare ? Hot.Unseen : Hot.AluEaxImmValue;
    case Hot.IncReg: return Hot.IncRegValue;
    case Hot.DecReg: return Hot.DecRegValue;
    case Hot.TestRegReg: return Hot.Unseen;
    default: return d.hot;
  }
}

/** 00-3D with a ModRM byte, E,G (low bits 01) or G,E (11): 32-bit operands only. */
export function hotAlu(d: Insn): number {
  if ((d.opcode & 1) === 0 || d.o32 === 0) return Hot.None;
  const register = d.modrm >= 0xc0;
  if ((d.opcode & 2) === 0) return register ? Hot.AluRegReg : Hot.AluMemReg;
  return register ? Hot.AluRegGReg : Hot.AluRegMem;
}

/** 05-3D eAX, imm32. */
export function hotAluEaxImm(d: Insn): number {
  return d.o32 === 0 ? Hot.None : Hot.AluEaxImm;
}

/** 81, 83 group 1. */
export function hotAluImm(d: Insn): number {
  if (d.o32 === 0) return Hot.None;
  return d.modrm >= 0xc0 ? Hot.AluRegImm : Hot.AluMemImm;
}

/** C1 and D1 group 2 with a register. */
export function hotShift(d: Insn): number {
  if (d.o32 === 0 || d.modrm < 0xc0) return Hot.None;
  return d.opcode === 0xc1 ? Hot.ShiftRegImm : Hot.ShiftReg1;
}

export function hotJcc(): number {
  return Hot.Jcc;
}

/** 40-4F. */
export function hotIncDec(d: Insn): number {
  return d.o32 === 0 ? Hot.None : d.opcode < 0x48 ? Hot.IncReg : Hot.DecReg;
}

/** 89 and 8B. */
export function hotMov(d: Insn): number {
  if (d.o32 === 0) return Hot.None;
  const register = d.modrm >= 0xc0;
  if (d.opcode === 0x89) return register ? Hot.MovRegReg : Hot.MovMemReg;
  return register ? Hot.MovRegGReg : Hot.MovRegMem;
}

/** B8-BF. */
export function hotMovRegImm(d: Insn): number {
  return d.o32 === 0 ? Hot.None : Hot.MovRegImm;
}

/** C7 /0 to memory. */
export function hotMovMemImm(d: Insn): number {
  return d.o32 === 0 || d.modrm >= 0xc0 ? Hot.None : Hot.MovMemImm;
}

/** 85 with a register. */
export function hotTest(d: Insn): number {
  return d.o32 === 0 || d.modrm < 0xc0 ? Hot.None : Hot.TestRegReg;
}

// The generic forms called directly.
export function hotLea(): number {
  return Hot.Lea;
}
export function hotPushReg(): number {
  return Hot.PushReg;
}
export function hotPopReg(): number {
  return Hot.PopReg;
}
export function hotCallRel(): number {
  return Hot.CallRel;
}
export function hotJmpRel(): number {
  return Hot.JmpRel;
}
export function hotRetNear(): number {
  return Hot.RetNear;
}
export function hotMovExtend(): number {
  return Hot.MovExtend;
}
