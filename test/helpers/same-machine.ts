/** "The same machine": what two runs of one guest must agree on to be called the same run. */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { STATE_SIZE } from '../../src/cpu/state.ts';
import type { Machine } from '../../src/machine/machine.ts';

/** A SHA-256 of all guest RAM. */
export function ramDigest(m: Machine): string {
  const hash = createHash('sha256');
  for (let at = 0; at < m.config.memoryBytes; at += 1 << 20) hash.update(m.phys.dump(at, Math.min(1 << 20, m.config.memoryBytes - at)));
  return hash.digest('hex');
}

/** The whole state array, the instructions retired, and guest RAM. */
export function expectSameMachine(a: Machine, b: Machine): void {
  expect(Array.from(a.cpu.st.subarray(0, STATE_SIZE))).toEqual(Array.from(b.cpu.st.subarray(0, STATE_SIZE)));
  expect(a.cpu.instructions).toBe(b.cpu.instructions);
  expect(ramDigest(a)).toBe(ramDigest(b));
}
