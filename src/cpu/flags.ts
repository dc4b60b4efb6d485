/**
 * Lazy flags. Arithmetic instructions do not compute EFLAGS; they record the operation, its
 * operands and its result (S_LAZY_*), and mark which of the six arithmetic flags the record
 * owns (S_LAZY_PENDING). A flag is computed only when something reads it, usually a Jcc
 * that needs one or two flags. Flags an instruction sets eagerly (ROL's CF, say) are written
 * into S_EFLAGS and dropped from the pending mask, so the record keeps the others.
 *
 * INC and DEC record as ADD and SUB with b = 1 but leave CF out of the pending mask, which is
 * exactly their architectural effect. NEG records as SUB from 0.
 */
import {
  AF, CF, FLAGS_ALWAYS_ONE, OF, PF, SF, ZF,
  S_EFLAGS, S_LAZY_A, S_LAZY_B, S_LAZY_OP, S_LAZY_PENDING, S_LAZY_R, S_LAZY_SHIFT,
} from './state.ts';

/** Kinds of lazy record. */
export const LAZY_ADD = 0, LAZY_ADC = 1, LAZY_SUB = 2, LAZY_SBB = 3, LAZY_LOGIC = 4;

/** Parity flag table: PF is set when the low byte has an even number of one bits. */
const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let v = i; v; v >>= 1) bits += v & 1;
  PARITY[i] = bits & 1 ? 0 : PF;
}

/** Records a flag-setting operation of `size` bits (8, 16 or 32), owning `pending` flags. Returns its result, r. */
export function recordLazy(st: Int32Array, op: number, a: number, b: number, r: number, size: number, pending: number): number {
  st[S_LAZY_OP] = op;
  st[S_LAZY_A] = a;
  st[S_LAZY_B] = b;
  st[S_LAZY_R] = r;
  st[S_LAZY_SHIFT] = 32 - size;
  st[S_LAZY_PENDING] = pending;
  return r;
}

/** CF of the lazy record, as 0 or 1. */
function lazyCF(st: Int32Array): number {
  const sh = st[S_LAZY_SHIFT];
  const a = (st[S_LAZY_A] << sh) >>> sh;
  const b = (st[S_LAZY_B] << sh) >>> sh;
  const r = st[S_LAZY_R];
  switch (st[S_LAZY_OP]) {
    case LAZY_ADD:
      return a + b > -1 >>> sh ? 1 : 0;
    case LAZY_ADC:
      return a + b + ((r - st[S_LAZY_A] - st[S_LAZY_B]) & 1) > -1 >>> sh ? 1 : 0;
    case LAZY_SUB:
      return a < b ? 1 : 0;
    case LAZY_SBB:
      return a < b + ((st[S_LAZY_A] - st[S_LAZY_B] - r) & 1) ? 1 : 0;
    default:
      return 0;
  }
}

function lazyOF(st: Int32Array): number {
  const a = st[S_LAZY_A], b = st[S_LAZY_B], r = st[S_LAZY_R];
  switch (st[S_LAZY_OP]) {
    case LAZY_ADD:
    case LAZY_ADC:
      return ((a ^ r) & (b ^ r)) << st[S_LAZY_SHIFT] < 0 ? OF : 0;
    case LAZY_SUB:
    case LAZY_SBB:
      return ((a ^ b) & (a ^ r)) << st[S_LAZY_SHIFT] < 0 ? OF : 0;
    default:
      return 0;
  }
}

function lazyAF(st: Int32Array): number {
  return st[S_LAZY_OP] === LAZY_LOGIC ? 0 : (st[S_LAZY_A] ^ st[S_LAZY_B] ^ st[S_LAZY_R]) & AF;
}

export function getCF(st: Int32Array): number {
  return st[S_LAZY_PENDING] & CF ? lazyCF(st) : st[S_EFLAGS] & CF;
}
/**
 * ZF and SF of a result of 32 - `shift` bits: a lazy record's, or, in a compiled loop, the
 * result its closing branch tests without a record (translation-cache.ts).
 */
export const resultZero = (r: number, shift: number): boolean => r << shift === 0;
export const resultNegative = (r: number, shift: number): boolean => r << shift < 0;

export function getZF(st: Int32Array): boolean {
  return st[S_LAZY_PENDING] & ZF ? resultZero(st[S_LAZY_R], st[S_LAZY_SHIFT]) : (st[S_EFLAGS] & ZF) !== 0;
}
export function getSF(st: Int32Array): boolean {
  return st[S_LAZY_PENDING] & SF ? resultNegative(st[S_LAZY_R], st[S_LAZY_SHIFT]) : (st[S_EFLAGS] & SF) !== 0;
}
export function getOF(st: Int32Array): boolean {
  return st[S_LAZY_PENDING] & OF ? lazyOF(st) !== 0 : (st[S_EFLAGS] & OF) !== 0;
}
export function getPF(st: Int32Array): boolean {
  return st[S_LAZY_PENDING] & PF ? PARITY[st[S_LAZY_R] & 0xff] !== 0 : (st[S_EFLAGS] & PF) !== 0;
}
export function getAF(st: Int32Array): boolean {
  return st[S_LAZY_PENDING] & AF ? lazyAF(st) !== 0 : (st[S_EFLAGS] & AF) !== 0;
}

/** The arithmetic flags the lazy record owns, computed. */
function pendingFlags(st: Int32Array, pending: number): number {
  let f = 0;
  if (pending & CF) f |= lazyCF(st);
  if (pending & PF) f |= PARITY[st[S_LAZY_R] & 0xff];
  if (pending & AF) f |= lazyAF(st);
  const r = st[S_LAZY_R] << st[S_LAZY_SHIFT];
  if (pending & ZF && r === 0) f |= ZF;
  if (pending & SF && r < 0) f |= SF;
  if (pending & OF) f |= lazyOF(st);
  return f;
}

/** The whole EFLAGS value. */
export function getEflags(st: Int32Array): number {
  const pending = st[S_LAZY_PENDING];
  const flags = st[S_EFLAGS] | FLAGS_ALWAYS_ONE;
  return pending === 0 ? flags : (flags & ~pending) | pendingFlags(st, pending);
}

/** Computes the pending flags into S_EFLAGS, so that the lazy record may be overwritten or some flags changed. */
export function materializeFlags(st: Int32Array, which: number): void {
  const pending = st[S_LAZY_PENDING] & which;
  if (pending === 0) return;
  st[S_EFLAGS] = (st[S_EFLAGS] & ~pending) | pendingFlags(st, pending);
  st[S_LAZY_PENDING] &= ~pending;
}

/** Sets the arithmetic flags in `mask` to the bits of `value` (eagerly); other flags keep their state. */
export function setArithFlags(st: Int32Array, mask: number, value: number): void {
  st[S_LAZY_PENDING] &= ~mask;
  st[S_EFLAGS] = (st[S_EFLAGS] & ~mask) | (value & mask);
}

/** Sets CF alone. */
export function setCF(st: Int32Array, cf: number | boolean): void {
  st[S_LAZY_PENDING] &= ~CF;
  st[S_EFLAGS] = cf ? st[S_EFLAGS] | CF : st[S_EFLAGS] & ~CF;
}

/** Replaces all of EFLAGS (no lazy part remains). */
export function setEflags(st: Int32Array, value: number): void {
  st[S_LAZY_PENDING] = 0;
  st[S_EFLAGS] = value | FLAGS_ALWAYS_ONE;
}

/** SF, ZF and PF of a result, eagerly (for instructions that compute flags from a value they produced). */
export function szpOf(value: number, size: number): number {
  const v = value << (32 - size);
  return (v === 0 ? ZF : 0) | (v < 0 ? SF : 0) | PARITY[value & 0xff];
}

// The eight conditions of Jcc/SETcc/CMOVcc (cc >> 1; cc's low bit negates them), each a small
// function: the interpreter's hot form of a Jcc calls its own (src/cpu/interpreter.ts).
export const overflow = (st: Int32Array): boolean => getOF(st);
export const below = (st: Int32Array): boolean => getCF(st) !== 0;
export const equal = (st: Int32Array): boolean => getZF(st);
export const belowOrEqual = (st: Int32Array): boolean => getCF(st) !== 0 || getZF(st);
export const sign = (st: Int32Array): boolean => getSF(st);
export const parity = (st: Int32Array): boolean => getPF(st);
export const less = (st: Int32Array): boolean => getSF(st) !== getOF(st);
export const lessOrEqual = (st: Int32Array): boolean => getZF(st) || getSF(st) !== getOF(st);

/** Evaluates condition code `cc` (0-15, as in Jcc/SETcc/CMOVcc). */
export function testCondition(st: Int32Array, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = overflow(st); break;
    case 1: r = below(st); break;
    case 2: r = equal(st); break;
    case 3: r = belowOrEqual(st); break;
    case 4: r = sign(st); break;
    case 5: r = parity(st); break;
    case 6: r = less(st); break;
    default: r = lessOrEqual(st); break;
  }
  return (cc & 1) === 0 ? r : !r;
}
