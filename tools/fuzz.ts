/**
 * `npm run fuzz -- [--seeds N] [--from S] [--minutes M] [--jobs J]`: Popek–Goldberg equivalence
 * under random code (test/helpers/vmm-fuzz.ts), as long as you like. Each seed is a random guest
 * run on the bare interpreter and in every other mode, and in each mode saved halfway and loaded
 * into a new machine (SNAPSHOT_MODES); the run prints the counts (guests, runs,
 * instructions, hangs, host exceptions, writes outside RAM, divergences by cause) and, for each
 * failing seed, the first instruction after which its runs differ.
 *
 * The seeds are dealt to J worker processes (one per core by default) in turn, so that a run cut
 * short by --minutes has checked one range of seeds from the first. A worker that says nothing
 * for HANG_MS is a host hang: it is killed, its seed reported, and the run goes on.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../src/project-root.ts';
import { checkGuest, firstDivergence, modeName, type GuestVerdict, MODES, SNAPSHOT_MODES } from '../test/helpers/vmm-fuzz.ts';

/** A guest runs in 8 modes of up to a few seconds each: a worker silent this long is hung. */
const HANG_MS = 120_000;
/** Failing seeds bisected to their first divergent instruction (each costs ~40 runs). */
const BISECTED_PER_CAUSE = Number(process.env.FUZZ_EXPLAIN ?? 3);
/**
 * Random code makes garbage fast (a machine's multi-MiB arrays, decoded and compiled blocks): a
 * larger young generation cut the workers' time by a tenth.
 */
const WORKER_FLAGS = ['--max-semi-space-size=64'];

const USAGE = 'usage: npm run fuzz -- [--seeds N] [--from S] [--minutes M] [--jobs J]';
const OPTIONS = ['--seeds', '--from', '--minutes', '--jobs'];

/** Unknown words are a mistake: say which, and how to call it. */
function checkArguments(args: string[]): void {
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === '--help' || args[i] === '-h') {
      console.log(`${USAGE}\n  --seeds N    how many random guests (default 1000)\n  --from S     the first seed (default 1)\n  --minutes M  stop after M minutes, with what is done (default: no limit)\n  --jobs J     worker processes (default: one per core)`);
      process.exit(0);
    }
    if (!OPTIONS.includes(args[i])) {
      console.error(`fuzz: unknown option '${args[i]}'\n${USAGE}`);
      process.exit(2);
    }
  }
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`fuzz: --${name} wants a whole number, not '${process.argv[at + 1] ?? ''}'`);
    process.exit(2);
  }
  return value;
}

/** A worker: checks seeds from, from + step, ... below `to` and prints one JSON verdict per line. */
function work(from: number, to: number, step: number): void {
  for (let seed = from; seed < to; seed += step) {
    // Every mode, and each saved halfway and loaded into a new machine (a snapshot must carry the rest of the run).
    const verdict = checkGuest(seed, [...MODES, ...SNAPSHOT_MODES]);
    process.stdout.write(`${JSON.stringify(verdict)}\n`);
  }
}

interface Totals {
  guests: number;
  runs: number;
  instructions: number;
  hangs: number[];
  hostFailures: string[];
  outside: string[];
  /** cause (mode: what) → seeds */
  divergences: Map<string, number[]>;
  /** Seeds checked (or found hanging), to report the range covered. */
  checked: Set<number>;
  /** Guests not compared, by why. */
  skipped: Map<string, number[]>;
  /** pv rules (docs/hypercalls.md) that made a pv run differ from bare → seeds. */
  pvRules: Map<string, number[]>;
  /** Guests whose shadow-paging runs differ from the bare machine as a TLB may, and equal the coherent-TLB reference. */
  staleTlb: number[];
}

function add(map: Map<string, number[]>, key: string, seed: number): void {
  const seeds = map.get(key) ?? [];
  seeds.push(seed);
  map.set(key, seeds);
}

/** What kind of difference, for counting: the mode and which parts differ. */
function causeOf(d: GuestVerdict['divergences'][number]): string {
  const parts = d.what.split('; ').map((p) => p.split(' ')[0]);
  return `${modeName(d.mode)}: ${parts.join('+')}`;
}

function runWorker(from: number, to: number, step: number, totals: Totals, deadline: number): Promise<void> {
  return new Promise((done) => {
    let next = from;
    const child = spawn(process.execPath, [...WORKER_FLAGS, join(projectRoot(), 'bin', 'run-bundled.js'), 'tools/fuzz.ts', '--worker', String(from), String(to), String(step)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let timer = setTimeout(onHang, HANG_MS);
    function onHang(): void {
      totals.hangs.push(next);
      totals.checked.add(next);
      child.kill('SIGKILL');
    }
    createInterface({ input: child.stdout }).on('line', (line) => {
      clearTimeout(timer);
      timer = setTimeout(onHang, HANG_MS);
      const v = JSON.parse(line) as GuestVerdict;
      next = v.seed + step;
      totals.checked.add(v.seed);
      totals.guests++;
      totals.runs += v.runs;
      totals.instructions += v.instructions;
      for (const h of v.hostFailures) (h.includes('outside the guest') ? totals.outside : totals.hostFailures).push(`seed ${v.seed} ${h.split('\n').slice(0, 3).join(' | ')}`);
      for (const d of v.divergences) add(totals.divergences, causeOf(d), v.seed);
      if (v.skipped) add(totals.skipped, v.skipped, v.seed);
      for (const rule of new Set(v.pvRules)) add(totals.pvRules, rule, v.seed);
      if (v.staleTlb > 0) totals.staleTlb.push(v.seed);
      if (Date.now() > deadline) child.kill('SIGKILL');
    });
    child.on('exit', () => {
      clearTimeout(timer);
      // A worker killed for a hang goes on after the seed it hung on (unless time is up).
      if (next + step < to && Date.now() <= deadline && totals.hangs.at(-1) === next) {
        runWorker(next + step, to, step, totals, deadline).then(done);
      } else done();
    });
  });
}

/** The seeds checked, as ranges: "1..5000" when all of them were, else the whole prefix and the stragglers. */
function coverage(checked: Set<number>, from: number): string {
  let end = from;
  while (checked.has(end)) end++;
  const beyond = checked.size - (end - from);
  if (end === from) return 'none';
  return `${from}..${end - 1}${beyond > 0 ? ` and ${beyond} more after it` : ''}`;
}

async function main(): Promise<void> {
  const workerAt = process.argv.indexOf('--worker');
  if (workerAt >= 0) {
    work(Number(process.argv[workerAt + 1]), Number(process.argv[workerAt + 2]), Number(process.argv[workerAt + 3]));
    return;
  }
  checkArguments(process.argv.slice(2));
  const seeds = option('seeds', 1000);
  const from = option('from', 1);
  const minutes = option('minutes', 0);
  const jobs = Math.max(1, option('jobs', availableParallelism()));
  const started = Date.now();
  const deadline = minutes > 0 ? started + minutes * 60_000 : Infinity;
  const totals: Totals = { guests: 0, runs: 0, instructions: 0, hangs: [], hostFailures: [], outside: [], divergences: new Map(), checked: new Set(), skipped: new Map(), pvRules: new Map(), staleTlb: [] };
  console.log(`fuzz: seeds ${from}..${from + seeds - 1} over ${jobs} worker${jobs === 1 ? '' : 's'}${minutes ? `, at most ${minutes} min` : ''}`);
  const workers: Promise<void>[] = [];
  for (let j = 0; j < Math.min(jobs, seeds); j++) workers.push(runWorker(from + j, from + seeds, jobs, totals, deadline));
  // Each line says what has gone wrong so far too: a long run cut short (a closed terminal) still said it.
  const progress = setInterval(() => {
    let divergent = 0;
    for (const seeds of totals.divergences.values()) divergent += seeds.length;
    const problems = totals.hangs.length + totals.hostFailures.length + totals.outside.length + divergent;
    console.log(`  ${totals.guests} guests, ${((Date.now() - started) / 1000).toFixed(0)} s: ${problems === 0 ? 'no problem so far' : `${totals.hangs.length} hangs, ${totals.hostFailures.length} host exceptions, ${totals.outside.length} writes outside RAM, ${divergent} divergences so far`}`);
  }, 30_000);
  await Promise.all(workers);
  clearInterval(progress);

  const seconds = (Date.now() - started) / 1000;
  let divergent = 0;
  for (const s of totals.divergences.values()) divergent += s.length;
  console.log(`\n${totals.guests} guests (seeds ${coverage(totals.checked, from)}), ${totals.runs} runs, ${(totals.instructions / 1e6).toFixed(1)} M reference instructions, ${seconds.toFixed(0)} s`);
  console.log(`hangs: ${totals.hangs.length}${totals.hangs.length ? ` (seeds ${totals.hangs.join(', ')})` : ''}`);
  console.log(`host exceptions: ${totals.hostFailures.length}`);
  for (const h of totals.hostFailures.slice(0, 10)) console.log(`  ${h}`);
  console.log(`writes outside RAM: ${totals.outside.length}`);
  for (const h of totals.outside.slice(0, 10)) console.log(`  ${h}`);
  const list = (seeds: number[]) => `${seeds.length} (seeds ${seeds.slice(0, 8).join(', ')}${seeds.length > 8 ? ', ...' : ''})`;
  for (const [why, seeds] of totals.skipped) console.log(`not compared: ${why}: ${list(seeds)}`);
  for (const [rule, seeds] of totals.pvRules) console.log(`pv differs by its rules (docs/hypercalls.md): ${rule}: ${list(seeds)}`);
  if (totals.staleTlb.length > 0) {
    console.log(`shadow paging differs as the TLB may (a paging entry changed without INVLPG, SDM Vol. 3 4.10.4), equal to the bare machine with a TLB that drops such translations: ${list(totals.staleTlb)}`);
  }
  console.log(`divergences: ${divergent}`);
  for (const [cause, list] of [...totals.divergences].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  ${String(list.length).padStart(6)}  ${cause}  (seeds ${list.slice(0, 8).join(', ')}${list.length > 8 ? ', ...' : ''})`);
    const mode = { mode: cause.split(/[ :]/)[0], jit: !cause.includes('--no-jit'), v86: cause.includes('--unrestricted off') } as Parameters<typeof firstDivergence>[1];
    for (const seed of list.slice(0, BISECTED_PER_CAUSE)) console.log(`          seed ${seed}: ${firstDivergence(seed, mode)}`);
  }
  if (divergent > 0) {
    // Every divergent seed, for a run long enough that the lists above were cut short.
    const all = [...new Set([...totals.divergences.values()].flat())].sort((a, b) => a - b);
    console.log(`divergent seeds (${all.length}): ${all.join(' ')}`);
  }
  const failed = totals.hangs.length + totals.hostFailures.length + totals.outside.length + divergent;
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
