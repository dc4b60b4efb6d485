/**
 * `npm run bench -- --peers`: the loop benchmark side by side with v86 (npm package `v86`, a
 * devDependency used only here). Both run the Multiboot build of guests/bench/loop.asm
 * (MULTIBOOT=1: the same loop, entered in protected mode by the loader; v86 boots it without a
 * BIOS, minivisor through its own), each run in a process of its own, and each figure is the
 * guest's own: iterations × instructions per iteration / seconds from its 'S' to its newline.
 * The JITs are compared at each count asked for; the interpreters alone (minivisor's --no-jit,
 * v86's `disable_jit`) at the first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGuestImage } from '../src/cli/run-command.ts';
import { builtinBios } from '../src/cli/firmware.ts';
import { Machine } from '../src/machine/machine.ts';
import { projectRoot } from '../src/project-root.ts';
import { expectedLine } from './loop-reference.ts';

export interface LoopRun {
  seconds: number;
  line: string;
}

/** The Multiboot build of the loop guest. */
export function multibootLoop(iters: number, memop: boolean): Uint8Array {
  return loadGuestImage(join(projectRoot(), 'guests', 'bench', 'loop.asm'), { ITERS: String(iters), MEMOP: memop ? '1' : '0', PAGING: '0', MULTIBOOT: '1' });
}

/** minivisor on the Multiboot build (bare; the translation cache on unless `interpreterAlone`), in this process. */
export function runOursMultiboot(iters: number, memop: boolean, interpreterAlone = false): LoopRun {
  let output = '';
  let start = 0;
  let end = 0;
  let lineStart = true;
  const machine = new Machine({
    memoryBytes: 64 << 20,
    bios: builtinBios(),
    exitPort: 0xf4,
    translationCache: !interpreterAlone,
    serial: (byte) => {
      // The guest's line is the last, after the BIOS's own: its 'S' begins a line.
      if (byte === 0x53 && lineStart) start = performance.now();
      if (byte === 0x0a) end = performance.now();
      lineStart = byte === 0x0a;
      output += String.fromCharCode(byte);
    },
  });
  machine.loadMultiboot(multibootLoop(iters, memop), 'loop');
  const outcome = machine.run(50 * iters + 10_000_000);
  if (outcome.kind !== 'exit' || end === 0) throw new Error(`the benchmark guest did not finish under minivisor: ${outcome.kind}`);
  return { seconds: (end - start) / 1000, line: (output.trim().split('\n').at(-1) ?? '').replace(/^S/, '').trim() };
}

/** v86 on the same image, in a child process (tools/v86-loop.ts). */
export function runV86(iters: number, memop: boolean, interpreterAlone = false): LoopRun {
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-peers-'));
  try {
    const image = join(dir, 'loop.bin');
    writeFileSync(image, multibootLoop(iters, memop));
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'tools', 'v86-loop.ts'), image, ...(interpreterAlone ? ['--no-jit'] : [])], { encoding: 'utf8', cwd: projectRoot() });
    const last = run.stdout.trim().split('\n').at(-1) ?? '';
    if (run.status !== 0 || !last.startsWith('{')) throw new Error(`v86 did not finish the benchmark guest (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return JSON.parse(last) as LoopRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The side-by-side table: each line runs ours (in `runChild`'s fresh process) and v86's, and prints both and the ratio. */
export function peersReport(runChild: (args: string[]) => LoopRun, counts: number[]): string[] {
  const lines = [`side by side with v86 ${v86Version()} (the same Multiboot image, each run in a process of its own):`];
  const row = (iters: number, memop: boolean, interpreterAlone: boolean) => {
    const want = expectedLine(iters, memop);
    const perIteration = memop ? 7 : 5;
    const ours = runChild(['--peer-ours', String(iters), memop ? '1' : '0', interpreterAlone ? '1' : '0']);
    const theirs = runV86(iters, memop, interpreterAlone);
    const mips = (run: LoopRun) => (iters * perIteration) / run.seconds / 1e6;
    const check = (run: LoopRun) => (run.line === want ? '' : ` (WRONG: printed ${run.line}, want ${want})`);
    const name = `${memop ? 'MEMOP' : 'ALU  '} ${iters.toExponential(0)}, ${interpreterAlone ? 'interpreters' : 'JITs        '}`;
    lines.push(`  ${name}: minivisor ${mips(ours).toFixed(1).padStart(7)} MIPS${check(ours)}, v86 ${mips(theirs).toFixed(1).padStart(7)} MIPS${check(theirs)}: ${(mips(ours) / mips(theirs)).toFixed(2)}x`);
  };
  for (const iters of counts) {
    for (const memop of [false, true]) row(iters, memop, false);
  }
  for (const memop of [false, true]) row(counts[0], memop, true);
  return lines;
}

function v86Version(): string {
  const run = spawnSync(process.execPath, ['-p', "require('v86/package.json').version"], { encoding: 'utf8', cwd: projectRoot() });
  return run.status === 0 ? run.stdout.trim() : '(version unknown)';
}
