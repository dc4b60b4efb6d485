/**
 * `minivisor demo` (what `npm start` runs): boots the guests that exist and says what each one
 * shows. Until the toy kernel lands: the BIOS booting boot sectors from a floppy (hello, e820,
 * timer), then the loop benchmark entering 32-bit protected mode.
 */
import { join } from 'node:path';
import { Machine, type RunOutcome } from '../machine/machine.ts';
import { DiskImage } from '../machine/disk-image.ts';
import { builtinBios } from '../machine/firmware.ts';
import { projectRoot } from '../project-root.ts';
import type { Command } from './command.ts';
import { loadGuestImage } from './run-command.ts';

const LOOP_ITERATIONS = 5_000_000;

interface Tour {
  guest: string;
  what: string;
  memoryBytes?: number;
}

const TOUR: Tour[] = [
  { guest: 'hello', what: 'The BIOS runs its POST, loads the boot sector from a floppy to 0000:7C00 and jumps to it; the guest prints with INT 10h.' },
  { guest: 'e820', what: 'The guest asks INT 15h E820 for the memory map: what the machine was configured with (48 MiB here), as if it were real.', memoryBytes: 48 << 20 },
  { guest: 'timer', what: 'The guest hooks the timer interrupt and waits with HLT: the PIT raises IRQ 0 through the PIC, in virtual time.' },
];

function say(text: string): void {
  process.stdout.write(`\x1b[2m${text}\x1b[0m\n`.replace(/\x1b\[[0-9;]*m/g, process.stdout.isTTY ? '$&' : ''));
}

function boot(bios: Uint8Array, tour: Tour): RunOutcome {
  const source = join(projectRoot(), 'guests', tour.guest, `${tour.guest}.asm`);
  const disk = DiskImage.from(loadGuestImage(source), 'floppy', source);
  const machine = new Machine({
    memoryBytes: tour.memoryBytes ?? 32 << 20,
    bios,
    disks: new Map([[0, disk]]),
    serial: (byte) => process.stdout.write(Uint8Array.of(byte)),
  });
  return machine.run(2_000_000_000); // idle time counts: waiting 10 timer ticks is 55M instructions of virtual time
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a tour: boot the example guests and say what each shows (npm start)',
  usage: 'usage: minivisor demo\n\nBoots guests/hello, guests/e820 and guests/timer through the BIOS, then the loop benchmark.',
  async run() {
    const bios = builtinBios();
    for (const tour of TOUR) {
      say(`\n== guests/${tour.guest}: ${tour.what}`);
      const outcome = boot(bios, tour);
      if (outcome.kind !== 'halted') {
        say(`minivisor: guests/${tour.guest} ended unexpectedly (${outcome.kind})`);
        return 1;
      }
    }

    say(`\n== guests/bench/loop.asm: a boot sector that enters 32-bit protected mode and runs ${LOOP_ITERATIONS.toLocaleString('en')} iterations of a 5-instruction loop.`);
    const image = loadGuestImage(join(projectRoot(), 'guests', 'bench', 'loop.asm'), { ITERS: String(LOOP_ITERATIONS) });
    const machine = new Machine({
      memoryBytes: 32 << 20,
      loads: [{ address: 0x7c00, bytes: image }],
      entry: { segment: 0, offset: 0x7c00 },
      exitPort: 0xf4,
      serial: (byte) => process.stdout.write(Uint8Array.of(byte)),
    });
    const started = performance.now();
    const outcome = machine.run();
    const seconds = (performance.now() - started) / 1000;
    const n = machine.cpu.instructions;
    say(`${n.toLocaleString('en')} instructions in ${seconds.toFixed(2)} s: ${(n / seconds / 1e6).toFixed(0)} MIPS on this machine (interpreter).`);
    say('\nNext: npx minivisor run guests/hello/hello.asm, npx minivisor help run, and README.md.');
    return outcome.kind === 'exit' ? 0 : 1;
  },
};
