/**
 * Equivalence, Popek and Goldberg's first condition as a test: every guest in guests/ — the
 * BIOS guests, the Multiboot kernel and the toy kernel — prints exactly the same output and
 * ends in the same state on the bare machine and under the VMM (EPT, and shadow page tables): same outcome, same
 * registers, same instruction count (virtual time), same guest memory. The paravirtual toy kernel, under
 * --mode pv, prints what the toy kernel prints everywhere else.
 */
import { describe, expect, it } from 'vitest';
import { S_A20_MASK, S_CR0, S_CR3, S_CR4, S_EIP, S_SEG_SEL } from '../../src/cpu/state.ts';

import type { Machine } from '../../src/machine/machine.ts';
import { boot, guestImage, type BootOptions, type BootRun } from '../firmware/harness.ts';
import { ramDigest } from '../helpers/same-machine.ts';

/** What "the same state" means: everything architectural a guest could observe, and its memory. */
function finalState(run: BootRun) {
  const m: Machine = run.machine;
  const cpu = m.cpu;
  // The architectural slots of the state array: general registers and EIP, the segment caches,
  // control and debug registers, GDTR/IDTR, CPL and the A20 gate; EFLAGS as the guest reads it
  // (not its lazy record). Derived caches (access ranges, the fetch window) are left out.
  const state = [...cpu.st.subarray(0, S_EIP + 1), ...cpu.st.subarray(S_SEG_SEL, S_A20_MASK + 1), cpu.eflags];
  // CR0, CR3 and CR4 as the guest reads them: under shadow paging the real ones are the VMM's.
  const vcpu = m.vcpu;
  if (vcpu !== null) {
    state[S_EIP + 1 + (S_CR0 - S_SEG_SEL)] = vcpu.guestControlRegister(0) | 0;
    state[S_EIP + 1 + (S_CR3 - S_SEG_SEL)] = vcpu.guestControlRegister(3) | 0;
    state[S_EIP + 1 + (S_CR4 - S_SEG_SEL)] = vcpu.guestControlRegister(4) | 0;
  }
  return { outcome: run.outcome, text: run.text, instructions: cpu.instructions, state, ram: ramDigest(m) };
}

/**
 * The guest on the bare machine and under the VMM: EPT and shadow paging, each with "unrestricted
 * guest" (the CPU runs real mode itself) and without it (real mode in V86 mode, emulated where
 * V86 cannot hold it: src/vmm/restricted-guest.ts).
 */
function allModes(options: BootOptions) {
  const bare = boot({ ...options, mode: 'bare' });
  const ept = boot({ ...options, mode: 'ept' });
  const shadow = boot({ ...options, mode: 'shadow' });
  const eptV86 = boot({ ...options, mode: 'ept', unrestrictedGuest: false });
  const shadowV86 = boot({ ...options, mode: 'shadow', unrestrictedGuest: false });
  for (const vm of [ept, shadow, eptV86, shadowV86]) {
    expect(vm.machine.vcpu).not.toBeNull();
    expect(vm.machine.vcpu!.exitCounts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // it really ran under the VMM
  }
  for (const vm of [eptV86, shadowV86]) expect(vm.machine.vcpu!.restricted).not.toBeNull();
  return { bare: finalState(bare), ept: finalState(ept), shadow: finalState(shadow), eptV86: finalState(eptV86), shadowV86: finalState(shadowV86) };
}

/** Every run under the VMM ended as the bare one did. */
function expectAllEqual(runs: ReturnType<typeof allModes>): void {
  const { bare, ...underVmm } = runs;
  for (const [mode, run] of Object.entries(underVmm)) expect({ mode, ...run }).toEqual({ mode, ...bare });
}

describe('equivalence: bare, EPT and shadow paging (with and without "unrestricted guest") give the same run (and PV the same output)', () => {
  it.each(['hello', 'e820', 'loader', 'timer'])('guests/%s', (name) => {
    const runs = allModes({ floppy: guestImage(name) });
    expect(runs.bare.outcome.kind).toBe('halted');
    expectAllEqual(runs);
  });

  it('guests/keyboard, with the same keys typed at the same moments', () => {
    const runs = allModes({ floppy: guestImage('keyboard'), keys: ['Hello, wrx', '\b\b', 'orld! ~|', '\n'] });
    expect(runs.bare.text).toContain('Hello, world! ~|');
    expectAllEqual(runs);
  });

  it('guests/multiboot, loaded as a Multiboot kernel', () => {
    const image = guestImage('multiboot');
    const runs = allModes({ prepare: (m) => m.loadMultiboot(image, 'multiboot.asm', 'hello kernel') });
    expect(runs.bare.text).toContain('hello kernel');
    expectAllEqual(runs);
  });

  it('guests/kernel, the toy kernel, to its power-off; and guests/kernel-pv under paravirtual paging prints the same', () => {
    const kernel = { memoryBytes: 32 << 20, exitPort: 0xf4, maxInstructions: 2_000_000_000 };
    const runs = allModes({ floppy: guestImage('kernel'), ...kernel });
    expect(runs.bare.outcome).toEqual({ kind: 'exit', status: 1 });
    expectAllEqual(runs);
    // The PV kernel is another kernel (its tables hold machine frames, it calls the VMM), so its
    // registers and memory differ; what it prints and how it ends must not.
    const pv = boot({ floppy: guestImage('kernel-pv'), mode: 'pv', ...kernel });
    expect(pv.machine.vcpu!.pv!.mmu.stats.updates).toBeGreaterThan(0);
    expect(pv.text).toBe(runs.bare.text);
    expect(pv.outcome).toEqual(runs.bare.outcome);
  });
});
