/**
 * Two virtual machines in one process, run in turn a slice at a time, through the API: the toy
 * kernel under EPT and the timer guest under shadow paging without "unrestricted guest". Each
 * has its own memory, devices, vCPU and VMCS; the VMM counts exits and host frames per VM.
 *
 *   npx tsx tools/two-vms.ts [SLICE]     (SLICE: instructions per turn, default 100000)
 */
import { join } from 'node:path';
import { assembleFile } from '../src/asm/node-files.ts';
import { formatDiagnostic } from '../src/asm/index.ts';
import { DiskImage } from '../src/machine/disk-image.ts';
import { builtinBios } from '../src/cli/firmware.ts';
import { Machine, type MachineConfig, type RunOutcome } from '../src/machine/machine.ts';
import { projectRoot } from '../src/project-root.ts';

function floppy(guest: string): Map<number, DiskImage> {
  const result = assembleFile(join(projectRoot(), 'guests', guest, `${guest}.asm`));
  if (!result.ok) throw new Error(result.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return new Map([[0x00, DiskImage.from(result.bytes, 'floppy', `${guest}.img`)]]);
}

interface Vm {
  name: string;
  machine: Machine;
  outcome: RunOutcome | null;
}

function vm(name: string, config: Omit<MachineConfig, 'serial' | 'bios'>): Vm {
  let line = '';
  const serial = (byte: number) => {
    if (byte === 10) {
      console.log(`[${name}] ${line}`);
      line = '';
    } else if (byte !== 13) line += String.fromCharCode(byte);
  };
  return { name, machine: new Machine({ ...config, bios: builtinBios(), serial }), outcome: null };
}

const slice = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(slice) || slice < 1) {
  console.error('usage: npx tsx tools/two-vms.ts [SLICE]   (instructions per turn, a whole number)');
  process.exit(2);
}
const vms = [
  vm('kernel/ept', { memoryBytes: 32 << 20, mode: 'ept', disks: floppy('kernel'), exitPort: 0xf4 }),
  vm('timer/shadow-v86', { memoryBytes: 4 << 20, mode: 'shadow', unrestrictedGuest: false, disks: floppy('timer') }),
];
// Round robin: each VM runs a slice in turn until every one has ended ('limit' is only the slice used up).
let turns = 0;
while (vms.some((v) => v.outcome === null)) {
  for (const v of vms) {
    if (v.outcome !== null) continue;
    const o = v.machine.run(slice);
    turns++;
    if (o.kind !== 'limit') v.outcome = o;
  }
}
console.log(`\n${turns} turns of ${slice} instructions`);
for (const { name, machine, outcome } of vms) {
  const vcpu = machine.vcpu!;
  const exits = vcpu.exitCounts.reduce((a, b) => a + b, 0);
  console.log(`${name}: ${JSON.stringify(outcome)} after ${machine.cpu.instructions.toLocaleString('en-US')} instructions; ${exits} VM exits; ${machine.phys.hostMemory.framesInUse} host frames`);
}
