/**
 * The same guest under each memory-virtualization mode, side by side: time, exits, and what each
 * mode pays for its page tables (EPT violations, shadow faults and write-protection traps,
 * shadow-cache hits, paravirtual updates). The seeds' comparison in numbers, for `minivisor
 * compare` (which runs each mode in a process of its own) and the playground's table.
 */
import { Machine, type MachineConfig, type MemoryMode, type RunOutcome } from './machine.ts';

export interface ModeSpec {
  name: string;
  mode: MemoryMode;
  shadowCacheRoots?: number;
  unrestrictedGuest?: boolean;
}

/** The modes by the names `--modes` takes. */
export const COMPARED_MODES: Record<string, ModeSpec> = {
  bare: { name: 'bare', mode: 'bare' },
  ept: { name: 'ept', mode: 'ept' },
  shadow: { name: 'shadow', mode: 'shadow' },
  'shadow-nocache': { name: 'shadow, no cache', mode: 'shadow', shadowCacheRoots: 1 },
  'ept-v86': { name: 'ept, V86 (no unrestricted guest)', mode: 'ept', unrestrictedGuest: false },
  'shadow-v86': { name: 'shadow, V86 (no unrestricted guest)', mode: 'shadow', unrestrictedGuest: false },
  pv: { name: 'pv', mode: 'pv' },
};

/** What compare runs when not told: every mode a guest not written for pv can run in. */
export const DEFAULT_COMPARED = ['bare', 'ept', 'ept-v86', 'shadow', 'shadow-v86', 'shadow-nocache'];

/** One mode's run. */
export interface ModeRow {
  spec: ModeSpec;
  seconds: number;
  instructions: number;
  exits: number;
  /** The page-table work of the mode, in words. */
  work: string;
  /** Host frames in use at the end. */
  frames: number;
  /** What the guest printed (the caller's serial or console sink collects it). */
  output: string;
  outcome: RunOutcome;
}

/**
 * Runs a machine made from `config` under `spec`'s mode for at most `maxInstructions`.
 * `prepare` gets the machine before it runs (a Multiboot kernel to load); `output` says what the
 * guest printed, once the run is over.
 */
export function runMode(config: MachineConfig, spec: ModeSpec, maxInstructions: number, output: () => string, prepare?: (machine: Machine) => void): ModeRow {
  const machine = new Machine({ ...config, mode: spec.mode, shadowCacheRoots: spec.shadowCacheRoots, unrestrictedGuest: spec.unrestrictedGuest });
  try {
    prepare?.(machine);
    const started = performance.now();
    const outcome = machine.run(maxInstructions);
    const seconds = (performance.now() - started) / 1000;
    return { spec, seconds, instructions: machine.instructions, exits: exitsOf(machine), work: pageTableWork(machine), frames: machine.phys.hostMemory.framesInUse, output: output(), outcome };
  } finally {
    machine.dispose();
  }
}

const exitsOf = (machine: Machine) => machine.vcpu?.exitCounts.reduce((a, b) => a + b, 0) ?? 0;

/** What the mode did for the guest's page tables, in words ('-' for the bare machine). */
function pageTableWork(machine: Machine): string {
  const vcpu = machine.vcpu;
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
  return work;
}

/** The table's cells: a header row, then a row per mode. */
export function comparisonTable(rows: readonly ModeRow[]): string[][] {
  const table = [['mode', 'time', 'MIPS', 'instructions', 'VM exits', 'exits/s', 'frames', 'page-table work']];
  for (const r of rows) {
    table.push([
      r.spec.name, `${(r.seconds * 1000).toFixed(0)} ms`, (r.instructions / r.seconds / 1e6).toFixed(1), r.instructions.toLocaleString('en-US'),
      r.spec.mode === 'bare' ? '-' : r.exits.toLocaleString('en-US'), r.spec.mode === 'bare' ? '-' : (r.exits / r.seconds).toFixed(0),
      String(r.frames), r.work,
    ]);
  }
  return table;
}

/** The table as text, its numbers right-aligned. */
export function formatComparison(rows: readonly ModeRow[]): string {
  const table = comparisonTable(rows);
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const right = new Set([1, 2, 3, 4, 5, 6]);
  return table.map((row) => row.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

/** Whether every mode printed the same and ended the same way after as many instructions, said in a line. */
export function comparisonVerdict(rows: readonly ModeRow[]): { same: boolean; text: string } {
  const same = rows.every((r) => r.output === rows[0].output && r.instructions === rows[0].instructions && JSON.stringify(r.outcome) === JSON.stringify(rows[0].outcome));
  return {
    same,
    text: same
      ? 'every mode printed the same, and ended the same way after the same number of instructions'
      : `the modes differ: ${rows.map((r) => `${r.spec.name} ${JSON.stringify(r.outcome)} after ${r.instructions}`).join('; ')}`,
  };
}
