/**
 * guests/kernel-pv: the toy kernel assembled with PV defined, for minivisor's paravirtual paging
 * (--mode pv, docs/hypercalls.md). Under --mode pv it must print what the toy kernel prints,
 * guests/kernel/kernel.expected, and power off the same way; under any other mode it must say it
 * needs --mode pv and power off with a non-zero code instead of crashing.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { S_CR3 } from '../../src/cpu/state.ts';
import type { MemoryMode } from '../../src/machine/machine.ts';
import { BANNER, boot, guestImage, ROOT } from '../firmware/harness.ts';

const EXPECTED = join(ROOT, 'guests', 'kernel', 'kernel.expected');
const MEMORY = 32 << 20;
const BUDGET = 2_000_000_000;
/** pv.asm's PV_STOP: the exit port gets 3 when kernel-pv cannot run, so the status is (3 << 1) | 1. */
const CANNOT_RUN = { kind: 'exit', status: 7 };
const NEEDS_PV = 'kernel-pv: needs minivisor --mode pv (paravirtual paging)\n';

/** The image layout (guests/kernel/layout.inc): the boot sector, the kernel, the user image. */
const USER_FILE_OFFSET = 0x200 + 0xc000;
const IMAGE_LOADED_END = 0x200 + 120 * 512;

const runPv = () => boot({ floppy: guestImage('kernel-pv'), mode: 'pv', memoryBytes: MEMORY, exitPort: 0xf4, maxInstructions: BUDGET });

describe('the kernel-pv image', () => {
  it('is the toy kernel\'s sources with PV defined: the same boot sector and user image, another kernel', () => {
    const toy = guestImage('kernel');
    const pv = guestImage('kernel-pv');
    expect(pv.length).toBe(toy.length);
    expect(Buffer.from(pv.subarray(0, 0x200)).equals(Buffer.from(toy.subarray(0, 0x200)))).toBe(true);
    expect(Buffer.from(pv.subarray(USER_FILE_OFFSET, IMAGE_LOADED_END)).equals(Buffer.from(toy.subarray(USER_FILE_OFFSET, IMAGE_LOADED_END)))).toBe(true);
    expect(Buffer.from(pv.subarray(0x200, USER_FILE_OFFSET)).equals(Buffer.from(toy.subarray(0x200, USER_FILE_OFFSET)))).toBe(false);
  });
});

describe('kernel-pv under --mode pv', () => {
  it('prints guests/kernel/kernel.expected and powers off as the toy kernel does', () => {
    const { outcome, serial, machine } = runPv();
    expect(serial).toBe(readFileSync(EXPECTED, 'utf8'));
    const toy = boot({ floppy: guestImage('kernel'), memoryBytes: MEMORY, exitPort: 0xf4, maxInstructions: BUDGET });
    expect(outcome).toEqual(toy.outcome);
    expect(outcome).toEqual({ kind: 'exit', status: 1 });

    // It went through the VMM for all of it, and the VMM never had to refuse anything.
    const pv = machine.vcpu!.pv!;
    const stats = pv.mmu.stats;
    expect(stats.rejected).toBe(0);
    expect(pv.refusedWrites).toBe(0);
    expect(stats.updates).toBeGreaterThan(0);
    expect(stats.baseLoads).toBeGreaterThan(1);
    // What the processes pinned, they unpinned: what stays is the kernel's directory and its
    // 8 page tables (32 MiB), the "frames in use" of the last lines.
    expect(stats.pins - stats.unpins).toBe(9);
    expect(stats.unpins).toBeGreaterThan(0);
    // And the CPU ends on the kernel's own directory, loaded by hypercall: a machine address.
    expect(machine.cpu.st[S_CR3]).toBe(pv.mmu.baseMachineAddress);
    expect(pv.mmu.isPinned(pv.mmu.baseMachineAddress >>> 12)).toBe(true);
  });

  it('boots the same way from the command line: minivisor run guests/kernel-pv/kernel-pv.asm --mode pv', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'run', 'guests/kernel-pv/kernel-pv.asm', '--mode', 'pv', '--exit-port', '0xf4'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toBe(readFileSync(EXPECTED, 'utf8'));
    expect(r.status).toBe(1);
  });
});

describe('kernel-pv anywhere else', () => {
  const cases: [MemoryMode, string][] = [
    ['ept', 'kernel-pv: hypercall 2 (p2m) returned -38: no paravirtual paging in this mode\n'],
    ['shadow', 'kernel-pv: hypercall 2 (p2m) returned -38: no paravirtual paging in this mode\n'],
    ['bare', 'kernel-pv: VMCALL is an invalid opcode here: no hypervisor\n'],
  ];
  it.each(cases)('under --mode %s says it needs --mode pv and powers off with status 7', (mode, why) => {
    const { outcome, text } = boot({ floppy: guestImage('kernel-pv'), mode, memoryBytes: MEMORY, exitPort: 0xf4, maxInstructions: BUDGET });
    expect(text.startsWith(`${BANNER}\ntoy kernel: in 32-bit protected mode, ring 0\n`)).toBe(true);
    expect(text.endsWith(`interrupts: IDT loaded; PIC: IRQs at vectors 32-47; PIT: 100 Hz\n${NEEDS_PV}${why}`)).toBe(true);
    expect(text).not.toContain('paging: on');
    expect(outcome).toEqual(CANNOT_RUN);
  });

  it('says so from the command line too, under the default mode (ept)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'run', 'guests/kernel-pv/kernel-pv.asm', '--exit-port', '0xf4'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout.replace(/\r\n/g, '\n')).toContain(NEEDS_PV);
    expect(r.status).toBe(7);
  });
});
