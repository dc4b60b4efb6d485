/**
 * The debugger does not change what it watches: the toy kernel, stopped hundreds of times (at
 * every change of ring and every system call) and stepped through on the way, prints what it
 * prints undebugged, and ends after the same number of instructions, in every memory mode.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { DebugSession, type DebugHost } from '../../src/debugger/session.ts';
import { SymbolTable } from '../../src/debugger/symbols.ts';
import { bios, guestImage } from '../firmware/harness.ts';

function kernelMachine(mode: 'bare' | 'ept' | 'shadow', output: { text: string }): Machine {
  return new Machine({
    memoryBytes: 32 << 20,
    mode,
    bios: bios(),
    disks: new Map([[0, DiskImage.from(guestImage('kernel'), 'floppy', 'kernel')]]),
    exitPort: 0xf4,
    serial: (b) => (output.text += String.fromCharCode(b)),
  });
}

describe.each(['bare', 'ept', 'shadow'] as const)('the toy kernel under the debugger (--mode %s)', (mode) => {
  it('stopped at every ring change and system call, and stepped on the way, it ends as it does undebugged', async () => {
    const plainOutput = { text: '' };
    const plain = kernelMachine(mode, plainOutput);
    const plainOutcome = plain.run(2_000_000_000);

    const output = { text: '' };
    const machine = kernelMachine(mode, output);
    const host: DebugHost = { print: () => {}, flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
    const session = new DebugSession(machine, new SymbolTable(), host);
    await session.execute('catch ring');
    await session.execute('catch interrupt 0x80');
    let stops = 0;
    while (session.ended === null && stops < 5000) {
      await session.execute(stops % 7 === 0 ? 'step 3' : stops % 11 === 0 ? 'next' : 'continue');
      stops++;
    }
    expect(stops).toBeGreaterThan(100);
    expect(session.ended?.outcome).toEqual(plainOutcome);
    expect(output.text).toBe(plainOutput.text);
    expect(machine.cpu.instructions).toBe(plain.cpu.instructions);
  });
});
