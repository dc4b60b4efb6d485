/**
 * Several VMs in one process (tools/two-vms.ts shows it through the API): run in turn a slice at
 * a time, each ends exactly as it does alone — output, state, instructions, RAM, VM exits by
 * reason, host frames — even when one of them writes everywhere it can reach and reprograms
 * every device it can, so neither can read or write the other's memory or devices, and each
 * VM's exits and frames are its own.
 */
import { describe, expect, it } from 'vitest';
import { S_EIP } from '../../src/cpu/state.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { Machine, type MachineConfig, type RunOutcome } from '../../src/machine/machine.ts';
import { bios, guestImage } from '../firmware/harness.ts';
import { ENTER_FLAT_PM, assembleOrThrow } from '../helpers/run-asm.ts';
import { ramDigest } from '../helpers/same-machine.ts';

/**
 * A hostile guest: with paging off it fills physical addresses from 64 KiB to 64 MiB (16 times
 * its RAM) with 0xAA, reads back what lies past its RAM, masks every interrupt at the PIC, reprograms the PIT,
 * and says on COM1 what it read.
 */
const HOSTILE = assembleOrThrow(`org 0x7c00
${ENTER_FLAT_PM}
  mov edi, 0x10000
  mov ecx, ((64 << 20) - 0x10000) / 4
  mov eax, 0xaaaaaaaa
  rep stosd
  mov eax, [0x01000000]        ; past its RAM: the bus answers all ones, whatever another VM holds
  mov [0x500], eax
  mov al, 0xff
  out 0x21, al                 ; mask every IRQ
  out 0xa1, al
  mov al, 0x34
  out 0x43, al                 ; PIT channel 0: another rate
  mov al, 1
  out 0x40, al
  out 0x40, al
  mov dx, 0x3f8
  mov al, 'H'
  out dx, al
  cli
  hlt
`);

interface Vm {
  make(): Machine;
  output: string;
}

function vm(config: Omit<MachineConfig, 'serial'>): Vm {
  const v: Vm = {
    output: '',
    make: () => new Machine({ ...config, serial: (b) => (v.output += String.fromCharCode(b)) }),
  };
  return v;
}

/** Everything that makes a run what it is. */
function summary(m: Machine, outcome: RunOutcome, output: string) {
  return {
    outcome, output, instructions: m.cpu.instructions, eip: m.cpu.st[S_EIP], ram: ramDigest(m),
    exits: Array.from(m.vcpu!.exitCounts), frames: m.phys.hostMemory.framesInUse,
  };
}

function alone(v: Vm) {
  v.output = '';
  const m = v.make();
  const outcome = m.run(2_000_000_000);
  return summary(m, outcome, v.output);
}

/** Runs the VMs in turn, `slice` instructions at a time, until each has ended. */
function sideBySide(vms: Vm[], slice: number) {
  for (const v of vms) v.output = '';
  const machines = vms.map((v) => v.make());
  const outcomes: (RunOutcome | null)[] = vms.map(() => null);
  while (outcomes.some((o) => o === null)) {
    machines.forEach((m, i) => {
      if (outcomes[i] !== null) return;
      const o = m.run(slice);
      if (o.kind !== 'limit') outcomes[i] = o;
    });
  }
  return { runs: machines.map((m, i) => summary(m, outcomes[i]!, vms[i].output)), machines };
}

describe('VMs side by side in one process', () => {
  it('the toy kernel (ept) and the timer guest (shadow, V86) run in turn and end exactly as each does alone', () => {
    const kernel = vm({ memoryBytes: 32 << 20, mode: 'ept', bios: bios(), disks: new Map([[0, DiskImage.from(guestImage('kernel'), 'floppy', 'kernel.img')]]), exitPort: 0xf4 });
    const timer = vm({ memoryBytes: 4 << 20, mode: 'shadow', unrestrictedGuest: false, bios: bios(), disks: new Map([[0, DiskImage.from(guestImage('timer'), 'floppy', 'timer.img')]]) });
    const soloKernel = alone(kernel);
    const soloTimer = alone(timer);
    expect(soloKernel.outcome).toEqual({ kind: 'exit', status: 1 });
    expect(soloTimer.outcome.kind).toBe('halted');
    const [k, t] = sideBySide([kernel, timer], 50_000).runs;
    expect(k).toEqual(soloKernel);
    expect(t).toEqual(soloTimer);
    expect(k.exits).not.toEqual(t.exits);
  });

  it('a guest that writes 64 MiB of addresses and reprograms the PIC and PIT touches nothing of its neighbour', () => {
    const hostile = vm({ memoryBytes: 4 << 20, mode: 'ept', loads: [{ address: 0x7c00, bytes: HOSTILE }], entry: { segment: 0, offset: 0x7c00 } });
    const timer = vm({ memoryBytes: 4 << 20, mode: 'ept', bios: bios(), disks: new Map([[0, DiskImage.from(guestImage('timer'), 'floppy', 'timer.img')]]) });
    const soloTimer = alone(timer);
    const { runs: [h, t], machines: [m] } = sideBySide([hostile, timer], 10_000);
    expect(t).toEqual(soloTimer);
    expect(h.outcome.kind).toBe('halted');
    expect(h.output).toBe('H');
    // It read all ones past its RAM; it holds frames for its own 4 MiB and the VMM's tables, no more.
    expect(m.phys.read(0x500, 4) >>> 0).toBe(0xffffffff);
    expect(m.phys.read(0x3ffffc, 4) >>> 0).toBe(0xaaaaaaaa);
    expect(h.frames).toBeLessThanOrEqual((4 << 20) / 4096 + 64);
  });
});
