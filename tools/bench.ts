/**
 * `npm run bench`: runs the loop benchmark guest (guests/bench/loop.asm, assembled by our own
 * assembler) in its ALU and MEMOP variants and prints MIPS, measured from the guest's 'S' to
 * its newline, as guests/bench/README.md defines it. The guest's printed result is checked
 * against the reference computation so that a fast wrong CPU cannot report a figure.
 *   npm run bench                 10^8 iterations (the published figures' setting)
 *   npm run bench -- --iters 1e7  a quicker run
 *   npm run bench -- --peers      and the loop side by side with v86, at 10^8 and 10^9 (or --iters)
 *   npm run bench -- --xv6 DIR    and xv6 (xv6.img, fs.img in DIR) booted to its prompt in each mode
 *                                 with 1 and 2 processors; add --usertests for usertests (an hour)
 */
import '../src/cli/tune-v8.ts'; // first: V8 settings before any guest code is optimized
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadGuestImage } from '../src/cli/run-command.ts';
import { Machine } from '../src/machine/machine.ts';
import { projectRoot } from '../src/project-root.ts';
import { DiskImage } from '../src/machine/disk-image.ts';
import { builtinBios } from '../src/cli/firmware.ts';
import { peersReport, runOursMultiboot } from './bench-peers.ts';
import { CHROMIUM, loopInChromium } from './bench-browser.ts';
import { timeLoop } from './loop-timing.ts';
import { expectedLine, loopInstructions } from './loop-reference.ts';
import { measureXv6, XV6_CONFIGURATIONS, xv6FolderProblem } from './bench-xv6.ts';


function runLoop(iters: number, memop: boolean, paging = false, mode: 'bare' | 'ept' = 'bare', translationCache = true, branch = false): { mips: number; seconds: number; line: string } {
  const image = loadGuestImage(join(projectRoot(), 'guests', 'bench', 'loop.asm'), { ITERS: String(iters), MEMOP: memop ? '1' : '0', PAGING: paging ? '1' : '0', BRANCH: branch ? '1' : '0' });
  const { seconds, line, outcome } = timeLoop(image, 50 * iters + 1_000_000, { mode, translationCache });
  if (outcome.kind !== 'exit' || seconds === 0) throw new Error(`the benchmark guest did not finish: ${outcome.kind}`);
  return { mips: loopInstructions(iters, memop, branch) / seconds / 1e6, seconds, line };
}

/**
 * Milliseconds from starting `minivisor run guests/hello/hello.asm` as a process to the first
 * byte the boot sector prints (the first after the BIOS banner line): what a user waits for.
 */
function bootTimeMs(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'minivisor.js'), 'run', join(projectRoot(), 'guests', 'hello', 'hello.asm')], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env,
    });
    let output = '';
    let measured = -1;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('latin1');
      const banner = output.indexOf('\n');
      if (measured < 0 && banner >= 0 && output.length > banner + 1) measured = performance.now() - started;
    });
    child.on('close', () => (measured < 0 ? reject(new Error('the hello guest printed nothing')) : resolve(measured)));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const itersArg = process.argv.indexOf('--iters');
const iters = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 1e8;
const variantArg = process.argv.indexOf('--variant');
const variants: [memop: boolean, paging: boolean, mode: 'bare' | 'ept', translationCache: boolean, branch?: boolean][] = [
  [false, false, 'bare', false], [true, false, 'bare', false],
  [false, false, 'bare', true], [true, false, 'bare', true], [false, true, 'bare', true], [true, true, 'bare', true], [false, false, 'ept', true], [true, false, 'ept', true],
  // BRANCH: the ALU loop with an if inside, three blocks (src/jit/region.ts)
  [false, false, 'bare', false, true], [false, false, 'bare', true, true],
];

/** One variant's line. */
function measureVariant(index: number): string {
  const [memop, paging, mode, translationCache, branch = false] = variants[index];
  const { mips, seconds, line } = runLoop(iters, memop, paging, mode, translationCache, branch);
  const want = expectedLine(iters, memop, branch);
  const verdict = line === want ? 'correct' : `WRONG (want ${want})`;
  const where = mode === 'ept' ? 'under the VMM (EPT)' : paging ? 'bare, paging on' : 'bare';
  const name = `${branch ? 'BRANCH' : memop ? 'MEMOP ' : 'ALU   '} loop, ${`${where}, ${translationCache ? 'translation cache' : 'interpreter alone'}`.padEnd(40)}`;
  return `  ${name}: ${mips.toFixed(1).padStart(7)} MIPS  (${seconds.toFixed(2)} s, guest printed ${line}: ${verdict})`;
}

/** The context-switch guest (guests/bench/switch.asm) under each VMM mode: what a CR3 load costs. */
const SWITCH_ROUNDS = 5000, SWITCH_PROCESSES = 4, SWITCH_PAGES = 16;
const switchVariants: [name: string, mode: 'bare' | 'ept' | 'shadow', cacheRoots?: number][] = [
  ['bare                 ', 'bare'], ['EPT                  ', 'ept'], ['shadow, cache of 8   ', 'shadow', 8], ['shadow, cache off    ', 'shadow', 1],
];

function measureSwitchVariant(index: number): string {
  const [name, mode, cacheRoots] = switchVariants[index];
  const image = loadGuestImage(join(projectRoot(), 'guests', 'bench', 'switch.asm'), { ITERS: String(SWITCH_ROUNDS), NPROC: String(SWITCH_PROCESSES), PAGES: String(SWITCH_PAGES) });
  let output = '';
  let start = 0;
  let end = 0;
  const machine = new Machine({
    memoryBytes: 32 << 20, mode, shadowCacheRoots: cacheRoots, loads: [{ address: 0x7c00, bytes: image }], entry: { segment: 0, offset: 0x7c00 }, exitPort: 0xf4,
    serial: (byte) => {
      if (byte === 0x53 && start === 0) start = performance.now();
      if (byte === 0x0a) end = performance.now();
      output += String.fromCharCode(byte);
    },
  });
  const outcome = machine.run(1e10);
  const want = 'E' + ((SWITCH_ROUNDS * SWITCH_PAGES * (SWITCH_PROCESSES * (SWITCH_PROCESSES - 1)) / 2) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  const line = output.replace(/^S/, '').trim();
  if (outcome.kind !== 'exit' || end === 0) throw new Error(`the switch guest did not finish: ${outcome.kind}`);
  const switches = SWITCH_ROUNDS * SWITCH_PROCESSES;
  const micros = ((end - start) * 1000) / switches;
  const exits = machine.vcpu ? machine.vcpu.exitCounts.reduce((a, b) => a + b, 0) : 0;
  const shadow = machine.vcpu?.shadow?.mmu.stats;
  const detail = shadow ? `, ${(shadow.filled / switches).toFixed(1)} shadow fills and ${(exits / switches).toFixed(1)} exits per switch` : machine.vcpu ? `, ${(exits / switches).toFixed(1)} exits per switch` : '';
  return `  ${name}: ${micros.toFixed(2).padStart(6)} us per switch${detail} (${line === want ? 'correct' : `WRONG: ${line}, want ${want}`})`;
}

const switchArg = process.argv.indexOf('--switch-variant');
const xv6Arg = process.argv.indexOf('--xv6');
const xv6VariantArg = process.argv.indexOf('--xv6-variant');
const usertests = process.argv.includes('--usertests');
const historyArg = process.argv.includes('--history');

/** Runs this benchmark again in a fresh process with `args`, through the bundle as `npm run bench` does. */
function child(args: string[]) {
  return spawnSync(process.execPath, [join(projectRoot(), 'bin', 'run-bundled.js'), 'tools/bench.ts', ...args], { encoding: 'utf8' });
}

/**
 * Milliseconds from starting `node` on an empty script to its exit: what every Node program
 * pays before its first line, and the floor under the boot figure. (NODE_EXTRA_CA_CERTS, set
 * in some sandboxes and CI images, makes Node read and parse those certificates at every start.)
 */
function nodeStartMs(env: NodeJS.ProcessEnv): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    spawnSync(process.execPath, ['-e', ''], { env });
    times.push(performance.now() - started);
  }
  return median(times);
}

async function main(): Promise<void> {
  const peerOurs = process.argv.indexOf('--peer-ours');
  if (peerOurs > 0) {
    // A child run for --peers: minivisor on the Multiboot build, in a fresh process.
    console.log(JSON.stringify(runOursMultiboot(Number(process.argv[peerOurs + 1]), process.argv[peerOurs + 2] === '1', process.argv[peerOurs + 3] === '1')));
    return;
  }
  if (historyArg) {
    // A child run: the history figures, with the debugger's modules loaded here only.
    const { historyReport } = await import('./bench-history.ts');
    for (const line of await historyReport()) console.log(line);
    return;
  }
  if (xv6VariantArg > 0) {
    console.log(measureXv6(process.argv[xv6Arg + 1], Number(process.argv[xv6VariantArg + 1]), usertests));
    return;
  }
  if (xv6Arg > 0) {
    const problem = xv6FolderProblem(process.argv[xv6Arg + 1] ?? '');
    if (problem !== null) {
      process.stderr.write(`bench: ${problem}\n`);
      process.exitCode = 2;
      return;
    }
  }
  if (variantArg > 0 || switchArg > 0) {
    // A child run: one variant, in a fresh process.
    console.log(variantArg > 0 ? measureVariant(Number(process.argv[variantArg + 1])) : measureSwitchVariant(Number(process.argv[switchArg + 1])));
    return;
  }
  console.log(`loop benchmark, ${iters.toExponential(0)} iterations (node ${process.version}; the interpreter alone is minivisor run --no-jit)`);
  // Each variant runs in a process of its own, as each emulator in the reference figures does:
  // in one process, the variants that run later find V8's type feedback shaped by the earlier ones.
  const nodeMips: number[] = [];
  for (let i = 0; i < variants.length; i++) {
    const run = child(['--iters', String(iters), '--variant', String(i)]);
    if (run.status !== 0) throw new Error(`benchmark variant ${i} failed: ${run.stderr}`);
    process.stdout.write(run.stdout);
    nodeMips.push(Number(/:\s+([\d.]+) MIPS/.exec(run.stdout)?.[1] ?? NaN));
  }
  console.log('reference (same machine class, guests/bench/README.md): QEMU TCG 5,045 / 1,972; v86 JIT 1,219 / 1,060; v86 interpreter 129; Bochs 126 / 109');
  // The same loops in Chromium (the playground's case: V8 without tune-v8.ts's flag), against Node's variants.
  const inChromium = [['ALU   ', false, false, true, 2], ['MEMOP ', true, false, true, 3], ['BRANCH', false, true, true, 9], ['ALU   ', false, false, false, 0], ['MEMOP ', true, false, false, 1]] as const;
  for (const [name, memop, branch, translationCache, nodeVariant] of inChromium) {
    const run = await loopInChromium(iters, memop, branch, translationCache);
    if (run === null) {
      console.log(`  in Chromium: not measured (no Chromium at ${CHROMIUM}: apt-get install chromium)`);
      break;
    }
    const mips = loopInstructions(iters, memop, branch) / run.seconds / 1e6;
    const want = expectedLine(iters, memop, branch);
    console.log(`  ${name} loop, bare, ${translationCache ? 'translation cache' : 'interpreter alone'}, in Chromium: ${mips.toFixed(1).padStart(7)} MIPS  (${run.seconds.toFixed(2)} s, guest printed ${run.line}: ${run.line === want ? 'correct' : `WRONG (want ${want})`}); ${(mips / nodeMips[nodeVariant]).toFixed(2)}x Node's`);
  }
  if (process.argv.includes('--peers')) {
    const runOurs = (args: string[]) => {
      const run = child(args);
      if (run.status !== 0) throw new Error(`the --peers run of minivisor failed: ${run.stderr}`);
      return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { seconds: number; line: string };
    };
    for (const line of peersReport(runOurs, itersArg > 0 ? [iters] : [1e8, 1e9])) console.log(line);
  }

  console.log(`context switches (guests/bench/switch.asm: ${SWITCH_PROCESSES} address spaces, ${SWITCH_PAGES} pages touched after each CR3 load, ${SWITCH_ROUNDS * SWITCH_PROCESSES} switches):`);
  for (let i = 0; i < switchVariants.length; i++) {
    const run = child(['--switch-variant', String(i)]);
    if (run.status !== 0) throw new Error(`context-switch variant ${i} failed: ${run.stderr}`);
    process.stdout.write(run.stdout);
  }

  // The toy kernel under the VMM: how often it exits.
  {
    const kernel = DiskImage.from(loadGuestImage(join(projectRoot(), 'guests', 'kernel', 'kernel.asm')), 'floppy', 'kernel');
    const machine = new Machine({ memoryBytes: 32 << 20, mode: 'ept', bios: builtinBios(), disks: new Map([[0, kernel]]), exitPort: 0xf4 });
    const started = performance.now();
    machine.run(2_000_000_000);
    const seconds = (performance.now() - started) / 1000;
    const exits = machine.vcpu!.exitCounts.reduce((a, b) => a + b, 0);
    console.log(`toy kernel under the VMM: ${(machine.cpu.instructions / seconds / 1e6).toFixed(1)} MIPS, ${exits} exits, ${(exits / seconds).toFixed(0)} exits per second (${seconds.toFixed(2)} s)`);
  }

  // The toy SMP kernel with two processors under the VMM (as xv6 would be measured: to its end,
  // in instructions over both processors, virtual and host time, and exits per second).
  {
    const dir = join(projectRoot(), 'guests', 'kernel-smp');
    const disk = DiskImage.from(loadGuestImage(join(dir, 'disk.asm')), 'hard-disk', 'disk');
    const machine = new Machine({ memoryBytes: 32 << 20, mode: 'ept', bios: builtinBios(), disks: new Map([[0x80, disk]]), exitPort: 0xf4, cpus: 2 });
    machine.loadMultiboot(loadGuestImage(join(dir, 'kernel-smp.asm')), 'kernel-smp');
    const started = performance.now();
    const outcome = machine.run(2_000_000_000);
    const seconds = (performance.now() - started) / 1000;
    const exits = machine.processors.reduce((n, p) => n + p.vcpu!.exitCounts.reduce((a, b) => a + b, 0), 0);
    const virtualMs = machine.clock.nowNs() / 1e6;
    console.log(`toy SMP kernel, 2 processors under the VMM: ${outcome.kind === 'exit' ? 'to its end' : `stopped (${outcome.kind})`} in ${seconds.toFixed(2)} s (${virtualMs.toFixed(0)} ms of virtual time), ${machine.instructions} instructions over both, ${exits} exits, ${(exits / seconds).toFixed(0)} exits per second`);
  }

  // Snapshots, record/replay, reverse execution: in a child, with the debugger's modules.
  {
    const run = child(['--history']);
    if (run.status !== 0) throw new Error(`the history figures failed: ${run.stderr}`);
    process.stdout.write(run.stdout);
  }

  if (xv6Arg > 0) {
    console.log(`xv6 from ${process.argv[xv6Arg + 1]} (--hda xv6.img --hdb fs.img --mem 512M; instructions over all processors):`);
    for (let i = 0; i < XV6_CONFIGURATIONS.length; i++) {
      const run = child(['--xv6', process.argv[xv6Arg + 1], '--xv6-variant', String(i), ...(usertests ? ['--usertests'] : [])]);
      if (run.status !== 0) throw new Error(`xv6 configuration ${i} failed: ${run.stderr}`);
      process.stdout.write(run.stdout);
    }
  }

  await bootTimeMs(process.env); // the first run makes the code cache and BIOS, as a user's first run does
  const boot = async (env: NodeJS.ProcessEnv) => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) times.push(await bootTimeMs(env));
    return median(times);
  };
  console.log(`boot: process start to the boot sector's first byte: ${(await boot(process.env)).toFixed(0)} ms (median of 7; QEMU 55-150 ms, v86 280-550 ms)`);
  console.log(`  of which node itself: ${nodeStartMs(process.env).toFixed(0)} ms to start and end an empty script`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const { NODE_EXTRA_CA_CERTS: _, ...plain } = process.env;
    console.log(`  NODE_EXTRA_CA_CERTS is set, which node pays at every start; without it: boot ${(await boot(plain)).toFixed(0)} ms, node itself ${nodeStartMs(plain).toFixed(0)} ms`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
