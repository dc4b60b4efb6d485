/**
 * Random code must only ever produce guest events (exceptions delivered, a shutdown, a halt,
 * a stop at the budget), never a host exception, a hang past its budget, or a write outside
 * the guest's memory (DESIGN.md §8). Seeded, so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import { randomCodeMachine } from '../helpers/random-code.ts';

function fuzzOnce(seed: number, protectedMode: boolean): string {
  const memoryBytes = 2 << 20;
  const machine = randomCodeMachine(seed, protectedMode, memoryBytes);
  const { phys } = machine;
  let outcome: string;
  try {
    outcome = machine.run(20_000).kind;
  } catch (e) {
    return `seed ${seed}: host exception ${e instanceof Error ? e.stack : String(e)}`;
  }
  // Host frames are handed out on first touch, in order: every byte past the frames handed out must
  // still be zero, and no more frames than the guest's memory may be in use.
  const used = phys.hostMemory.handedOutBytes;
  const rest = phys.host.subarray(used);
  // (memcmp against zeros: a JavaScript loop over the megabytes left made this test 20 s long)
  const untouched = Buffer.compare(rest, new Uint8Array(rest.length)) === 0;
  machine.dispose(); // its arrays go to the next seed's machine
  if (used > memoryBytes || !untouched) return `seed ${seed}: a write reached host memory outside the guest`;
  return outcome;
}

describe('fuzz: random code', () => {
  it('in real mode ends as a guest event, never a host exception', () => {
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 300; seed++) {
      const o = fuzzOnce(seed, false);
      expect(o).not.toMatch(/host|outside/);
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
    expect([...outcomes.keys()].every((k) => ['halted', 'shutdown', 'limit', 'unmapped-fetch'].includes(k))).toBe(true);
  });

  it('in flat 32-bit protected mode ends as a guest event, never a host exception', () => {
    for (let seed = 1001; seed <= 1300; seed++) {
      expect(fuzzOnce(seed, true)).not.toMatch(/host|outside/);
    }
  });
});
