/** Delivering interrupts and exceptions when something goes wrong part-way: nested faults, and VM exits during delivery. */
import { describe, expect, it } from 'vitest';
import { ExitReason } from '../../src/cpu/sensitive.ts';
import { INTR_INFO_VALID, INTR_TYPE_EXTERNAL } from '../../src/vmm/vmcs.ts';
import { ofReason, runUnderVmm } from '../helpers/run-vmm.ts';
import { ENTER_FLAT_PM, startTimer } from '../helpers/run-asm.ts';

describe('event delivery', () => {
  for (const mode of ['bare', 'ept'] as const) {
    it(`${mode}: #NP raised while delivering a timer interrupt pushes its error code (vector*8 + IDT + EXT)`, () => {
      // The IRQ 0 gate (vector 0x20) is not present; the #NP gate is.
      const run = runUnderVmm(`${ENTER_FLAT_PM}
        mov edi, 0x30000
        mov ecx, 256*2
        xor eax, eax
        rep stosd
        mov eax, np_handler
        mov word [0x30000 + 11*8], ax
        mov word [0x30000 + 11*8 + 2], 0x08
        mov word [0x30000 + 11*8 + 4], 0x8e00
        shr eax, 16
        mov word [0x30000 + 11*8 + 6], ax
        mov word [0x30000 + 0x20*8 + 2], 0x08     ; a gate for IRQ 0, but with P clear
        mov word [0x30000 + 0x20*8 + 4], 0x0e00
        lidt [idt]
        ${startTimer(0x20, 100)}
        sti
      spin: jmp spin
      np_handler:
        mov eax, [esp]                ; the error code
        mov [0x500], eax
        mov eax, [esp+8]              ; CS, when the error code is there
        mov [0x504], eax
        cli
        hlt
      idt: dw 256*8-1
           dd 0x30000`, { mode });
      expect(run.outcome.kind).toBe('halted');
      expect(run.machine.phys.read(0x500, 4)).toBe(0x20 * 8 + 2 + 1);
      expect(run.machine.phys.read(0x504, 4)).toBe(0x08);
    });
  }

  it('ept: an injected interrupt whose stack page is not mapped yet exits (EPT violation with IDT-vectoring information), then is delivered', () => {
    const run = runUnderVmm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x9000                 ; page 0x8000 is untouched until the interrupt pushes on it
      mov word [0x08*4], irq0
      mov word [0x08*4+2], 0
      ${startTimer(0x08, 100)}
      sti
    spin: jmp spin
    irq0:
      inc byte [0x500]
      cli
      hlt`);
    const vectoring = ofReason(run, ExitReason.EPT_VIOLATION).filter((e) => e.idtVectoringInfo & INTR_INFO_VALID);
    expect(vectoring).toHaveLength(1);
    expect(vectoring[0].guestPhysical).toBe(0x8ffe);
    expect(vectoring[0].idtVectoringInfo & 0x7ff).toBe(0x08 | INTR_TYPE_EXTERNAL);
    expect(run.machine.phys.read8(0x500)).toBe(1); // delivered once, after the page was mapped
    // One real-mode frame on the stack: FLAGS (IF set), CS 0, and an IP in the spin loop.
    expect(run.machine.phys.read(0x8ffe, 2) & 0x200).toBe(0x200);
    expect(run.machine.phys.read(0x8ffc, 2)).toBe(0);
    expect(run.machine.phys.read(0x8ffa, 2)).toBeGreaterThan(0x7c00);
    expect(run.outcome.kind).toBe('halted');
  });
});
