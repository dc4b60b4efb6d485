/**
 * `npm run bench -- --peers` runs the loop guest's Multiboot build in minivisor and in v86: both
 * must compute the reference line, or a figure would compare a wrong run (times are never asserted).
 */
import { describe, expect, it } from 'vitest';
import { runOursMultiboot, runV86 } from '../../tools/bench-peers.ts';
import { expectedLine } from '../../tools/loop-reference.ts';

describe('the loop benchmark beside v86', () => {
  it.each([false, true])('the Multiboot build computes the reference line in minivisor and in v86 (MEMOP %s)', (memop) => {
    const want = expectedLine(20_000, memop);
    expect(runOursMultiboot(20_000, memop).line).toBe(want);
    expect(runV86(20_000, memop).line).toBe(want);
  }, 60_000);
});
