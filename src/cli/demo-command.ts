/**
 * `minivisor demo` (what `npm start` runs): boots the toy kernel (guests/kernel) through the
 * BIOS and says what happened. The kernel sets up protected mode, paging and a TSS, runs seven
 * processes in ring 3 that call it with int 0x80, kills the three that misbehave, and powers off.
 */
import { join } from 'node:path';
import { Machine } from '../machine/machine.ts';
import { DiskImage } from '../machine/disk-image.ts';
import { builtinBios } from './firmware.ts';
import { projectRoot } from '../project-root.ts';
import type { Command } from './command.ts';
import { loadGuestImage } from './run-command.ts';

/** The kernel powers off by writing to this port (as to QEMU's isa-debug-exit). */
const EXIT_PORT = 0xf4;

function say(text: string): void {
  process.stdout.write(process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m\n` : `${text}\n`);
}

export const demoCommand: Command = {
  usage: 'usage: minivisor demo\n\nBoots guests/kernel/kernel.asm through the BIOS: ring 3 processes, int 0x80, paging.',
  async run() {
    const source = join(projectRoot(), 'guests', 'kernel', 'kernel.asm');
    const image = loadGuestImage(source);
    say(`minivisor: booting ${source} from a floppy through minivisor's BIOS (COM1 follows).\n`);
    const machine = new Machine({
      memoryBytes: 32 << 20,
      bios: builtinBios(),
      disks: new Map([[0, DiskImage.from(image, 'floppy', source)]]),
      exitPort: EXIT_PORT,
      serial: (byte) => process.stdout.write(Uint8Array.of(byte)),
    });
    const started = performance.now();
    const outcome = machine.run(2_000_000_000);
    const seconds = (performance.now() - started) / 1000;
    const n = machine.instructions;
    say(`\nminivisor: the kernel built its GDT, IDT and TSS, turned paging on, ran processes in ring 3 that`);
    say(`           called it with int 0x80, killed the ones that misbehaved, and powered off (port 0x${EXIT_PORT.toString(16)}).`);
    say(`minivisor: ${n.toLocaleString('en')} instructions in ${seconds.toFixed(2)} s (${(n / seconds / 1e6).toFixed(0)} MIPS).`);
    say('minivisor: read guests/kernel/README.md next, or try: npx minivisor run guests/hello/hello.asm');
    return outcome.kind === 'exit' ? 0 : 1;
  },
};
