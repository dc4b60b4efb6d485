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
    expect(run.text).toBe(expectedOutput('hello'));
  });
});

describe('loader', () => {
  it('loads a four-sector second stage with INT 13h extensions and runs it', () => {
    const image = guestImage('loader');
    expect(image.length).toBe(5 * 512);
    const run = runGuest('loader');
    expect(run.outcome.kind).toBe('halted');
    expect(run.text).toBe(expectedOutput('loader'));
  });

  it('boots the same image from a hard disk (drive 80h)', () => {
    const run = boot({ hardDisk: guestImage('loader') });
    expect(run.text).toBe(expectedOutput('loader').replace('drive 00', 'drive 80'));
  });
});

describe('e820', () => {
  it('prints the memory map of a 16 MiB machine', () => {
    const run = runGuest('e820');
    expect(run.outcome.kind).toBe('halted');
    expect(run.text).toBe(expectedOutput('e820'));
  });
});
