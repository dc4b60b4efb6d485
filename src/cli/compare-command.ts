/**
 * `minivisor compare FILE`: the same guest under every memory-virtualization mode, side by side —
 * time, exits, and what each mode pays for its page tables (EPT violations, shadow faults and
 * write-protection traps, shadow-cache hits). The table the seeds describe in words.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../project-root.ts';
import type { Command } from './command.ts';
import { UserError } from './user-error.ts';
import { parseRunArguments } from './run-command.ts';
import { Machine, type MemoryMode, type RunOutcome } from '../machine/machine.ts';

const USAGE = `usage: minivisor compare FILE [options of run] [--modes LIST]

Boots FILE (as minivisor run does) under each mode in turn, without terminal input, and
prints one row per mode: wall time, MIPS, VM exits, and the page-table work of the mode.
  --modes LIST   which, comma-separated (default: bare,ept,ept-v86,shadow,shadow-v86,shadow-nocache)
                 bare            the CPU alone
                 ept             the VMM, memory through EPT
                 shadow          the VMM, shadow page tables with the shadow-table cache
                 shadow-nocache  the same with the cache off (one shadow root at a time)
                 ept-v86         ept on a CPU without "unrestricted guest": real mode in
                                 virtual-8086 mode, emulated where V86 cannot hold it
                 shadow-v86      shadow paging the same way
                 pv              paravirtual paging (a guest written for it)
Every option of run applies to every mode (--mode, --shadow-cache and --unrestricted excepted). The guest's
output is printed once, and the command says whether every mode printed the same.`;

interface ModeSpec {
  name: string;
  mode: MemoryMode;
  shadowCacheRoots?: number;
  unrestrictedGuest?: boolean;
}

/** Internal: run one mode and print its row (what each child process of compare does). */
const ROW_FLAG = '--compare-row';

const MODES: Record<string, ModeSpec> = {
  bare: { name: 'bare', mode: 'bare' },
  ept: { name: 'ept', mode: 'ept' },
  shadow: { name: 'shadow', mode: 'shadow' },
  'shadow-nocache': { name: 'shadow, no cache', mode: 'shadow', shadowCacheRoots: 1 },
  'ept-v86': { name: 'ept, V86 (no unrestricted guest)', mode: 'ept', unrestrictedGuest: false },
  'shadow-v86': { name: 'shadow, V86 (no unrestricted guest)', mode: 'shadow', unrestrictedGuest: false },
  pv: { name: 'pv', mode: 'pv' },
};

interface Row {
  spec: ModeSpec;
  seconds: number;
  instructions: number;
  exits: number;
  work: string;
  frames: number;
  output: string;
  outcome: RunOutcome;
}

function runOne(args: string[], spec: ModeSpec): Row {
  let output = '';
  const settings = parseRunArguments(args, (b) => (output += String.fromCharCode(b)));
  settings.config.mode = spec.mode;
  settings.config.shadowCacheRoots = spec.shadowCacheRoots;
  settings.config.unrestrictedGuest = spec.unrestrictedGuest;
  for (const file of settings.outputs) file.open();
  let machine: Machine;
  let outcome: RunOutcome;
  let seconds: number;
  try {
    machine = new Machine(settings.config);
    if (settings.kernel) machine.loadMultiboot(settings.kernel.bytes, settings.kernel.name, settings.kernel.commandLine);
    const started = performance.now();
    outcome = machine.run(settings.maxInstructions);
    seconds = (performance.now() - started) / 1000;
  } finally {
    for (const file of settings.outputs) file.close();
  }
  const vcpu = machine.vcpu;
  const exits = vcpu ? vcpu.exitCounts.reduce((a, b) => a + b, 0) : 0;
  let work = '-';
  if (vcpu?.ept) work = `${vcpu.exitCounts[48]} EPT violations, ${vcpu.ept.mappedPages} pages mapped`;
  if (vcpu?.pv) {
    const s = vcpu.pv.mmu.stats;
    work = `${s.pins} pins, ${s.updates} updates, ${s.baseLoads} CR3 loads, ${s.rejected} refused`;
  }
  if (vcpu?.shadow) {
    const s = vcpu.shadow.mmu.stats;
    const lookups = s.cacheHits + s.cacheMisses;
    work = `${s.filled} filled, ${s.injected} injected, ${s.writeProtectTraps} wp traps, cache ${s.cacheHits}/${lookups} hits`;
  }
  const restricted = vcpu?.restricted;
  if (restricted) work += `; ${restricted.stats.v86Runs} V86 runs, ${restricted.stats.emulated} instructions emulated`;
  return { spec, seconds, instructions: machine.instructions, exits, work, frames: machine.phys.hostMemory.framesInUse, output, outcome };
}

export const compareCommand: Command = {
  usage: USAGE,
  async run(args) {
    if (args.includes('--help') || args.length === 0) {
      console.log(USAGE);
      return args.length === 0 ? 2 : 0;
    }
    const rest = [...args];
    let names = ['bare', 'ept', 'ept-v86', 'shadow', 'shadow-v86', 'shadow-nocache'];
    const at = rest.indexOf('--modes');
    if (at >= 0) {
      const list = rest[at + 1];
      if (list === undefined) throw new UserError('--modes: give a comma-separated list, for example --modes ept,shadow');
      names = list.split(',').map((n) => n.trim());
      const unknown = names.find((n) => !(n in MODES));
      if (unknown !== undefined) throw new UserError(`--modes: no mode '${unknown}': choose from ${Object.keys(MODES).join(', ')}`);
      rest.splice(at, 2);
    }
    if (rest.includes('--mode') || rest.includes('--shadow-cache') || rest.includes('--unrestricted')) throw new UserError('compare chooses the modes itself: use --modes instead of --mode, --shadow-cache and --unrestricted');
    const row = rest.indexOf(ROW_FLAG);
    if (row >= 0) {
      // A child: one mode, its row as JSON on stdout.
      const name = rest[row + 1];
      rest.splice(row, 2);
      process.stdout.write(JSON.stringify(runOne(rest, MODES[name])));
      return 0;
    }
    parseRunArguments(rest, () => {}); // the user's mistakes, found once, before any run
    // Each mode runs in a process of its own, so that no row pays for (or profits from) the
    // JIT warming up in another.
    const rows = names.map((n): Row => {
      const child = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'minivisor.js'), 'compare', ...rest, ROW_FLAG, n], { encoding: 'utf8', maxBuffer: 1 << 28 });
      if (child.status !== 0) throw new Error(`compare: the ${n} run failed: ${child.stderr}`);
      return JSON.parse(child.stdout) as Row;
    });
    process.stdout.write(rows[0].output);
    if (!rows[0].output.endsWith('\n')) process.stdout.write('\n');
    const table = [['mode', 'time', 'MIPS', 'instructions', 'VM exits', 'exits/s', 'frames', 'page-table work']];
    for (const r of rows) {
      table.push([
        r.spec.name, `${(r.seconds * 1000).toFixed(0)} ms`, (r.instructions / r.seconds / 1e6).toFixed(1), r.instructions.toLocaleString('en-US'),
        r.spec.mode === 'bare' ? '-' : r.exits.toLocaleString('en-US'), r.spec.mode === 'bare' ? '-' : (r.exits / r.seconds).toFixed(0),
        String(r.frames), r.work,
      ]);
    }
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    const right = new Set([1, 2, 3, 4, 5, 6]);
    for (const row of table) console.log(row.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    const same = rows.every((r) => r.output === rows[0].output && r.instructions === rows[0].instructions && JSON.stringify(r.outcome) === JSON.stringify(rows[0].outcome));
    console.log(same ? 'every mode printed the same, and ended the same way after the same number of instructions'
      : `the modes differ: ${rows.map((r) => `${r.spec.name} ${JSON.stringify(r.outcome)} after ${r.instructions}`).join('; ')}`);
    return same ? 0 : 1;
  },
};
