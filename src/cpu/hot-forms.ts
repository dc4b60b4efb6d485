/**
 * The interpreter's hot forms. Every decoded instruction can run through its `execute`, the
 * semantics function of its opcode-table entry, written once for every operand size and form.
 * Called through a field from the run loop, that call is megamorphic: V8 can neither inline it
 * nor call it directly, and takes its generic call path (on the loop benchmark, a third of the
 * interpreter's time); and the generic function then asks again what the decoder already knew
 * (operand size, register or memory, which operation).
 *
 * So the forms compiled code is made of (32-bit operands, registers and memory) get a number
 * when they are decoded (`Insn.hot`, chosen by the opcode-table entry's `hot` function below, a
 * form for each operation: `AddRR`, `XorRI`, `JccE`...), with their registers in `Insn.dst` and
 * `src`, and the interpreter's block loop (interpreter.ts) runs them from one switch: each case
 * calls the operation's own small semantic function (aluAdd, rotateLeft, equal), which V8
 * inlines. Everything else (16- and 8-bit operands, every other opcode) has `hot` 0 and goes
 * through `execute` as before.
 *
 * They call the same semantic functions as the generic forms (alu's per operation, inc, dec,
 * the shifts, the conditions, jumpNear, push, pop); a memory operand the TLB does not serve at
 * once goes the way compiled code takes (readSeg, readForUpdate, writeSeg: emit.ts), and one it
 * serves is read and written in place, as there. So an instruction's meaning is still written
 * once; test/cpu/hot-forms.test.ts runs each hot form and its generic form from the same random
 * states and compares everything they leave. What is here: the forms' numbers, the few bindings
 * longer than a line (the register ones are written out in the switch), and the choosers.
 */
import type { Cpu } from './cpu.ts';
import { flagsLiveAfter } from './emit.ts';
import { CMP } from './ops/alu.ts';
import type { Insn } from './insn.ts';
import { ROL, ROR, SAL, SAR, shift, SHL, SHR } from './ops/shift.ts';
import { S_FLAT_SEGMENTS } from './state.ts';

/** The hot forms (32-bit operands unless said). */
export const enum Hot {
  None = 0,
  // An ALU operation between registers (00-3D with a register r/m, in either direction): dst
  // (op)= src; and of a register and an immediate (81, 83 with a register, 05-3D on eAX): dst
  // (op)= imm. A form for each operation, in their order (ops/alu.ts ADD...CMP).
  AddRR, OrRR, AdcRR, SbbRR, AndRR, SubRR, XorRR, CmpRR,
  AddRI, OrRI, AdcRI, SbbRI, AndRI, SubRI, XorRI, CmpRI,
  // Their values alone, for an instruction in a block whose flags nobody can see (flagsLiveAfter):
  // in the interpreter as in compiled code, its lazy record is not written. (Not ADC and SBB.)
  AddRRValue, OrRRValue, AndRRValue, SubRRValue, XorRRValue,
  AddRIValue, OrRIValue, AndRIValue, SubRIValue, XorRIValue,
  Unseen, // CMP or TEST between registers, flags unseen: nothing at all
  // A shift of a register by an immediate or by 1 (C1, D1): dst by src (the count, not 0).
  RolR, RorR, ShlR, ShrR, SarR,
  ShiftReg, // the others: RCL, RCR
  // Jcc rel8 / rel16/32, any operand size (jumpNear truncates): one form for each condition and
  // its negation (flags.ts's eight, in their order).
  JccO, JccB, JccE, JccBE, JccS, JccP, JccL, JccLE,
  IncReg,
  DecReg,
  IncRegValue,
  DecRegValue,
  MovRR, // 89 or 8B between registers: dst = src
  MovRegImm, // B8+r
  TestRR, // 85 with a register r/m
  // The generic forms called directly: no size of theirs to fold, but no megamorphic call either.
  Lea,
  PushReg,
  PopReg,
  CallRel,
  JmpRel,
  RetNear,
  MovExtend,
  // The forms with a dword memory operand: the interpreter finds it before it runs them (its
  // offset, and its host address when the TLB serves it at once). First those that read it:
  AddRM, OrRM, AdcRM, SbbRM, AndRM, SubRM, XorRM, CmpRM, // dst (op)= m32 (00-3D, low bits 11)
  CmpMR, // CMP m32, src
  CmpMI, // CMP m32, imm
  MovRegMem, // 8B: dst = m32
  // then those that write it (CMP, which does not, is above):
  AddMR, OrMR, AdcMR, SbbMR, AndMR, SubMR, XorMR, // m32 (op)= src (00-3D, low bits 01)
  AddMI, OrMI, AdcMI, SbbMI, AndMI, SubMI, XorMI, // m32 (op)= imm (81, 83)
  MovMemReg, // 89: m32 = src
  MovMemImm, // C7 /0: m32 = imm
}

/** The first form with a memory operand, and the first that writes it (see above). */
export const FIRST_MEMORY_FORM = Hot.AddRM;
export const FIRST_WRITING_FORM = Hot.AddMR;

// ------------------------------------------------------------------ the bindings (32-bit operands)
// Those of the register forms are one line each, in the interpreter's switch (interpreter.ts).

// Memory operands (32 bits): the interpreter passes their offset and, when the TLB serves them
// at once, their host address (else -1: they go the way compiled code goes, readSeg...).

/** The dword operand at `ea`, at host address `at` when not -1. */
export function load(cpu: Cpu, d: Insn, at: number, ea: number): number {
  return at >= 0 ? cpu.mem32[at >> 2] : cpu.readSeg(cpu.st[S_FLAT_SEGMENTS], d.eaSeg, ea, 32);
}
/** The same for a read-modify-write: a write is checked first (readEForUpdate's order). */
export function loadForUpdate(cpu: Cpu, d: Insn, at: number, ea: number): number {
  return at >= 0 ? cpu.mem32[at >> 2] : cpu.readForUpdate(d.eaSeg, ea, 32);
}
/** Writes the dword operand. */
export function store(cpu: Cpu, d: Insn, at: number, ea: number, value: number): void {
  if (at >= 0) cpu.mem32[at >> 2] = value;
  else cpu.writeSeg(cpu.st[S_FLAT_SEGMENTS], d.eaSeg, ea, value, 32);
}

/** execShiftGroup with a register r/m, by imm8 or by 1: RCL and RCR (the others have forms of their own). */
export function shiftReg(cpu: Cpu, d: Insn): void {
  const reg = cpu.reg;
  reg[d.dst] = shift(cpu.st, (d.modrm >> 3) & 7, reg[d.dst], d.src, 32);
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
    if (!live[k]) insns[k].hot = withoutFlags(insns[k].hot);
  }
}

function withoutFlags(form: number): number {
  switch (form) {
    case Hot.AddRR: return Hot.AddRRValue;
    case Hot.OrRR: return Hot.OrRRValue;
    case Hot.AndRR: return Hot.AndRRValue;
    case Hot.SubRR: return Hot.SubRRValue;
    case Hot.XorRR: return Hot.XorRRValue;
    case Hot.AddRI: return Hot.AddRIValue;
    case Hot.OrRI: return Hot.OrRIValue;
    case Hot.AndRI: return Hot.AndRIValue;
    case Hot.SubRI: return Hot.SubRIValue;
    case Hot.XorRI: return Hot.XorRIValue;
    case Hot.CmpRR: case Hot.CmpRI: case Hot.TestRR: return Hot.Unseen;
    case Hot.IncReg: return Hot.IncRegValue;
    case Hot.DecReg: return Hot.DecRegValue;
    default: return form; // ADC and SBB read CF: they keep their flags forms
  }
}

/** A register form: its registers decoded into d (dst, src), its number returned. */
function registers(d: Insn, form: number, dst: number, src: number): number {
  d.dst = dst;
  d.src = src;
  return form;
}

/** 00-3D with a ModRM byte, E,G (low bits 01) or G,E (11): 32-bit operands only. */
export function hotAlu(d: Insn): number {
  if ((d.opcode & 1) === 0 || d.o32 === 0) return Hot.None;
  const op = (d.opcode >> 3) & 7;
  const rm = d.modrm & 7, g = (d.modrm >> 3) & 7;
  if (d.modrm < 0xc0) {
    if ((d.opcode & 2) !== 0) return registers(d, Hot.AddRM + op, g, -1);
    return registers(d, op === CMP ? Hot.CmpMR : Hot.AddMR + op, -1, g);
  }
  return (d.opcode & 2) === 0 ? registers(d, Hot.AddRR + op, rm, g) : registers(d, Hot.AddRR + op, g, rm);
}

/** 05-3D eAX, imm32. */
export function hotAluEaxImm(d: Insn): number {
  return d.o32 === 0 ? Hot.None : registers(d, Hot.AddRI + ((d.opcode >> 3) & 7), 0, -1);
}

/** 81, 83 group 1. */
export function hotAluImm(d: Insn): number {
  if (d.o32 === 0) return Hot.None;
  const op = (d.modrm >> 3) & 7;
  return d.modrm >= 0xc0 ? registers(d, Hot.AddRI + op, d.modrm & 7, -1) : op === CMP ? Hot.CmpMI : Hot.AddMI + op;
}

/** C1 and D1 group 2 with a register (C1 by 0 changes nothing: its generic form). */
export function hotShift(d: Insn): number {
  if (d.o32 === 0 || d.modrm < 0xc0) return Hot.None;
  const count = d.opcode === 0xc1 ? d.imm & 31 : 1;
  if (count === 0) return Hot.None;
  const op = (d.modrm >> 3) & 7;
  const form = op === ROL ? Hot.RolR : op === ROR ? Hot.RorR : op === SHL || op === SAL ? Hot.ShlR : op === SHR ? Hot.ShrR : op === SAR ? Hot.SarR : Hot.ShiftReg;
  return registers(d, form, d.modrm & 7, count);
}

/** 70-7F, 0F 80-8F. */
export function hotJcc(d: Insn): number {
  return Hot.JccO + ((d.opcode & 15) >> 1);
}

/** 40-4F. */
export function hotIncDec(d: Insn): number {
  return d.o32 === 0 ? Hot.None : registers(d, d.opcode < 0x48 ? Hot.IncReg : Hot.DecReg, d.opcode & 7, -1);
}

/** 89 and 8B. */
export function hotMov(d: Insn): number {
  if (d.o32 === 0) return Hot.None;
  const rm = d.modrm & 7, g = (d.modrm >> 3) & 7;
  if (d.modrm < 0xc0) return d.opcode === 0x89 ? registers(d, Hot.MovMemReg, -1, g) : registers(d, Hot.MovRegMem, g, -1);
  return d.opcode === 0x89 ? registers(d, Hot.MovRR, rm, g) : registers(d, Hot.MovRR, g, rm);
}

/** B8-BF. */
export function hotMovRegImm(d: Insn): number {
  return d.o32 === 0 ? Hot.None : registers(d, Hot.MovRegImm, d.opcode & 7, -1);
}

/** C7 /0 to memory. */
export function hotMovMemImm(d: Insn): number {
  return d.o32 === 0 || d.modrm >= 0xc0 ? Hot.None : Hot.MovMemImm;
}

/** 85 with a register. */
export function hotTest(d: Insn): number {
  return d.o32 === 0 || d.modrm < 0xc0 ? Hot.None : registers(d, Hot.TestRR, d.modrm & 7, (d.modrm >> 3) & 7);
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
