/** A halted guest: woken by the next interrupt that can reach it, or ended when none can. */
import { describe, expect, it } from 'vitest';
import { startTimer } from '../helpers/run-asm.ts';
import { runUnderVmm } from '../helpers/run-vmm.ts';

describe('HLT', () => {
  for (const mode of ['bare', 'ept'] as const) {
    it(`${mode}: with every PIC line masked, STI; HLT ends the run as halted (the timer still counts, but cannot wake it)`, () => {
      const run = runUnderVmm(`
        mov al, 0xff
        out 0x21, al
        out 0xa1, al
        sti
        hlt
        mov byte [0x500], 1`, { mode, maxInstructions: 1e12 });
      expect(run.outcome).toEqual({ kind: 'halted', detail: 'HLT with every interrupt source masked or idle' });
      expect(run.machine.phys.read8(0x500)).toBe(0);
    });

    it(`${mode}: with the timer unmasked, HLT sleeps until its interrupt (virtual time passes, few instructions run)`, () => {
      const run = runUnderVmm(`
        xor ax, ax
        mov ds, ax
        mov word [0x08*4], irq0
        mov word [0x08*4+2], 0
        ${startTimer(0x08, 0)}      ; divisor 65536: 18.2 Hz
        sti
        hlt
        cli
        hlt
      irq0:
        inc byte [0x500]
        iret`, { mode, maxInstructions: 1e8 });
      expect(run.outcome.kind).toBe('halted');
      expect(run.machine.phys.read8(0x500)).toBe(1);
      expect(run.machine.cpu.instructions).toBeGreaterThan(5_000_000); // 18.2 Hz at 100 MIPS: ~55 ms of virtual time asleep
    });
  }
});
