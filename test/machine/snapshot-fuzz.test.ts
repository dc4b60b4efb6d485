/**
 * Snapshots under random code: seeded random guests (test/helpers/vmm-fuzz.ts: real mode, flat
 * protected mode, random paging), each saved part-way through its run in every memory mode,
 * loaded into a machine built anew from a snapshot file's bytes, and run on, must end as the
 * bare interpreter ends them run whole: outcome, instructions, registers, RAM. A state the
 * snapshot missed (an exception half-delivered, a REP part-way, a VM exit's pending work, the
 * shadow MMU's cache) shows here. `npm run fuzz` runs these modes too, for as many seeds as you like.
 */
import { describe, expect, it } from 'vitest';
import { checkGuest, modeName, SNAPSHOT_MODES } from '../helpers/vmm-fuzz.ts';

describe('snapshots of random guests, taken part-way', () => {
  it('run on to the end of the uninterrupted run in every mode (seeds 1-40)', () => {
    const problems: string[] = [];
    let compared = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const verdict = checkGuest(seed, SNAPSHOT_MODES);
      problems.push(...verdict.hostFailures, ...verdict.divergences.map((d) => `seed ${seed} (${verdict.kind}) ${modeName(d.mode)}: ${d.what}`));
      if (!verdict.skipped) compared += verdict.runs - 1;
    }
    expect(problems).toEqual([]);
    expect(compared).toBeGreaterThan(120);
  }, 120_000);
});
