/**
 * `npm run bench -- --xv6 DIR [--usertests]`: times a stock xv6 (MIT's x86 teaching Unix, which
 * is not part of minivisor: build it from mit-pdos/xv6-public with `make xv6.img fs.img` and
 * give the folder) in each mode with one and two processors, as `minivisor run --hda xv6.img
 * --hdb fs.img --mem 512M --smp N` runs it: instructions over all processors, host seconds and
 * VM exits to its shell's first prompt (after `init: starting sh`); with --usertests also for
 * `usertests`, typed at the prompt on COM1, to ALL TESTS PASSED (about ten minutes a run).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskImage } from '../src/machine/disk-image.ts';
import { builtinBios } from '../src/cli/firmware.ts';
import { Machine, type MemoryMode } from '../src/machine/machine.ts';

export const XV6_CONFIGURATIONS: [mode: MemoryMode, cpus: number][] = [['bare', 1], ['bare', 2], ['ept', 1], ['ept', 2], ['shadow', 1], ['shadow', 2]];

/** Says what is wrong with DIR for --xv6, or null when it holds both images. */
export function xv6FolderProblem(dir: string): string | null {
  const missing = ['xv6.img', 'fs.img'].filter((f) => !existsSync(join(dir, f)));
  if (missing.length === 0) return null;
  return `--xv6 ${dir}: no ${missing.join(' or ')} there (build xv6 from mit-pdos/xv6-public with \`make xv6.img fs.img\` and give its folder)`;
}

/** One configuration's line (or two, with usertests). Runs in a process of its own (see bench.ts). */
export function measureXv6(dir: string, index: number, usertests: boolean): string {
  const [mode, cpus] = XV6_CONFIGURATIONS[index];
  let output = '';
  const machine = new Machine({
    memoryBytes: 512 << 20, mode, cpus, bios: builtinBios(), serial: (byte) => (output += String.fromCharCode(byte)),
    disks: new Map([[0x80, DiskImage.from(readFileSync(join(dir, 'xv6.img')), 'hard-disk', 'xv6.img')], [0x81, DiskImage.from(readFileSync(join(dir, 'fs.img')), 'hard-disk', 'fs.img')]]),
  });
  const exits = () => machine.processors.reduce((n, p) => n + (p.vcpu === null ? 0 : p.vcpu.exitCounts.reduce((a, b) => a + b, 0)), 0);
  const name = `${mode.padEnd(6)} --smp ${cpus}`;
  const line = (what: string, instructions: number, seconds: number, exitCount: number) =>
    `  ${name}, ${what}: ${(instructions / 1e6).toFixed(0).padStart(6)} M instructions in ${seconds.toFixed(1).padStart(6)} s (${(instructions / seconds / 1e6).toFixed(1)} MIPS)` +
    (mode === 'bare' ? '' : `, ${exitCount} exits (${(exitCount / seconds).toFixed(0)} per second)`);
  // Runs in steps of 1 M instructions until `done` says so, or fails after `limit` instructions.
  const runUntil = (done: () => boolean, limit: number, what: string) => {
    const start = machine.instructions;
    while (!done()) {
      const outcome = machine.run(1_000_000);
      if (outcome.kind !== 'limit') throw new Error(`xv6 (${name}) stopped ${what}: ${outcome.kind} ${'detail' in outcome ? outcome.detail : ''}`);
      if (machine.instructions - start > limit) throw new Error(`xv6 (${name}) did not get ${what} in ${limit / 1e9} G instructions; its output ends: ${output.slice(-200)}`);
    }
  };
  let started = performance.now();
  runUntil(() => output.includes('init: starting sh') && output.endsWith('$ '), 2e9, 'to its prompt');
  const lines = [line("to its shell's prompt", machine.instructions, (performance.now() - started) / 1000, exits())];
  if (usertests) {
    const before = { instructions: machine.instructions, exits: exits(), output: output.length };
    started = performance.now();
    machine.typeText('usertests\n');
    const ran = () => output.slice(before.output);
    runUntil(() => ran().includes('ALL TESTS PASSED') || /FAILED|panic/.test(ran()), 100e9, 'through usertests');
    if (!ran().includes('ALL TESTS PASSED')) throw new Error(`usertests failed (${name}); its output ends: ${ran().slice(-300)}`);
    lines.push(line('usertests to ALL TESTS PASSED', machine.instructions - before.instructions, (performance.now() - started) / 1000, exits() - before.exits));
  }
  return lines.join('\n');
}
