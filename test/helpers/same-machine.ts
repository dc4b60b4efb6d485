/** "The same machine": what two runs of one guest must agree on to be called the same run. */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { getEflags } from '../../src/cpu/flags.ts';
import { STATE_SIZE, S_EFLAGS, S_FETCH_DELTA, S_FETCH_LO, S_FETCH_SPAN, S_LAZY_A, S_LAZY_B, S_LAZY_OP, S_LAZY_PENDING, S_LAZY_R, S_LAZY_SHIFT } from '../../src/cpu/state.ts';
import type { Machine } from '../../src/machine/machine.ts';

/** A SHA-256 of all guest RAM. */
export function ramDigest(m: Machine): string {
  const hash = createHash('sha256');
  for (let at = 0; at < m.config.memoryBytes; at += 1 << 20) hash.update(m.phys.dump(at, Math.min(1 << 20, m.config.memoryBytes - at)));
  return hash.digest('hex');
}

/**
 * The state array with EFLAGS as the guest reads it in place of the lazy record (how the flags
 * are kept is not state: the translation cache leaves records it knows dead unwritten), and
 * without the fetch window (a cache of the TLB, dropped whenever the TLB is).
 */
export function architecturalState(m: Machine): number[] {
  const st = Array.from(m.cpu.st.subarray(0, STATE_SIZE));
  st[S_EFLAGS] = getEflags(m.cpu.st);
  for (const slot of [S_LAZY_OP, S_LAZY_A, S_LAZY_B, S_LAZY_R, S_LAZY_SHIFT, S_LAZY_PENDING, S_FETCH_LO, S_FETCH_SPAN, S_FETCH_DELTA]) st[slot] = 0;
  return st;
}

/** The whole state, the instructions retired, and guest RAM. */
export function expectSameMachine(a: Machine, b: Machine): void {
  expect(architecturalState(a)).toEqual(architecturalState(b));
  expect(a.cpu.instructions).toBe(b.cpu.instructions);
  expect(ramDigest(a)).toBe(ramDigest(b));
}
