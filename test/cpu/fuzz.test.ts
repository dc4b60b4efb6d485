/**
 * Random code must only ever produce guest events (exceptions delivered, a shutdown, a halt,
 * a stop at the budget), never a host exception, a hang past its budget, or a write outside
 * the guest's memory (DESIGN.md §8). Seeded, so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';

/** A small deterministic generator (xorshift32). */
function random(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function fuzzOnce(seed: number, protectedMode: boolean): string {
  const next = random(seed);
  const memoryBytes = 2 << 20;
  const machine = new Machine({ memoryBytes, entry: { segment: 0, offset: 0x1000 } });
  const { phys, cpu } = machine;
  // Random code everywhere below 64 KiB, a random IVT included: handlers land in random code too.
  phys.load(0, Uint8Array.from({ length: 0x10000 }, () => next() & 0xff));
  if (protectedMode) {
    // A flat 32-bit CPU, as if a boot loader had set one up; the IDT is random memory.
    cpu.st[56] |= 1; // CR0.PE
    const flatCode = 0x4000 | 0x1000 | 0x80 | 0x10 | 0x08 | 0x02 | 0x8000;
    const flatData = 0x4000 | 0x80 | 0x10 | 0x02 | 0x8000;
    cpu.setSegmentCache(1, 0x08, 0, 0, -1, flatCode);
    for (const seg of [0, 2, 3, 4, 5]) cpu.setSegmentCache(seg, 0x10, 0, 0, -1, flatData);
  }
  let outcome: string;
  try {
    outcome = machine.run(20_000).kind;
  } catch (e) {
    return `seed ${seed}: host exception ${e instanceof Error ? e.stack : String(e)}`;
  }
  // Host frames are handed out on first touch, in order: every byte past the frames in use must
  // still be zero, and no more frames than the guest's memory may be in use.
  const used = phys.hostMemory.framesInUse * 4096;
  if (used > memoryBytes || phys.host.subarray(used).some((b) => b !== 0)) return `seed ${seed}: a write reached host memory outside the guest`;
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
