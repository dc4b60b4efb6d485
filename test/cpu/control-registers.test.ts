/**
 * MOV to CR0 and CR4: invalid CR0 combinations and CR4 bits for features this CPU does not
 * have are #GP(0), leaving the register as it was; the CR4 bits it accepts are exactly those
 * whose feature CPUID leaf 1 reports.
 */
import { describe, expect, it } from 'vitest';
import { cpuidLeaf } from '../../src/cpu/ops/system.ts';
import { S_CR0, S_CR4 } from '../../src/cpu/state.ts';
import { runAsm } from '../helpers/run-asm.ts';
import { RING3_ENV } from '../helpers/rings-env.ts';

/** Runs ring-0 `code`; an exception is recorded (vector, error code) by the environment's handlers. */
function ring0(code: string) {
  const run = runAsm(`${RING3_ENV}
      mov dword [0x600], 0xff   ; no exception yet
      ${code}
      hlt
    syscall:
    gate_target:
      hlt
    user:`);
  expect(run.outcome.kind).toBe('halted');
  const p = run.machine.phys;
  const st = run.machine.cpu.st;
  return { vector: p.read8(0x600), error: p.read(0x604, 4) | 0, cr0: st[S_CR0] >>> 0, cr4: st[S_CR4] >>> 0 };
}

const NONE = 0xff;

/** CR4 bits and the CPUID leaf 1 EDX feature that says the CPU has them (SDM Vol. 3, 2.5; Vol. 2, CPUID). */
const CR4_FEATURES: Record<number, number> = {
  0: 1, // VME: VME
  1: 1, // PVI: VME
  2: 4, // TSD: TSC
  3: 2, // DE: DE
  4: 3, // PSE: PSE
  5: 6, // PAE: PAE
  6: 7, // MCE: MCE
  7: 13, // PGE: PGE
};

describe('MOV to CR4', () => {
  it('accepts a bit exactly when CPUID reports its feature; any other bit is #GP(0) and CR4 stays as it was', () => {
    const features = cpuidLeaf(1)[3];
    for (let bit = 0; bit < 32; bit++) {
      const feature = CR4_FEATURES[bit];
      const supported = feature !== undefined && (features & (1 << feature)) !== 0;
      const r = ring0(`mov eax, ${(1 << bit) >>> 0}
        mov cr4, eax`);
      if (supported) expect({ bit, vector: r.vector, cr4: r.cr4 }).toEqual({ bit, vector: NONE, cr4: (1 << bit) >>> 0 });
      else expect({ bit, vector: r.vector, error: r.error, cr4: r.cr4 }).toEqual({ bit, vector: 13, error: 0, cr4: 0 });
    }
  });

  it('VME and PVI, which this CPU does not implement, are #GP(0); TSD, PSE and PGE load together', () => {
    expect(ring0('mov eax, 1\n mov cr4, eax')).toMatchObject({ vector: 13, error: 0, cr4: 0 });
    expect(ring0('mov eax, 2\n mov cr4, eax')).toMatchObject({ vector: 13, error: 0, cr4: 0 });
    expect(ring0('mov eax, 0x94\n mov cr4, eax')).toMatchObject({ vector: NONE, cr4: 0x94 });
    expect(cpuidLeaf(1)[3] & ((1 << 1) | (1 << 2) | (1 << 7))).toBe(0); // no VME, DE, MCE reported
  });
});

describe('MOV to CR0', () => {
  const NW = 1 << 29, CD = 1 << 30;

  it('NW without CD is #GP(0), and CR0 stays as it was', () => {
    const r = ring0(`mov eax, cr0
      or eax, ${NW}
      mov cr0, eax`);
    expect([r.vector, r.error]).toEqual([13, 0]);
    expect(r.cr0 & NW).toBe(0);
    expect(r.cr0 & 1).toBe(1);
  });

  it('NW with CD loads, and CD alone loads', () => {
    const both = ring0(`mov eax, cr0
      or eax, ${NW | CD}
      mov cr0, eax`);
    expect(both.vector).toBe(NONE);
    expect(both.cr0 & (NW | CD)).toBe((NW | CD) >>> 0);
    const cdOnly = ring0(`mov eax, cr0
      or eax, ${CD}
      mov cr0, eax`);
    expect(cdOnly.vector).toBe(NONE);
    expect(cdOnly.cr0 & (NW | CD)).toBe(CD);
  });

  it('PG without PE is #GP(0), and CR0 stays as it was', () => {
    const r = ring0(`mov eax, cr0
      and eax, ~1
      or eax, 0x80000000
      mov cr0, eax`);
    expect([r.vector, r.error]).toEqual([13, 0]);
    expect(r.cr0 & 0x80000001).toBe(1); // still protected mode, paging off
  });
});
