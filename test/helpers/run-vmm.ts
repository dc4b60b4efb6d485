/** Runs a small guest without the BIOS under the VMM (mode 'ept', the default) or bare, and records its VM exits. */
import { Machine, type RunOutcome } from '../../src/machine/machine.ts';
import type { VmExit } from '../../src/vmm/exit-info.ts';
import { assembleOrThrow } from './run-asm.ts';

export interface VmmRun {
  machine: Machine;
  outcome: RunOutcome;
  exits: VmExit[];
  output: string;
}

export function runUnderVmm(source: string, options: { prepare?: (m: Machine) => void; maxInstructions?: number; memoryBytes?: number; mode?: 'ept' | 'shadow' | 'bare'; unrestrictedGuest?: boolean } = {}): VmmRun {
  const bytes = assembleOrThrow(`org 0x7c00\n${source}`);
  let output = '';
  const machine = new Machine({
    memoryBytes: options.memoryBytes ?? 4 << 20,
    mode: options.mode ?? 'ept',
    unrestrictedGuest: options.unrestrictedGuest,
    loads: [{ address: 0x7c00, bytes }],
    entry: { segment: 0, offset: 0x7c00 },
    debugcons: [{ port: 0xe9, sink: (b) => (output += String.fromCharCode(b)) }],
    console: (b) => (output += String.fromCharCode(...b)),
  });
  const exits: VmExit[] = [];
  if (machine.vcpu !== null) machine.vcpu.exitObservers.push((exit) => exits.push({ ...exit }));
  options.prepare?.(machine);
  const outcome = machine.run(options.maxInstructions ?? 5_000_000);
  return { machine, outcome, exits, output };
}

export const ofReason = (run: VmmRun, reason: number) => run.exits.filter((e) => e.reason === reason);
