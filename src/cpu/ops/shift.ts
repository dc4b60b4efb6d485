/**
 * Shifts and rotates: ROL ROR RCL RCR SHL SHR SAL SAR (group 2: by 1, by CL, by imm8) and
 * SHLD/SHRD. The count is masked to 5 bits, as on a 386. A masked count of 0 changes nothing,
 * not even the flags. OF is defined for 1-bit shifts; for longer ones this CPU computes it by
 * the same rule, as a 386 does.
 */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { LAZY_LOGIC, getCF, recordLazy, setArithFlags } from '../flags.ts';
import { ARITH_FLAGS, CF, OF, PF, SF, ZF, AF } from '../state.ts';
import { operandSize, readEForUpdate, readG, sizeFromOpcodeBit, writeE } from '../operands.ts';
import { READS_EVERY_FLAG, regJs, setRegJs, updateEJs, type Emitter, type FlagDeferrer, type FlagEffectOf } from '../emit.ts';

export const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAL = 6, SAR = 7;

/** Flags for a shift result: SF/ZF/PF from the value (lazily), CF and OF eagerly. */
function shiftFlags(st: Int32Array, result: number, size: number, cf: number, of: boolean): void {
  recordLazy(st, LAZY_LOGIC, 0, 0, result, size, SF | ZF | PF | AF);
  setArithFlags(st, CF | OF, cf | (of ? OF : 0));
}

// Each operation on `a` (zero-extended, `size` bits) by `count` (already masked, non-zero).
// They are separate functions, small enough for V8 to inline where the translation cache calls
// one with constant operands.

// Their values alone, for the translation cache where nobody reads the flags they set.
export function rotateLeftValue(a: number, count: number, size: number): number {
  const n = count % size;
  return n === 0 ? a : ((a << n) | (a >>> (size - n))) & (size === 32 ? -1 : (1 << size) - 1);
}
export function rotateRightValue(a: number, count: number, size: number): number {
  const n = count % size;
  return n === 0 ? a : ((a >>> n) | (a << (size - n))) & (size === 32 ? -1 : (1 << size) - 1);
}
export function shiftLeftValue(a: number, count: number, size: number): number {
  return count >= 32 ? 0 : (a << count) & (size === 32 ? -1 : (1 << size) - 1);
}
export function shiftRightValue(a: number, count: number): number {
  return a >>> count;
}
export function shiftArithmeticRightValue(a: number, count: number, size: number): number {
  const signed = (a << (32 - size)) >> (32 - size);
  return (signed >> (count > 31 ? 31 : count)) & (size === 32 ? -1 : (1 << size) - 1);
}

export function rotateLeft(st: Int32Array, a: number, count: number, size: number): number {
  const r = rotateLeftValue(a, count, size);
  const cf = r & 1;
  setArithFlags(st, CF | OF, cf | (((r >>> (size - 1)) & 1) !== cf ? OF : 0));
  return r;
}

export function rotateRight(st: Int32Array, a: number, count: number, size: number): number {
  const top = size - 1;
  const r = rotateRightValue(a, count, size);
  const cf = (r >>> top) & 1;
  setArithFlags(st, CF | OF, cf | ((((r >>> top) ^ (r >>> (top - 1))) & 1) !== 0 ? OF : 0));
  return r;
}

export function rotateLeftThroughCarry(st: Int32Array, a: number, count: number, size: number): number {
  const mask = size === 32 ? -1 : (1 << size) - 1;
  const top = size - 1;
  const n = size === 32 ? count : count % (size + 1);
  let r = a;
  let cf = getCF(st);
  for (let i = 0; i < n; i++) {
    const out = (r >>> top) & 1;
    r = ((r << 1) | cf) & mask;
    cf = out;
  }
  setArithFlags(st, CF | OF, cf | (((r >>> top) & 1) !== cf ? OF : 0));
  return r;
}

export function rotateRightThroughCarry(st: Int32Array, a: number, count: number, size: number): number {
  const mask = size === 32 ? -1 : (1 << size) - 1;
  const top = size - 1;
  const n = size === 32 ? count : count % (size + 1);
  let r = a;
  let cf = getCF(st);
  for (let i = 0; i < n; i++) {
    const out = r & 1;
    r = ((r >>> 1) | (cf << top)) & mask;
    cf = out;
  }
  // OF = the two top bits of the result differ: the SDM's rule for a 1-bit rotate, and what
  // the hardware's bit-at-a-time rotation leaves for longer ones.
  setArithFlags(st, CF | OF, cf | ((((r >>> top) ^ (r >>> (top - 1))) & 1) !== 0 ? OF : 0));
  return r;
}

/** SHL and SAL. */
export function shiftLeft(st: Int32Array, a: number, count: number, size: number): number {
  const r = shiftLeftValue(a, count, size);
  const cf = count > size ? 0 : (a >>> (size - count)) & 1;
  shiftFlags(st, r, size, cf, ((r >>> (size - 1)) & 1) !== cf);
  return r;
}

export function shiftRight(st: Int32Array, a: number, count: number, size: number): number {
  const r = shiftRightValue(a, count);
  const cf = (a >>> (count - 1)) & 1;
  shiftFlags(st, r, size, cf, count === 1 ? ((a >>> (size - 1)) & 1) !== 0 : false);
  return r;
}

export function shiftArithmeticRight(st: Int32Array, a: number, count: number, size: number): number {
  const signed = (a << (32 - size)) >> (32 - size);
  const r = shiftArithmeticRightValue(a, count, size);
  const cf = (signed >> (count - 1 > 31 ? 31 : count - 1)) & 1;
  shiftFlags(st, r, size, cf, false);
  return r;
}

/** The functions above by group-2 operation number (ModRM reg field), as the translation cache names them. */
export const SHIFT_FUNCTION_NAMES = [
  'rotateLeft', 'rotateRight', 'rotateLeftThroughCarry', 'rotateRightThroughCarry', 'shiftLeft', 'shiftRight', 'shiftLeft', 'shiftArithmeticRight',
] as const;
/** Their values alone (null: RCL and RCR, whose value depends on CF). */
export const SHIFT_VALUE_NAMES = [
  'rotateLeftValue', 'rotateRightValue', null, null, 'shiftLeftValue', 'shiftRightValue', 'shiftLeftValue', 'shiftArithmeticRightValue',
] as const;

/** Shifts or rotates `a` (zero-extended, `size` bits) by `count` (already masked, non-zero). */
export function shift(st: Int32Array, op: number, a: number, count: number, size: number): number {
  switch (op) {
    case ROL: return rotateLeft(st, a, count, size);
    case ROR: return rotateRight(st, a, count, size);
    case RCL: return rotateLeftThroughCarry(st, a, count, size);
    case RCR: return rotateRightThroughCarry(st, a, count, size);
    case SHL:
    case SAL: return shiftLeft(st, a, count, size);
    case SHR: return shiftRight(st, a, count, size);
    default: return shiftArithmeticRight(st, a, count, size);
  }
}

/** Group 2 (C0 C1 D0 D1 D2 D3): r/m shifted by imm8, by 1, or by CL. */
export function execShiftGroup(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const size = sizeFromOpcodeBit(d);
  const count = (opcode <= 0xc1 ? d.imm : opcode <= 0xd1 ? 1 : cpu.reg8[4]) & 31;
  const a = readEForUpdate(cpu, d, size);
  if (count === 0) return;
  writeE(cpu, d, size, shift(st, (d.modrm >> 3) & 7, a, count, size));
}

/** SHLD (0F A4, A5) and SHRD (0F AC, AD): double-precision shifts by imm8 or CL. */
export function execShiftDouble(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const size = operandSize(d);
  const count = ((opcode & 1) === 0 ? d.imm : cpu.reg8[4]) & 31;
  const dest = readEForUpdate(cpu, d, size);
  const src = readG(cpu, d, size);
  if (count === 0) return;
  const left = opcode < 0x1ac;
  const mask = size === 32 ? -1 : 0xffff;
  const top = size - 1;
  let r: number;
  let cf: number;
  if (size === 32) {
    r = left ? (dest << count) | (src >>> (32 - count)) : (dest >>> count) | (src << (32 - count));
    cf = left ? (dest >>> (32 - count)) & 1 : (dest >>> (count - 1)) & 1;
  } else {
    // 16-bit: shift the 32-bit pair dest:src (SHLD) or src:dest (SHRD). Counts past 16 are
    // undefined on a 386; this gives what shifting the pair gives.
    const pair = left ? (dest << 16) | src : (src << 16) | dest;
    r = left ? (pair << count) >>> 16 : pair >>> count;
    cf = left ? (count > 16 ? (src >>> (32 - count)) & 1 : (dest >>> (16 - count)) & 1) : (pair >>> (count - 1)) & 1;
  }
  r &= mask;
  writeE(cpu, d, size, r);
  shiftFlags(st, r, size, cf, ((r ^ dest) >>> top & 1) !== 0);
}

// ------------------------------------------------------------------ the translation cache's forms (emit.ts)

/** execShiftGroup by an immediate or by 1 (by CL, the count is known only when it runs). */
export const emitShiftGroup: Emitter = (d, _x, flagsLive) => {
  const opcode = d.opcode;
  if (opcode >= 0xd2) return null;
  const size = sizeFromOpcodeBit(d);
  const count = (opcode <= 0xc1 ? d.imm : 1) & 31;
  // A count of 0 still checks a memory operand: leave that to the semantics function.
  if (count === 0) return d.modrm >= 0xc0 ? '' : null;
  const op = (d.modrm >> 3) & 7;
  const value = SHIFT_VALUE_NAMES[op];
  return updateEJs(d, size, (a) => (flagsLive || value === null ? `${SHIFT_FUNCTION_NAMES[op]}(st, ${a}, ${count}, ${size})` : shiftValueJs(value, a, count, size)));
};

const shiftValueJs = (name: string, a: string, count: number, size: number) => (name === 'shiftRightValue' ? `${name}(${a}, ${count})` : `${name}(${a}, ${count}, ${size})`);

/** execShiftGroup deferred (emit.ts, DeferredFlags): a register by a constant count, not RCL or RCR. */
export const deferShiftGroup: FlagDeferrer = (d, t) => {
  const opcode = d.opcode;
  if (opcode >= 0xd2 || d.modrm < 0xc0) return null;
  const count = (opcode <= 0xc1 ? d.imm : 1) & 31;
  const op = (d.modrm >> 3) & 7;
  const value = SHIFT_VALUE_NAMES[op];
  if (count === 0 || value === null) return null;
  const size = sizeFromOpcodeBit(d);
  const n = d.modrm & 7;
  return {
    js: `${t}0 = ${regJs(n, size)}; ${setRegJs(n, size, shiftValueJs(value, `${t}0`, count, size))}`,
    result: regJs(n, size),
    size,
    record: `${SHIFT_FUNCTION_NAMES[op]}(st, ${t}0, ${count}, ${size});`,
  };
};

/**
 * What execShiftGroup does to the flags (emit.ts), for the forms emitShiftGroup writes out (a
 * constant count): rotates set CF and OF (RCL and RCR read CF first), shifts set all six; a
 * count of 0 sets none. By CL, the count is not known: it counts as reading every flag.
 */
export const flagsShiftGroup: FlagEffectOf = (d) => {
  if (d.opcode >= 0xd2) return READS_EVERY_FLAG;
  const quiet = d.modrm >= 0xc0;
  if (((d.opcode <= 0xc1 ? d.imm : 1) & 31) === 0) return { reads: 0, writes: 0, quiet };
  const op = (d.modrm >> 3) & 7;
  if (op <= ROR) return { reads: 0, writes: CF | OF, quiet };
  if (op <= RCR) return { reads: CF, writes: CF | OF, quiet };
  return { reads: 0, writes: ARITH_FLAGS, quiet };
};
