/**
 * `minivisor demo` (what `npm start` runs): boots the best guest that exists and says what it
 * did. Until the BIOS and the toy kernel land, that is the loop benchmark: a boot sector that
 * enters 32-bit protected mode, runs a compute loop and prints its result on COM1.
 */
import { join } from 'node:path';
import { projectRoot } from '../project-root.ts';
import { Machine } from '../machine/machine.ts';
import type { Command } from './command.ts';
import { loadGuestImage } from './run-command.ts';

const ITERATIONS = 20_000_000;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'boot the demo guest and explain what happened (npm start)',
  usage: 'usage: minivisor demo\n\nBoots guests/bench/loop.asm and reports what the guest did.',
  async run() {
    const source = join(projectRoot(), 'guests', 'bench', 'loop.asm');
    const image = loadGuestImage(source, { ITERS: String(ITERATIONS) });
    let serial = '';
    const machine = new Machine({
      memoryBytes: 32 << 20,
      loads: [{ address: 0x7c00, bytes: image }],
      entry: { segment: 0, offset: 0x7c00 },
      exitPort: 0xf4,
      serial: (byte) => {
        serial += String.fromCharCode(byte);
        process.stdout.write(Uint8Array.of(byte));
      },
    });
    console.log(`minivisor: assembled ${source} (${image.length} bytes) with our own assembler;`);
    console.log('minivisor: loaded at 0000:7C00 in real mode. Guest output on COM1 follows:\n');
    const started = performance.now();
    const outcome = machine.run();
    const seconds = (performance.now() - started) / 1000;
    const n = machine.cpu.instructions;
    console.log('');
    console.log(`minivisor: the guest switched to 32-bit protected mode, ran ${ITERATIONS.toLocaleString('en')} iterations of a`);
    console.log(`           5-instruction loop, printed its result (${serial.trim()}) and wrote to the exit port 0xF4.`);
    console.log(`minivisor: ${n.toLocaleString('en')} instructions in ${seconds.toFixed(2)} s = ${(n / seconds / 1e6).toFixed(0)} MIPS (interpreter).`);
    console.log(`minivisor: ended with ${outcome.kind}${outcome.kind === 'exit' ? ` (status ${outcome.status})` : ''}. Try: npx minivisor run --help`);
    return outcome.kind === 'exit' ? 0 : 1;
  },
};
