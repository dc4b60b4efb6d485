/**
 * VM-entry checks on the guest state and the controls (a subset of SDM Vol. 3, 27.3.1 and
 * 27.2.1): an entry that would run a guest in a state the CPU cannot be in is refused, with a
 * message that says which rule it broke, as VMLAUNCH fails with "invalid guest state".
 */
import { AR_UNUSABLE } from './guest-state.ts';
import { CPU_ACTIVATE_SECONDARY_CONTROLS, Field, INTERRUPTIBILITY_STI, SECONDARY_ENABLE_EPT, SECONDARY_UNRESTRICTED_GUEST, type Vmcs } from './vmcs.ts';

/** Exit reason 33, "VM-entry failure due to invalid guest state", with bit 31 set (SDM Appendix C). */
export const EXIT_REASON_INVALID_GUEST_STATE = 33 | 0x80000000;

export class VmEntryError extends Error {
  constructor(readonly rule: string) {
    super(`VM entry refused (invalid guest state): ${rule}`);
    this.name = 'VmEntryError';
  }
}

function fail(rule: string): never {
  throw new VmEntryError(rule);
}

const HOST_SELECTORS = [Field.HOST_ES_SELECTOR, Field.HOST_CS_SELECTOR, Field.HOST_SS_SELECTOR, Field.HOST_DS_SELECTOR, Field.HOST_FS_SELECTOR, Field.HOST_GS_SELECTOR, Field.HOST_TR_SELECTOR];

const CR0_PE = 1, CR0_PG = 1 << 31;
const RFLAGS_RESERVED_ONE = 1 << 1, RFLAGS_IF = 1 << 9, RFLAGS_VM = 1 << 17;

/** Throws a VmEntryError naming the first rule the VMCS breaks. */
/**
 * @param identityShadow minivisor's shadow and paravirtual modes: "unrestricted guest" without
 *   EPT, the identity shadow (or the P2M) standing in for it while the guest's paging is off. Hardware refuses that pair;
 *   without EPT, KVM runs real mode in virtual-8086 mode under an identity page table instead.
 *   minivisor's CPU can run real mode as it is, so shadow mode keeps the guest in real mode and
 *   says so here rather than pretending.
 */
export function checkVmEntry(vmcs: Vmcs, identityShadow = false): void {
  const secondary = vmcs.has(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_ACTIVATE_SECONDARY_CONTROLS) ? vmcs.read(Field.SECONDARY_VM_EXEC_CONTROL) : 0;
  const unrestricted = (secondary & SECONDARY_UNRESTRICTED_GUEST) !== 0;
  const ept = (secondary & SECONDARY_ENABLE_EPT) !== 0;
  // Controls (27.2.1.1)
  if (unrestricted && !ept && !identityShadow) fail('"unrestricted guest" requires "enable EPT"');
  if (ept) {
    const eptp = vmcs.read(Field.EPT_POINTER);
    const memoryType = eptp & 7;
    const walkLength = (eptp >> 3) & 7;
    if ((memoryType !== 0 && memoryType !== 6) || walkLength !== 3) fail(`EPTP ${eptp.toString(16)}: memory type must be UC (0) or WB (6) and the page-walk length 4 (field 3)`);
  }
  // Host state (27.2.2, 27.2.3): the host must be a paged protected-mode context to come back to.
  const hostCr0 = vmcs.read(Field.HOST_CR0);
  if (!(hostCr0 & CR0_PE) || !(hostCr0 & CR0_PG)) fail('host CR0 must have PE and PG set');
  for (const f of HOST_SELECTORS) if (vmcs.read(f) & 7) fail('host selectors must have RPL 0 and TI 0');
  if (!vmcs.read(Field.HOST_CS_SELECTOR) || !vmcs.read(Field.HOST_TR_SELECTOR)) fail('host CS and TR selectors must not be null');
  // Control registers (27.3.1.1)
  const cr0 = vmcs.read(Field.GUEST_CR0);
  if (cr0 & CR0_PG && !(cr0 & CR0_PE)) fail('CR0.PG is set but CR0.PE is clear');
  if (!unrestricted && (!(cr0 & CR0_PE) || !(cr0 & CR0_PG))) fail('CR0.PE and CR0.PG must both be set unless "unrestricted guest" is on');
  // RFLAGS (27.3.1.4)
  const rflags = vmcs.read(Field.GUEST_RFLAGS);
  if (!(rflags & RFLAGS_RESERVED_ONE)) fail('RFLAGS bit 1 must be set');
  if (rflags & RFLAGS_VM && !(cr0 & CR0_PE)) fail('RFLAGS.VM needs CR0.PE');
  // Segment registers (27.3.1.2)
  const trAr = vmcs.read(Field.GUEST_TR_AR_BYTES);
  if (trAr & AR_UNUSABLE || ((trAr & 0x1f) !== 0x0b && (trAr & 0x1f) !== 0x03)) fail('TR must be a usable, busy TSS (type 3 or 11)');
  const csAr = vmcs.read(Field.GUEST_CS_AR_BYTES);
  const realStyle = !(cr0 & CR0_PE) || rflags & RFLAGS_VM;
  if (!realStyle) {
    if (!(csAr & 0x08) || !(csAr & 0x10)) fail('CS must be a code segment in protected mode');
    if (!(csAr & 0x80)) fail('CS must be present');
    // Only without "unrestricted guest": with it, a guest just switched to protected mode may
    // still hold a real-mode SS whose selector's low bits are not its DPL (a state it can be in).
    const ssAr = vmcs.read(Field.GUEST_SS_AR_BYTES);
    if (!unrestricted && !(ssAr & AR_UNUSABLE) && ((ssAr >> 5) & 3) !== (vmcs.read(Field.GUEST_SS_SELECTOR) & 3)) fail("SS's DPL must equal its RPL");
  }
  // (RIP is not checked against CS's limit: a guest there takes its #GP after the entry.)
  // Activity and interruptibility (27.3.1.5)
  const activity = vmcs.read(Field.GUEST_ACTIVITY_STATE);
  if (activity !== 0 && activity !== 1) fail(`activity state ${activity} is not active (0) or HLT (1)`);
  if (activity === 1 && ((vmcs.read(Field.GUEST_SS_AR_BYTES) >> 5) & 3) !== 0) fail('the HLT activity state needs SS.DPL 0');
  if (vmcs.read(Field.GUEST_INTERRUPTIBILITY_INFO) & INTERRUPTIBILITY_STI && !(rflags & RFLAGS_IF)) fail('blocking by STI needs RFLAGS.IF');
}
