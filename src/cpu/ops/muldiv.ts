/**
 * MUL, IMUL (one-, two- and three-operand), DIV and IDIV. Division by zero and quotients that
 * do not fit raise #DE, a fault (the saved EIP is the DIV itself, as on a 286 and later).
 */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { LAZY_LOGIC, recordLazy, setArithFlags } from '../flags.ts';
import { ARITH_FLAGS, CF, DE, OF } from '../state.ts';
import { operandSize, readE, readG, sizeFromOpcodeBit, writeG } from '../operands.ts';
import { readEJs, regField, regJs, setRegJs, type Emitter, type FlagEffect } from '../emit.ts';

/** High 32 bits of the unsigned 64-bit product of two 32-bit values. */
export function mulHighUnsigned(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const low = a0 * b0;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const carry = ((low >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + carry) | 0;
}

/** High 32 bits of the signed 64-bit product. */
export function mulHighSigned(a: number, b: number): number {
  let high = mulHighUnsigned(a, b);
  if (a < 0) high = (high - b) | 0;
  if (b < 0) high = (high - a) | 0;
  return high;
}

/**
 * Flags after a multiplication: CF = OF = `overflow`. SF, ZF and PF are undefined on a 386;
 * this CPU derives them from the low half of the result, as many 386s do.
 */
function setMulFlags(st: Int32Array, low: number, size: number, overflow: boolean): void {
  recordLazy(st, LAZY_LOGIC, 0, 0, low, size, ARITH_FLAGS);
  setArithFlags(st, CF | OF, overflow ? CF | OF : 0);
}

/** F6/F7 /4 MUL and /5 IMUL (one operand): (E)DX:(E)AX or AX = accumulator * r/m. */
export function execMulAcc(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  const signed = (d.modrm & 0x08) !== 0;
  const src = readE(cpu, d, size);
  if (size === 8) {
    const a = cpu.reg8[0];
    const product = signed ? ((a << 24) >> 24) * ((src << 24) >> 24) : a * src;
    cpu.reg16[0] = product;
    const overflow = signed ? product !== (product << 24) >> 24 : product > 0xff;
    setMulFlags(st, product, 8, overflow);
  } else if (size === 16) {
    const a = cpu.reg16[0];
    const product = signed ? ((a << 16) >> 16) * ((src << 16) >> 16) : a * src;
    cpu.reg16[0] = product;
    cpu.reg16[4] = product >> 16;
    const overflow = signed ? product !== (product << 16) >> 16 : product >>> 16 !== 0;
    setMulFlags(st, product, 16, overflow);
  } else {
    const a = cpu.reg[0];
    const low = Math.imul(a, src);
    const high = signed ? mulHighSigned(a, src) : mulHighUnsigned(a, src);
    cpu.reg[0] = low;
    cpu.reg[2] = high;
    const overflow = signed ? high !== low >> 31 : high !== 0;
    setMulFlags(st, low, 32, overflow);
  }
}

/** Signed multiply of two operand-size values into a register: IMUL G, E (0F AF) and IMUL G, E, imm (69, 6B). */
/** IMUL's two- and three-operand forms: a * b truncated to `size` bits, the flags set (CF = OF = the product did not fit). */
export function imul(st: Int32Array, a: number, b: number, size: number): number {
  let low: number;
  let overflow: boolean;
  if (size === 16) {
    const product = ((a << 16) >> 16) * ((b << 16) >> 16);
    low = product & 0xffff;
    overflow = product !== (product << 16) >> 16;
  } else {
    low = Math.imul(a, b);
    overflow = mulHighSigned(a, b) !== low >> 31;
  }
  setMulFlags(st, low, size, overflow);
  return low;
}

/** imul's value alone (the translation cache's, when no flag it sets is live). */
export const imulValue = (a: number, b: number, size: number): number => (size === 16 ? Math.imul(a, b) & 0xffff : Math.imul(a, b));

/** 0F AF IMUL r, r/m. */
export function execImulGE(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  writeG(cpu, d, size, imul(cpu.st, readG(cpu, d, size), readE(cpu, d, size), size));
}

/** 69 and 6B IMUL r, r/m, imm. */
export function execImulGEImm(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  writeG(cpu, d, size, imul(cpu.st, readE(cpu, d, size), d.imm, size));
}

/** execImulGE and execImulGEImm. */
export const emitImul: Emitter = (d, _x, flagsLive) => {
  const size = operandSize(d);
  const [a, b] = d.opcode === 0x1af ? [regJs(regField(d), size), readEJs(d, size)] : [readEJs(d, size), String(d.imm)];
  return setRegJs(regField(d), size, flagsLive ? `imul(st, ${a}, ${b}, ${size})` : `imulValue(${a}, ${b}, ${size})`);
};

const IMUL_REGISTERS: FlagEffect = { reads: 0, writes: ARITH_FLAGS, quiet: true };
const IMUL_MEMORY: FlagEffect = { reads: 0, writes: ARITH_FLAGS, quiet: false };
/** IMUL sets every arithmetic flag (SF ZF AF PF as its lazy record says: undefined on hardware). */
export const flagsImul = (d: Insn): FlagEffect => (d.modrm >= 0xc0 ? IMUL_REGISTERS : IMUL_MEMORY);

/**
 * 32-bit DIV or IDIV when EDX:EAX fits in 53 bits (as a signed value for IDIV): it is then an
 * exact double, and so is the quotient: for integers |n| <= 2^53 and d, n / d rounds to a
 * double that truncates to the true quotient (the gap between n / d and the next integer,
 * at least 1 / |d|, is more than half a unit in its last place). Returns false, doing
 * nothing, for a wider dividend.
 */
function divide32InDoubles(cpu: Cpu, divisor: number, signed: boolean): boolean {
  const high = cpu.reg[2];
  if (signed ? high < -0x200000 || high >= 0x200000 : high >>> 0 >= 0x200000) return false;
  const n = high * 4294967296 + (cpu.reg[0] >>> 0);
  const d = signed ? divisor | 0 : divisor >>> 0;
  const q = Math.trunc(n / d);
  if (signed ? q > 0x7fffffff || q < -0x80000000 : q > 0xffffffff) cpu.fault(DE);
  cpu.reg[0] = q;
  cpu.reg[2] = n - q * d;
  return true;
}

/** F6/F7 /6 DIV and /7 IDIV. */
export function execDiv(cpu: Cpu, d: Insn): void {
  const size = sizeFromOpcodeBit(d);
  const signed = (d.modrm & 0x08) !== 0;
  const divisor = readE(cpu, d, size);
  if (divisor === 0) cpu.fault(DE);
  if (size === 8) {
    const dividend = signed ? (cpu.reg16[0] << 16) >> 16 : cpu.reg16[0];
    const d = signed ? (divisor << 24) >> 24 : divisor;
    const q = Math.trunc(dividend / d);
    if (signed ? q > 127 || q < -128 : q > 0xff) cpu.fault(DE);
    cpu.reg8[0] = q;
    cpu.reg8[1] = dividend - q * d;
  } else if (size === 16) {
    const raw = (cpu.reg16[4] << 16) | cpu.reg16[0];
    const dividend = signed ? raw : raw >>> 0;
    const d = signed ? (divisor << 16) >> 16 : divisor;
    const q = Math.trunc(dividend / d);
    if (signed ? q > 32767 || q < -32768 : q > 0xffff) cpu.fault(DE);
    cpu.reg16[0] = q;
    cpu.reg16[4] = dividend - q * d;
  } else if (!divide32InDoubles(cpu, divisor, signed)) {
    // A dividend past 53 bits: BigInt keeps it exact.
    const dividend = (BigInt(cpu.reg[2]) << 32n) | BigInt(cpu.reg[0] >>> 0);
    const n = signed ? dividend : BigInt.asUintN(64, dividend);
    const d = signed ? BigInt(divisor | 0) : BigInt(divisor >>> 0);
    const q = n / d;
    if (signed ? q > 0x7fffffffn || q < -0x80000000n : q > 0xffffffffn) cpu.fault(DE);
    cpu.reg[0] = Number(BigInt.asIntN(32, q));
    cpu.reg[2] = Number(BigInt.asIntN(32, n - q * d));
  }
  // Flags are undefined after DIV; this CPU leaves them as they were.
}

