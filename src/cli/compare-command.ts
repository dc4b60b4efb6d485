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
import { COMPARED_MODES, DEFAULT_COMPARED, comparisonVerdict, formatComparison, runMode, type ModeRow, type ModeSpec } from '../machine/mode-comparison.ts';

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

/** Internal: run one mode and print its row (what each child process of compare does). */
const ROW_FLAG = '--compare-row';

function runOne(args: string[], spec: ModeSpec): ModeRow {
  let output = '';
  const settings = parseRunArguments(args, (b) => (output += String.fromCharCode(b)));
  const kernel = settings.kernel;
  for (const file of settings.outputs) file.open();
  try {
    return runMode(settings.config, spec, settings.maxInstructions, () => output, kernel ? (m) => m.loadMultiboot(kernel.bytes, kernel.name, kernel.commandLine) : undefined);
  } finally {
    for (const file of settings.outputs) file.close();
  }
}

export const compareCommand: Command = {
  usage: USAGE,
  async run(args) {
    if (args.includes('--help') || args.length === 0) {
      console.log(USAGE);
      return args.length === 0 ? 2 : 0;
    }
    const rest = [...args];
    let names = DEFAULT_COMPARED;
    const at = rest.indexOf('--modes');
    if (at >= 0) {
      const list = rest[at + 1];
      if (list === undefined) throw new UserError('--modes: give a comma-separated list, for example --modes ept,shadow');
      names = list.split(',').map((n) => n.trim());
      const unknown = names.find((n) => !(n in COMPARED_MODES));
      if (unknown !== undefined) throw new UserError(`--modes: no mode '${unknown}': choose from ${Object.keys(COMPARED_MODES).join(', ')}`);
      rest.splice(at, 2);
    }
    if (rest.includes('--mode') || rest.includes('--shadow-cache') || rest.includes('--unrestricted')) throw new UserError('compare chooses the modes itself: use --modes instead of --mode, --shadow-cache and --unrestricted');
    const runOnly = ['--save-on-exit', '--load-snapshot', '--record', '--replay'].filter((o) => rest.includes(o));
    if (runOnly.length > 0) throw new UserError(`compare boots the guest afresh in each mode: ${runOnly.join(', ')} belong${runOnly.length === 1 ? 's' : ''} to minivisor run`);
    const row = rest.indexOf(ROW_FLAG);
    if (row >= 0) {
      // A child: one mode, its row as JSON on stdout.
      const name = rest[row + 1];
      rest.splice(row, 2);
      process.stdout.write(JSON.stringify(runOne(rest, COMPARED_MODES[name])));
      return 0;
    }
    parseRunArguments(rest, () => {}); // the user's mistakes, found once, before any run
    // Each mode runs in a process of its own, so that no row pays for (or profits from) the
    // JIT warming up in another.
    const rows = names.map((n): ModeRow => {
      const child = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'minivisor.js'), 'compare', ...rest, ROW_FLAG, n], { encoding: 'utf8', maxBuffer: 1 << 28 });
      if (child.status !== 0) throw new Error(`compare: the ${n} run failed: ${child.stderr}`);
      return JSON.parse(child.stdout) as ModeRow;
    });
    process.stdout.write(rows[0].output);
    if (!rows[0].output.endsWith('\n')) process.stdout.write('\n');
    console.log(formatComparison(rows));
    const { same, text } = comparisonVerdict(rows);
    console.log(text);
    return same ? 0 : 1;
  },
};
