/** Machines full of random code, for the fuzz tests (seeded, so a failure reproduces). */
import { Machine } from '../../src/machine/machine.ts';

/** A small deterministic generator (xorshift32). */
export function random(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/**
 * A machine with random code everywhere below 64 KiB, a random IVT included (handlers land in
 * random code too), starting at 0000:1000; in protected mode a flat 32-bit CPU, as if a boot
 * loader had set one up, with a random IDT.
 */
export function randomCodeMachine(seed: number, protectedMode: boolean, memoryBytes: number, prepare?: (m: Machine) => void): Machine {
  const next = random(seed);
  const machine = new Machine({ memoryBytes, entry: { segment: 0, offset: 0x1000 } });
  const { phys, cpu } = machine;
  phys.load(0, Uint8Array.from({ length: 0x10000 }, () => next() & 0xff));
  if (protectedMode) {
    cpu.st[56] |= 1; // CR0.PE
    const flatCode = 0x4000 | 0x1000 | 0x80 | 0x10 | 0x08 | 0x02 | 0x8000;
    const flatData = 0x4000 | 0x80 | 0x10 | 0x02 | 0x8000;
    cpu.setSegmentCache(1, 0x08, 0, 0, -1, flatCode);
    for (const seg of [0, 2, 3, 4, 5]) cpu.setSegmentCache(seg, 0x10, 0, 0, -1, flatData);
  }
  prepare?.(machine);
  return machine;
}
