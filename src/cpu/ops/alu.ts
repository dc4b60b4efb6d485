/**
 * Integer arithmetic and logic: the eight ALU operations (ADD OR ADC SBB AND SUB XOR CMP),
 * INC/DEC/NEG/NOT/TEST, in every operand form. The semantics are the small functions at the
 * top; the `exec*` functions bind them to operand forms for the opcode table, and the `emit*`
 * functions write the same bindings with constants for the translation cache (emit.ts).
 */
import type { Cpu } from '../cpu.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { LAZY_ADC, LAZY_ADD, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, getCF, materializeFlags, recordLazy } from '../flags.ts';
import { ARITH_FLAGS, CF } from '../state.ts';
import { operandSize, readE, readEForUpdate, readG, readReg, sizeFromOpcodeBit, writeE, writeG, writeReg } from '../operands.ts';
import { readEJs, regField, regJs, setRegJs, updateEJs, type DeferredFlags, type Emitter, type FlagDeferrer, type FlagEffect, type FlagEffectOf } from '../emit.ts';

/** ALU operations, numbered as opcode bits 5:3 and the group-1 ModRM reg field number them. */
export const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

/** a (op) b, the value alone: what the translation cache runs when the flags are not needed. ADC and SBB read CF. */
export function aluValue(st: Int32Array, op: number, a: number, b: number): number {
  switch (op) {
    case ADD: return addValue(a, b);
    case OR: return orValue(a, b);
    case ADC: return adcValue(st, a, b);
    case SBB: return sbbValue(st, a, b);
    case AND: return andValue(a, b);
    case XOR: return xorValue(a, b);
    default: return subValue(a, b); // SUB, CMP
  }
}

// The values of the operations that read no flag, each its own small function: compiled code
// calls them by name (ALU_VALUE_NAMES), and V8 inlines a small function within even its default
// inlining budget, where aluValue's switch would not fit.
export const addValue = (a: number, b: number): number => (a + b) | 0;
export const orValue = (a: number, b: number): number => a | b;
export const andValue = (a: number, b: number): number => a & b;
export const subValue = (a: number, b: number): number => (a - b) | 0;
export const xorValue = (a: number, b: number): number => a ^ b;
export const adcValue = (st: Int32Array, a: number, b: number): number => (a + b + getCF(st)) | 0;
export const sbbValue = (st: Int32Array, a: number, b: number): number => (a - b - getCF(st)) | 0;
/** The functions above by operation, as compiled code names them (CMP's is SUB's; null: ADC and SBB, which read CF). */
const ALU_VALUE_NAMES = ['addValue', 'orValue', null, null, 'andValue', 'subValue', 'xorValue', 'subValue'] as const;

/** An operation's value as an expression: its own function, or aluValue (ADC, SBB). */
export const aluValueJs = (op: number, a: string, b: string): string => {
  const name = ALU_VALUE_NAMES[op];
  return name === null ? `aluValue(st, ${op}, ${a}, ${b})` : `${name}(${a}, ${b})`;
};

/**
 * The kind of lazy record each ALU operation leaves (flags.ts). A function, not a table: where
 * the translation cache calls alu() with a constant operation, V8 folds it (a load from an
 * array it cannot).
 */
function lazyKindOf(op: number): number {
  switch (op) {
    case ADD: return LAZY_ADD;
    case ADC: return LAZY_ADC;
    case SBB: return LAZY_SBB;
    case SUB: case CMP: return LAZY_SUB;
    default: return LAZY_LOGIC; // OR, AND, XOR
  }
}

/** a (op) b on `size` bits, setting the flags lazily. The result is not truncated. */
export function alu(st: Int32Array, op: number, a: number, b: number, size: number): number {
  return recordLazy(st, lazyKindOf(op), a, b, aluValue(st, op, a, b), size, ARITH_FLAGS);
}

// alu() for each operation, as small functions: the interpreter's hot forms (src/cpu/interpreter.ts)
// and compiled code call them, one per operation, where V8's default inlining budget would not
// hold alu()'s switch at every call site. CMP's is SUB's, the result not kept.
export const aluAdd = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_ADD, a, b, addValue(a, b), size, ARITH_FLAGS);
export const aluOr = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_LOGIC, a, b, orValue(a, b), size, ARITH_FLAGS);
export const aluAdc = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_ADC, a, b, adcValue(st, a, b), size, ARITH_FLAGS);
export const aluSbb = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_SBB, a, b, sbbValue(st, a, b), size, ARITH_FLAGS);
export const aluAnd = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_LOGIC, a, b, andValue(a, b), size, ARITH_FLAGS);
export const aluSub = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_SUB, a, b, subValue(a, b), size, ARITH_FLAGS);
export const aluXor = (st: Int32Array, a: number, b: number, size: number): number => recordLazy(st, LAZY_LOGIC, a, b, xorValue(a, b), size, ARITH_FLAGS);

/** INC's and DEC's values (the translation cache uses them alone when the flags are not needed). */
export const incValue = (a: number): number => (a + 1) | 0;
export const decValue = (a: number): number => (a - 1) | 0;

export function inc(st: Int32Array, a: number, size: number): number {
  materializeFlags(st, CF);
  const r = incValue(a);
  recordLazy(st, LAZY_ADD, a, 1, r, size, ARITH_FLAGS & ~CF);
  return r;
}

export function dec(st: Int32Array, a: number, size: number): number {
  materializeFlags(st, CF);
  const r = decValue(a);
  recordLazy(st, LAZY_SUB, a, 1, r, size, ARITH_FLAGS & ~CF);
  return r;
}

export function neg(st: Int32Array, a: number, size: number): number {
  const r = -a | 0;
  recordLazy(st, LAZY_SUB, 0, a, r, size, ARITH_FLAGS);
  return r;
}

/** TEST: AND for the flags only. */
export function test(st: Int32Array, a: number, b: number, size: number): void {
  recordLazy(st, LAZY_LOGIC, 0, 0, a & b, size, ARITH_FLAGS);
}

// ------------------------------------------------------------------ operand forms

/** 00-3D, low bits 0/1: op E, G (r/m is the destination). */
export function execAluEG(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const op = (opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const modrm = d.modrm;
  const g = readReg(cpu, (modrm >> 3) & 7, size);
  if (modrm >= 0xc0) {
    const rm = modrm & 7;
    const r = alu(st, op, readReg(cpu, rm, size), g, size);
    if (op !== CMP) writeReg(cpu, rm, size, r);
  } else if (op === CMP) {
    alu(st, op, cpu.read(d.eaSeg, effectiveAddress(cpu, d), size), g, size);
  } else {
    writeE(cpu, d, size, alu(st, op, readEForUpdate(cpu, d, size), g, size));
  }
}

/** 02-3B, low bits 2/3: op G, E (the register is the destination). */
export function execAluGE(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const op = (opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const r = alu(st, op, readG(cpu, d, size), readE(cpu, d, size), size);
  if (op !== CMP) writeG(cpu, d, size, r);
}

/** 04-3D, low bits 4/5: op AL/eAX, immediate. */
export function execAluAccImm(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const op = (opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const r = alu(st, op, readReg(cpu, 0, size), d.imm, size);
  if (op !== CMP) writeReg(cpu, 0, size, r);
}

/** 80-83: group 1, op E, immediate (83 sign-extends its byte). */
export function execAluEImm(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const op = (d.modrm >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const imm = size === 32 ? d.imm : d.imm & ((1 << size) - 1);
  if (op === CMP) {
    alu(st, op, readE(cpu, d, size), imm, size);
  } else {
    writeE(cpu, d, size, alu(st, op, readEForUpdate(cpu, d, size), imm, size));
  }
}

/** 40-47 INC r16/r32, 48-4F DEC r16/r32. */
export function execIncDecReg(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const size = operandSize(d);
  const r = opcode & 7;
  const a = readReg(cpu, r, size);
  writeReg(cpu, r, size, opcode < 0x48 ? inc(st, a, size) : dec(st, a, size));
}

/** FE/FF /0 and /1: INC and DEC r/m. */
export function execIncDecE(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  const a = readEForUpdate(cpu, d, size);
  writeE(cpu, d, size, d.modrm & 0x08 ? dec(st, a, size) : inc(st, a, size));
}

/** F6/F7 /2 NOT (no flags) and /3 NEG. */
export function execNotNeg(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  const a = readEForUpdate(cpu, d, size);
  writeE(cpu, d, size, d.modrm & 0x08 ? neg(st, a, size) : ~a);
}

/** 84/85 TEST E, G. */
export function execTestEG(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  test(st, readE(cpu, d, size), readG(cpu, d, size), size);
}

/** A8/A9 TEST AL/eAX, imm. */
export function execTestAccImm(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  test(st, readReg(cpu, 0, size), d.imm, size);
}

/** F6/F7 /0 and /1: TEST E, imm. */
export function execTestEImm(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  test(st, readE(cpu, d, size), d.imm, size);
}

// ------------------------------------------------------------------ the translation cache's forms

/** The ALU operation with its flags, as compiled code calls it: its own function (aluAdd...; CMP's is aluSub), as the interpreter's hot forms do. */
const ALU_NAMES = ['aluAdd', 'aluOr', 'aluAdc', 'aluSbb', 'aluAnd', 'aluSub', 'aluXor', 'aluSub'] as const;
const aluJsCall = (op: number, a: string, b: string, size: number): string => `${ALU_NAMES[op]}(st, ${a}, ${b}, ${size})`;

/** The ALU operation as an expression: with its flags, or its value alone when no flag it sets is live. */
const aluJs = (op: number, a: string, b: string, size: number, flagsLive: boolean): string =>
  flagsLive ? aluJsCall(op, a, b, size) : aluValueJs(op, a, b);

/** execAluEG. */
export const emitAluEG: Emitter = (d, _x, flagsLive) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const g = regJs(regField(d), size);
  if (op === CMP) return flagsLive ? `${aluJsCall(op, readEJs(d, size), g, size)};` : '';
  return updateEJs(d, size, (a) => aluJs(op, a, g, size, flagsLive));
};

/** execAluGE. */
export const emitAluGE: Emitter = (d, _x, flagsLive) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const result = aluJs(op, regJs(regField(d), size), readEJs(d, size), size, flagsLive);
  if (op === CMP) return flagsLive ? `${result};` : '';
  return setRegJs(regField(d), size, result);
};

/** execAluAccImm. */
export const emitAluAccImm: Emitter = (d, _x, flagsLive) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const result = aluJs(op, regJs(0, size), String(d.imm), size, flagsLive);
  if (op === CMP) return flagsLive ? `${result};` : '';
  return setRegJs(0, size, result);
};

/** execAluEImm. */
export const emitAluEImm: Emitter = (d, _x, flagsLive) => {
  const op = (d.modrm >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  const imm = String(size === 32 ? d.imm : d.imm & ((1 << size) - 1));
  if (op === CMP) return flagsLive ? `${aluJsCall(op, readEJs(d, size), imm, size)};` : '';
  return updateEJs(d, size, (a) => aluJs(op, a, imm, size, flagsLive));
};

/** INC or DEC as an expression: inc()/dec(), or the value alone when no flag it sets is live. */
const incDecJs = (isDec: boolean, a: string, size: number, flagsLive: boolean): string =>
  flagsLive ? `${isDec ? 'dec' : 'inc'}(st, ${a}, ${size})` : `${isDec ? 'decValue' : 'incValue'}(${a})`;

/** execIncDecReg. */
export const emitIncDecReg: Emitter = (d, _x, flagsLive) => {
  const size = operandSize(d);
  const n = d.opcode & 7;
  return setRegJs(n, size, incDecJs(d.opcode >= 0x48, regJs(n, size), size, flagsLive));
};

/** execIncDecE. */
export const emitIncDecE: Emitter = (d, _x, flagsLive) => {
  const size = sizeFromOpcodeBit(d);
  return updateEJs(d, size, (a) => incDecJs((d.modrm & 0x08) !== 0, a, size, flagsLive));
};

/** execTestEG. */
export const emitTestEG: Emitter = (d, _x, flagsLive) => {
  const size = sizeFromOpcodeBit(d);
  return flagsLive ? `test(st, ${readEJs(d, size)}, ${regJs(regField(d), size)}, ${size});` : '';
};

/** execTestAccImm. */
export const emitTestAccImm: Emitter = (d, _x, flagsLive) => {
  const size = sizeFromOpcodeBit(d);
  return flagsLive ? `test(st, ${regJs(0, size)}, ${d.imm}, ${size});` : '';
};

// The deferred forms (emit.ts, DeferredFlags): the form as written out above with its flags
// dead, its operands caught in the locals t0 and t1 as they are read; the result recomputed
// from them. Not ADC or SBB, which read CF.

/** An ALU operation deferred (not ADC or SBB): `js` catches its operands in `t`0 and `t`1. */
function deferredAlu(op: number, size: number, t: string, js: string): DeferredFlags | null {
  if (op === ADC || op === SBB) return null;
  return { js, result: aluValueJs(op, `${t}0`, `${t}1`), size, record: `${aluJsCall(op, `${t}0`, `${t}1`, size)};` };
}
/** Its statements: a and b caught as they are read, the value stored by `store` (none for CMP). */
const caughtJs = (op: number, a: string, b: string, t: string, store: (value: string) => string) =>
  op === CMP ? `${t}0 = ${a}; ${t}1 = ${b};` : store(aluValueJs(op, `(${t}0 = ${a})`, `(${t}1 = ${b})`));

/** The statements of E (op) b into E: CMP reads E, the others update it in place. */
const intoEJs = (d: Insn, op: number, size: number, b: string, t: string) =>
  op === CMP ? caughtJs(op, readEJs(d, size), b, t, () => '') : updateEJs(d, size, (a) => aluValueJs(op, `(${t}0 = ${a})`, `(${t}1 = ${b})`));

export const deferAluEG: FlagDeferrer = (d, t) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  return deferredAlu(op, size, t, intoEJs(d, op, size, regJs(regField(d), size), t));
};
export const deferAluGE: FlagDeferrer = (d, t) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  return deferredAlu(op, size, t, caughtJs(op, regJs(regField(d), size), readEJs(d, size), t, (v) => setRegJs(regField(d), size, v)));
};
export const deferAluAccImm: FlagDeferrer = (d, t) => {
  const op = (d.opcode >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  return deferredAlu(op, size, t, caughtJs(op, regJs(0, size), String(d.imm), t, (v) => setRegJs(0, size, v)));
};
export const deferAluEImm: FlagDeferrer = (d, t) => {
  const op = (d.modrm >> 3) & 7;
  const size = sizeFromOpcodeBit(d);
  return deferredAlu(op, size, t, intoEJs(d, op, size, String(size === 32 ? d.imm : d.imm & ((1 << size) - 1)), t));
};
const incDecDeferred = (isDec: boolean, size: number, t: string, js: string): DeferredFlags => ({
  js, result: `${isDec ? 'decValue' : 'incValue'}(${t}0)`, size, record: `${isDec ? 'dec' : 'inc'}(st, ${t}0, ${size});`,
});
export const deferIncDecReg: FlagDeferrer = (d, t) => {
  const size = operandSize(d);
  const n = d.opcode & 7;
  const isDec = d.opcode >= 0x48;
  return incDecDeferred(isDec, size, t, setRegJs(n, size, `${isDec ? 'decValue' : 'incValue'}(${t}0 = ${regJs(n, size)})`));
};
export const deferIncDecE: FlagDeferrer = (d, t) => {
  const size = sizeFromOpcodeBit(d);
  const isDec = (d.modrm & 0x08) !== 0;
  return incDecDeferred(isDec, size, t, updateEJs(d, size, (a) => `${isDec ? 'decValue' : 'incValue'}(${t}0 = ${a})`));
};
const testDeferred = (a: string, b: string, size: number, t: string): DeferredFlags => ({
  js: `${t}0 = ${a}; ${t}1 = ${b};`, result: aluValueJs(AND, `${t}0`, `${t}1`), size, record: `test(st, ${t}0, ${t}1, ${size});`,
});
export const deferTestEG: FlagDeferrer = (d, t) => testDeferred(readEJs(d, sizeFromOpcodeBit(d)), regJs(regField(d), sizeFromOpcodeBit(d)), sizeFromOpcodeBit(d), t);
export const deferTestAccImm: FlagDeferrer = (d, t) => testDeferred(regJs(0, sizeFromOpcodeBit(d)), String(d.imm), sizeFromOpcodeBit(d), t);

// What each form does to the flags (emit.ts, FlagEffect). Register forms are quiet: they can
// neither fault nor need the run loop. INC and DEC leave CF; ADC and SBB read it.
const aluEffect = (op: number, quiet: boolean): FlagEffect => ({ reads: op === ADC || op === SBB ? CF : 0, writes: ARITH_FLAGS, quiet });
export const flagsAluEGorGE: FlagEffectOf = (d) => aluEffect((d.opcode >> 3) & 7, d.modrm >= 0xc0);
export const flagsAluAccImm: FlagEffectOf = (d) => aluEffect((d.opcode >> 3) & 7, true);
export const flagsAluEImm: FlagEffectOf = (d) => aluEffect((d.modrm >> 3) & 7, d.modrm >= 0xc0);
export const flagsIncDec: FlagEffectOf = (d) => ({ reads: 0, writes: ARITH_FLAGS & ~CF, quiet: d.opcode < 0x50 || d.modrm >= 0xc0 });
export const flagsTest: FlagEffectOf = (d) => ({ reads: 0, writes: ARITH_FLAGS, quiet: d.opcode === 0xa8 || d.opcode === 0xa9 || d.modrm >= 0xc0 });
