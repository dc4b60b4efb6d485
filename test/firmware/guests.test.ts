/** Golden tests: each guest under guests/ boots from a floppy through the BIOS and prints its .expected output on COM1. */
import { describe, expect, it } from 'vitest';
import { boot, expectedOutput, guestImage } from './harness.ts';

function runGuest(name: string, options: Parameters<typeof boot>[0] = {}) {
  const run = boot({ floppy: guestImage(name), ...options });
  return run;
}

describe('guests', () => {
  it('hello prints "Hello, world!" through INT 10h teletype and halts', () => {
    const run = runGuest('hello');
    expect(run.outcome.kind).toBe('halted');
    expect(run.serial).toBe(expectedOutput('hello'));
  });
});

describe('loader', () => {
  it('loads a four-sector second stage with INT 13h extensions and runs it', () => {
    const image = guestImage('loader');
    expect(image.length).toBe(5 * 512);
    const run = runGuest('loader');
    expect(run.outcome.kind).toBe('halted');
    expect(run.serial).toBe(expectedOutput('loader'));
  });

  it('boots the same image from a hard disk (drive 80h)', () => {
    const run = boot({ hardDisk: guestImage('loader') });
    expect(run.serial).toBe(expectedOutput('loader').replace('drive 00', 'drive 80'));
  });
});

describe('e820', () => {
  it('prints the memory map of a 16 MiB machine', () => {
    const run = runGuest('e820');
    expect(run.outcome.kind).toBe('halted');
    expect(run.serial).toBe(expectedOutput('e820'));
  });
});

describe('timer', () => {
  it('counts ten IRQ 0 ticks through its INT 1Ch hook, as the BIOS tick count does', () => {
    const run = runGuest('timer');
    expect(run.outcome.kind).toBe('halted');
    expect(run.serial).toBe(expectedOutput('timer'));
    // Ten ticks of 65536 / 1193182 s each: about 0.55 virtual seconds went by.
    expect(run.machine.clock.nowNs() / 1e9).toBeGreaterThan(0.54);
    expect(run.machine.clock.nowNs() / 1e9).toBeLessThan(0.6);
  });
});

describe('keyboard', () => {
  it('echoes typed keys (INT 16h) until Enter, with Shift, Backspace and keys without characters', () => {
    const run = runGuest('keyboard', { keys: ['Hello, wrx', '\b\b', 'orld! ~|', '\n'] });
    expect(run.outcome.kind).toBe('halted');
    expect(run.serial).toBe(expectedOutput('keyboard'));
  });
});
