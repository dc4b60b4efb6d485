/**
 * guests/kernel: the toy protected-mode kernel. Its image is one assembly of kernel.asm (a
 * bootable 1.44 MB floppy); booted through the BIOS it must print guests/kernel/kernel.expected
 * on COM1 and power off through the exit port. Runs on a 32 MiB machine, as `minivisor run`
 * gives by default, so that the CLI prints the same thing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boot, guestImage, ROOT } from '../firmware/harness.ts';

const FLOPPY_BYTES = 1_474_560;
const EXPECTED = join(ROOT, 'guests', 'kernel', 'kernel.expected');
const MEMORY = 32 << 20;
const BUDGET = 2_000_000_000;

/** The golden output; a missing file fails the test with what to do, it is never skipped. */
function expected(): string {
  if (!existsSync(EXPECTED)) {
    throw new Error('guests/kernel/kernel.expected does not exist yet: once minivisor runs the kernel to the end, check its output reads right and save it there');
  }
  return readFileSync(EXPECTED, 'utf8');
}

describe('the kernel image', () => {
  it('assembles to a whole 1.44 MB floppy with the boot signature, the same bytes every time', () => {
    const image = guestImage('kernel');
    expect(image.length).toBe(FLOPPY_BYTES);
    expect(image[510]).toBe(0x55);
    expect(image[511]).toBe(0xaa);
    expect(Buffer.from(guestImage('kernel')).equals(Buffer.from(image))).toBe(true);
  });
});

describe('booting the kernel', () => {
  const run = () => boot({ floppy: guestImage('kernel'), memoryBytes: MEMORY, exitPort: 0xf4, maxInstructions: BUDGET });

  it('enters protected mode and prints the E820 map and the frames it manages', () => {
    const { text } = run();
    expect(text).toContain('toy kernel: in 32-bit protected mode, ring 0\n');
    expect(text).toContain(
      'E820 memory map (from the BIOS, in real mode):\n' +
        '  0x0000000000000000 - 0x000000000009FC00  usable\n' +
        '  0x000000000009FC00 - 0x00000000000A0000  reserved (type 2)\n' +
        '  0x00000000000F0000 - 0x0000000000100000  reserved (type 2)\n' +
        '  0x0000000000100000 - 0x0000000002000000  usable\n' +
        '  0x00000000FFFF0000 - 0x0000000100000000  reserved (type 2)\n' +
        'frames: 7936 free 4 KiB frames of RAM (31 MiB) from 0x00100000 to 0x02000000\n',
    );
  });

  it('runs its processes to the end, prints guests/kernel/kernel.expected and powers off (exit status 1)', () => {
    const { outcome, serial } = run();
    expect(serial).toBe(expected());
    expect(outcome).toEqual({ kind: 'exit', status: 1 });
  });

  it('boots the same way from the command line: minivisor run guests/kernel/kernel.asm', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'run', 'guests/kernel/kernel.asm', '--exit-port', '0xf4'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toBe(expected());
    expect(r.status).toBe(1);
  });
});
