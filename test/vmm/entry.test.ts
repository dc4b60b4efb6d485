/** VM entry: the guest-state checks VMLAUNCH makes, and event injection through the VM-entry interruption-information field. */
import { describe, expect, it } from 'vitest';
import { VmEntryError } from '../../src/vmm/vmentry.ts';
import { Field, INTR_INFO_VALID, INTR_TYPE_EXTERNAL } from '../../src/vmm/vmcs.ts';
import { runUnderVmm } from '../helpers/run-vmm.ts';
import type { Vmcs } from '../../src/vmm/vmcs.ts';

/** Runs a trivial guest after `corrupt` changed its VMCS; returns the error VM entry gave. */
function entryError(corrupt: (v: Vmcs) => void): unknown {
  try {
    runUnderVmm('cli\nhlt', { prepare: (m) => corrupt(m.vcpu!.vmcs) });
  } catch (e) {
    return e;
  }
  return null;
}

describe('VM entry refuses a guest state the guest cannot be in', () => {
  it.each([
    ['CR0.PG without CR0.PE', (v: Vmcs) => v.write(Field.GUEST_CR0, 0x80000010), /CR0\.PG is set but CR0\.PE is clear/],
    ['an unusable TR', (v: Vmcs) => v.write(Field.GUEST_TR_AR_BYTES, 1 << 16), /TR must be a usable, busy TSS/],
    ['RFLAGS without its reserved bit 1', (v: Vmcs) => v.write(Field.GUEST_RFLAGS, 0), /RFLAGS bit 1 must be set/],
    ['an activity state that does not exist', (v: Vmcs) => v.write(Field.GUEST_ACTIVITY_STATE, 7), /activity state 7/],
    ['blocking by STI with IF clear', (v: Vmcs) => v.write(Field.GUEST_INTERRUPTIBILITY_INFO, 1), /blocking by STI needs RFLAGS\.IF/],
    ['a host CR0 without paging', (v: Vmcs) => v.write(Field.HOST_CR0, 0x11), /host CR0 must have PE and PG set/],
    ['a null host TR selector', (v: Vmcs) => v.write(Field.HOST_TR_SELECTOR, 0), /host CS and TR selectors must not be null/],
    ['"unrestricted guest" without EPT', (v: Vmcs) => v.setBits(Field.SECONDARY_VM_EXEC_CONTROL, 2, false), /requires "enable EPT"/],
  ])('%s', (_name, corrupt, message) => {
    const error = entryError(corrupt);
    expect(error).toBeInstanceOf(VmEntryError);
    expect((error as Error).message).toMatch(/^VM entry refused \(invalid guest state\): /);
    expect((error as Error).message).toMatch(message);
  });

  it('a guest just switched to protected mode with a real-mode SS (RPL 3, DPL 0) still enters (unrestricted guest)', () => {
    const run = runUnderVmm(`
      cli
      mov ax, 3
      mov ss, ax                      ; a real-mode SS whose selector has RPL bits 3
      lgdt [gdt_desc]
      mov eax, cr0
      or eax, 1
      mov cr0, eax
      cpuid                           ; an exit while SS is still the real-mode one
      mov byte [0x500], 1
      hlt
    gdt: dq 0
    gdt_desc: dw 7
              dd gdt`);
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read8(0x500)).toBe(1);
  });
});

describe('event injection', () => {
  it('an external interrupt written to the VM-entry interruption-information field is delivered before the first instruction', () => {
    const run = runUnderVmm(`
      jmp short start                 ; two bytes: the handler is at 0x7C02
    handler:
      mov al, [0x501]
      mov [0x500], al                 ; 0: the handler ran first
      mov byte [0x502], 1
      iret
    start:
      mov byte [0x501], 1             ; must not run before the handler
      cli
      hlt`, {
      prepare: (m) => {
        // Vector 0x40 → handler (real mode IVT); IF set in the guest.
        m.phys.write(0x40 * 4, 2, 0x7c02);
        m.phys.write(0x40 * 4 + 2, 2, 0);
        const v = m.vcpu!.vmcs;
        v.write(Field.GUEST_RFLAGS, v.read(Field.GUEST_RFLAGS) | 0x200);
        v.write(Field.VM_ENTRY_INTR_INFO_FIELD, 0x40 | INTR_TYPE_EXTERNAL | INTR_INFO_VALID);
      },
    });
    const p = run.machine.phys;
    expect(p.read8(0x502)).toBe(1);
    expect(p.read8(0x500)).toBe(0);
    expect(p.read8(0x501)).toBe(1);
    expect(run.machine.vcpu!.vmcs.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID).toBe(0); // consumed
  });
});
