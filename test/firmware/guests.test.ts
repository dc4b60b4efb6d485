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
