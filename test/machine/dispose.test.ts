/**
 * Machine.dispose hands a machine's big arrays to the next machine made (the fuzz makes tens of
 * thousands): the next one must start exactly as a fresh machine would, and no two live machines
 * may ever share memory.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { assembleOrThrow } from '../helpers/run-asm.ts';

/** Writes a pattern over 64 KiB of RAM and halts. */
const SCRIBBLE = assembleOrThrow(`
bits 16
org 0x1000
  mov ax, 0x2000
  mov es, ax
  xor di, di
  mov cx, 0x8000
  mov ax, 0xa55a
  rep stosw
  cli
  hlt
`);

function scribbler(mode: 'bare' | 'ept' | 'shadow'): Machine {
  const m = new Machine({ memoryBytes: 2 << 20, mode, entry: { segment: 0, offset: 0x1000 } });
  m.phys.load(0x1000, SCRIBBLE);
  return m;
}

describe('Machine.dispose', () => {
  it.each(['bare', 'ept', 'shadow'] as const)('the next machine (%s) starts zeroed, with an empty TLB, and runs as a fresh one does', (mode) => {
    const first = scribbler(mode);
    expect(first.run(100_000).kind).toBe('halted');
    expect(first.phys.dump(0x20000, 4)).toEqual(Uint8Array.of(0x5a, 0xa5, 0x5a, 0xa5));
    first.dispose();

    const second = new Machine({ memoryBytes: 2 << 20, mode, entry: { segment: 0, offset: 0x1000 } });
    expect(second.phys.dump(0x20000, 0x10000).every((b) => b === 0)).toBe(true);
    expect(second.cpu.tlb.every((e) => e === 0)).toBe(true);
    expect(second.phys.hostMemory.framesInUse).toBe(new Machine({ memoryBytes: 2 << 20, mode }).phys.hostMemory.framesInUse);
    second.phys.load(0x1000, SCRIBBLE);
    expect(second.run(100_000).kind).toBe('halted');
    expect(second.phys.dump(0x2fffe, 2)).toEqual(Uint8Array.of(0x5a, 0xa5));
  });

  it('a disposed machine refuses to run; machines alive side by side share nothing', () => {
    const a = scribbler('ept');
    const b = scribbler('ept');
    expect(a.cpu.tlb === b.cpu.tlb).toBe(false);
    expect(a.phys.host.buffer === b.phys.host.buffer).toBe(false);
    a.run(100_000);
    expect(b.phys.dump(0x20000, 2)).toEqual(Uint8Array.of(0, 0));
    a.dispose();
    a.dispose(); // twice is harmless
    expect(() => a.run(10)).toThrow(/disposed/);
    const c = scribbler('ept');
    expect(c.phys.host.buffer === b.phys.host.buffer).toBe(false);
  });
});
