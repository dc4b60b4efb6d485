/**
 * Debug registers: DR0-DR3 hold linear addresses, DR7 enables them (L0-L3/G0-G3) and says for
 * each what it watches (R/W: 00 execution, 01 writes, 11 reads and writes) and how many bytes
 * (LEN: 00 one, 01 two, 11 four); DR6 reports which fired (B0-B3) and single steps (BS). An
 * instruction breakpoint is a fault, before the instruction runs (EFLAGS.RF holds it off for
 * one instruction); a data breakpoint is a trap, after the access.
 */
import { S_DR0 } from './state.ts';

export const DR6 = S_DR0 + 6, DR7 = S_DR0 + 7;
/** DR6 bits. */
export const DR6_BS = 1 << 14;

const RW_EXECUTE = 0, RW_WRITE = 1, RW_READ_WRITE = 3;

function enabled(dr7: number, n: number): boolean {
  return ((dr7 >> (2 * n)) & 3) !== 0;
}
function rwOf(dr7: number, n: number): number {
  return (dr7 >>> (16 + 4 * n)) & 3;
}
function lengthOf(dr7: number, n: number): number {
  const len = (dr7 >>> (18 + 4 * n)) & 3;
  return len === 0 ? 1 : len === 1 ? 2 : 4;
}

/** Whether any instruction breakpoint is enabled. */
export function watchesExecution(st: Int32Array): boolean {
  const dr7 = st[DR7];
  for (let n = 0; n < 4; n++) if (enabled(dr7, n) && rwOf(dr7, n) === RW_EXECUTE) return true;
  return false;
}

/** Whether any data breakpoint is enabled. */
export function watchesData(st: Int32Array): boolean {
  const dr7 = st[DR7];
  for (let n = 0; n < 4; n++) if (enabled(dr7, n) && (rwOf(dr7, n) === RW_WRITE || rwOf(dr7, n) === RW_READ_WRITE)) return true;
  return false;
}

/** B0-B3 bits of the instruction breakpoints at linear address `lin`. */
export function instructionBreakpoints(st: Int32Array, lin: number): number {
  const dr7 = st[DR7];
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    if (enabled(dr7, n) && rwOf(dr7, n) === RW_EXECUTE && st[S_DR0 + n] === lin) hits |= 1 << n;
  }
  return hits;
}

/** B0-B3 bits of the data breakpoints an access of `bytes` at `lin` touches. */
export function dataBreakpoints(st: Int32Array, lin: number, bytes: number, write: boolean): number {
  const dr7 = st[DR7];
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    const rw = rwOf(dr7, n);
    if (!enabled(dr7, n) || rw === RW_EXECUTE || (rw === RW_WRITE && !write)) continue;
    const length = lengthOf(dr7, n);
    const start = st[S_DR0 + n] & ~(length - 1); // breakpoints are aligned to their length
    const overlap = (lin >>> 0) < ((start >>> 0) + length) && (start >>> 0) < ((lin >>> 0) + bytes);
    if (overlap) hits |= 1 << n;
  }
  return hits;
}
