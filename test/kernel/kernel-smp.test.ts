/**
 * guests/kernel-smp, the toy SMP kernel, booted through the BIOS as a Multiboot kernel with its
 * data disk as the IDE master: golden output with one and two processors, the same in every mode
 * (virtual time); and input typed on the keyboard and COM1 reaching it through the IOAPIC.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { assemblePath, boot, ROOT } from '../firmware/harness.ts';

const kernel = assemblePath(join(ROOT, 'guests/kernel-smp/kernel-smp.asm'));
const disk = assemblePath(join(ROOT, 'guests/kernel-smp/disk.asm'));

function run(mode: 'bare' | 'ept' | 'shadow', cpus: number, key?: string, typed?: string) {
  return boot({
    mode,
    cpus,
    memoryBytes: 32 << 20,
    disks: new Map([[0x80, DiskImage.from(disk, 'hard-disk', 'disk.img')]]),
    exitPort: 0xf4,
    maxInstructions: 200_000_000,
    prepare: (m) => void m.loadMultiboot(kernel, 'kernel-smp'),
    keys: key === undefined ? undefined : [(m) => void m.keyboard.typeText(key), (m) => m.typeText(typed ?? '')],
  });
}

describe('the toy SMP kernel', () => {
  for (const cpus of [1, 2]) {
    const expected = readFileSync(join(ROOT, `guests/kernel-smp/kernel-smp.smp${cpus}.expected`), 'latin1');
    for (const mode of ['bare', 'ept', 'shadow'] as const) {
      it(`${mode}, --smp ${cpus}: MP tables, the APICs, the other processors, threads under a spinlock, the IDE disk on IRQ 14: its golden output`, () => {
        const r = run(mode, cpus);
        expect(r.outcome).toEqual({ kind: 'exit', status: 1 });
        expect(r.serial).toBe(expected);
      });
    }
  }

  it('keys reach it through the IOAPIC: the keyboard on IRQ 1 and COM1 on IRQ 4, on the first processor', () => {
    // A key pressed on the keyboard, then a line typed at the terminal: a kernel that takes COM1's
    // input by interrupt gets the terminal on COM1 alone (each character once).
    const r = run('ept', 2, 'o', 'ok\n');
    expect(r.outcome).toEqual({ kind: 'exit', status: 1 });
    const echoed = r.text.split('\n').filter((l) => l.startsWith('keyboard: ') || l.startsWith('com1: '));
    expect(echoed).toEqual(['keyboard: o', 'com1: o', 'com1: k', 'com1: \\n']);
    expect(r.text).not.toContain('input: none');
    expect(r.text).toContain('counter: 9000 (expected 9000)');
  });
});
