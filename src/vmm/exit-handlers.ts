/**
 * The VM-exit handler table, indexed by exit reason, as KVM's kvm_vmx_exit_handlers. Each
 * handler's contract is its first line: what it does with the exit, and what the vCPU does
 * next ('resume' the guest, go to 'userspace' — the machine, as KVM_RUN returns to QEMU — or
 * 'shutdown'). Handlers change guest state through the VMCS (RIP, activity state, event
 * injection), as a VMM does; general registers live in the CPU.
 */
import { ExitReason } from '../cpu/sensitive.ts';
import { S_CR2 } from '../cpu/state.ts';
import { cpuidLeaf } from '../cpu/ops/system.ts';
import { hypercall } from './hypercalls.ts';
import type { VmExit } from './exit-info.ts';
import { Field, INTR_INFO_DELIVER_ERROR_CODE } from './vmcs.ts';
import { cr0AfterWrite, cr4Allows } from '../cpu/ops/system.ts';
import type { Vcpu } from './vcpu.ts';

export type ExitAction = 'resume' | 'userspace' | 'shutdown';
export type ExitHandler = (vcpu: Vcpu, exit: VmExit) => ExitAction;

/** The hypervisor's CPUID signature (leaf 0x40000000, EBX ECX EDX), as KVM answers "KVMKVMKVM". */
export const HYPERVISOR_SIGNATURE = 'MinivisorVMM';
const CPUID_ECX_HYPERVISOR = 1 << 31;

function signatureDword(index: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= HYPERVISOR_SIGNATURE.charCodeAt(index * 4 + i) << (8 * i);
  return v;
}

const handlers: Partial<Record<ExitReason, ExitHandler>> = {
  /**
   * Under shadow paging a #PF is the shadow's: filled, injected, or emulated (see
   * Vcpu.handleShadowPageFault). Any other exception is reflected into the guest (injected at the
   * next entry, with CR2 for a #PF); resumes.
   */
  [ExitReason.EXCEPTION_OR_NMI]: (vcpu, exit) => {
    const vector = exit.interruptionInfo & 0xff;
    const restricted = vcpu.restricted;
    if (restricted !== null && restricted.ranOnIdentityTable) {
      // Without "unrestricted guest": a #PF on the VMM's identity table is filled (EPT; the
      // identity shadow fills its own below), and any other exception in V86 mode means the
      // instruction is the VMM's to carry out on the guest's real-mode state.
      if (vector === 14 && vcpu.shadow === null) {
        if (!restricted.fillIdentityEntry(exit.qualification)) restricted.emulateCurrentInstruction();
        return 'resume';
      }
      if (vector !== 14 && restricted.lastRun === 'v86') {
        restricted.emulateCurrentInstruction();
        return 'resume';
      }
    }
    if (vector === 14 && vcpu.shadow !== null) return vcpu.handleShadowPageFault(exit);
    if (vector === 14) vcpu.cpu.st[S_CR2] = exit.qualification;
    const hasError = (exit.interruptionInfo & INTR_INFO_DELIVER_ERROR_CODE) !== 0;
    return vcpu.injectException(vector, hasError ? exit.errorCode : -1);
  },

  /** Nothing to do here: the interrupt is injected at the next entry, when the guest can take it; resumes. */
  [ExitReason.EXTERNAL_INTERRUPT]: () => 'resume',

  /** The guest can take interrupts now: the next entry injects the pending one; resumes. */
  [ExitReason.INTERRUPT_WINDOW]: () => 'resume',

  /** A triple fault ends the guest: shutdown. */
  [ExitReason.TRIPLE_FAULT]: () => 'shutdown',

  /** Emulates CPUID as the VM sees it (the hypervisor bit, the signature leaf 0x40000000); resumes after it. */
  [ExitReason.CPUID]: (vcpu, exit) => {
    const r = vcpu.cpu.reg;
    const leaf = r[0] >>> 0;
    let values: [number, number, number, number];
    if (leaf === 0x40000000) values = [0x40000001, signatureDword(0), signatureDword(1), signatureDword(2)];
    else if (leaf === 0x40000001) values = [0, 0, 0, 0];
    else {
      values = cpuidLeaf(leaf, vcpu.cpu.apicId);
      if (leaf === 1) values[2] |= CPUID_ECX_HYPERVISOR;
    }
    [r[0], r[3], r[1], r[2]] = values;
    vcpu.skipInstruction(exit);
    return 'resume';
  },

  /** The vCPU sleeps until an interrupt is due (activity state HLT: costs nothing in virtual time); resumes after it. */
  [ExitReason.HLT]: (vcpu, exit) => {
    vcpu.skipInstruction(exit);
    vcpu.vmcs.write(Field.GUEST_ACTIVITY_STATE, 1);
    return 'resume';
  },

  /** Drops the guest's TLB entry for the linear address in the qualification (and the shadow's entry); resumes after it. */
  [ExitReason.INVLPG]: (vcpu, exit) => {
    vcpu.cpu.invalidatePage(exit.qualification);
    vcpu.shadow?.mmu.invalidatePage(exit.qualification);
    vcpu.skipInstruction(exit);
    return 'resume';
  },

  /** Returns the time-stamp counter plus the VMCS TSC offset; resumes after it. */
  [ExitReason.RDTSC]: (vcpu, exit) => {
    const tsc = BigInt(vcpu.cpu.retired) + BigInt(vcpu.vmcs.read(Field.TSC_OFFSET));
    vcpu.cpu.reg[0] = Number(BigInt.asIntN(32, tsc));
    vcpu.cpu.reg[2] = Number(BigInt.asIntN(32, tsc >> 32n));
    vcpu.skipInstruction(exit);
    return 'resume';
  },

  /** Serves the hypercall (docs/hypercalls.md), result in EAX; resumes after it. */
  [ExitReason.VMCALL]: (vcpu, exit) => {
    vcpu.cpu.reg[0] = hypercall(vcpu);
    vcpu.skipInstruction(exit);
    return 'resume';
  },

  /**
   * Applies the move through the CR0/CR4 guest/host masks and read shadows; under shadow paging
   * keeps the guest's CR3 and switches shadows (otherwise lets a CR3 move run); resumes.
   */
  [ExitReason.CR_ACCESS]: (vcpu, exit) => {
    const cr = exit.qualification & 15;
    const accessType = (exit.qualification >> 4) & 3;
    const register = (exit.qualification >> 8) & 15;
    const shadow = vcpu.shadow;
    const pv = vcpu.pv;
    if (pv !== null && cr === 3) {
      // A paravirtual guest loads CR3 with the new-baseptr hypercall; reading it gives the machine address.
      if (accessType === 0) {
        pv.injectGeneralProtection('a MOV to CR3 (a paravirtual guest loads CR3 with the new-baseptr hypercall)');
        return 'resume';
      }
      vcpu.writeGuestRegister(register, Math.max(pv.mmu.baseMachineAddress, 0));
      vcpu.skipInstruction(exit);
      return 'resume';
    }
    if (cr === 3 && vcpu.restricted !== null && shadow === null) {
      // Under EPT without "unrestricted guest", CR3 moves exit while the identity table is the CPU's: the guest's CR3 is kept aside.
      if (accessType === 0) {
        vcpu.restricted.loadCr3(vcpu.cpu.reg[register]);
        vcpu.cpu.cr3Loads++;
      } else vcpu.writeGuestRegister(register, vcpu.restricted.guestCr3);
      vcpu.skipInstruction(exit);
      return 'resume';
    }
    // LMSW exits when it would change a host-owned bit (PE, without "unrestricted guest"): it loads PE MP EM TS, and cannot clear PE.
    const lmsw = accessType === 3 && cr === 0;
    if ((accessType === 0 && (cr === 0 || cr === 4)) || lmsw) {
      const current = vcpu.guestControlRegister(0);
      const written = lmsw ? (current & ~0xe) | ((exit.qualification >>> 16) & 0xf) | (current & 1) : vcpu.cpu.reg[register];
      // The value as the CPU would take it, or #GP(0) for one it refuses (KVM's kvm_set_cr0/cr4).
      const value = cr === 0 ? cr0AfterWrite(written) : written;
      if (cr === 0 ? value === -1 : !cr4Allows(value)) return vcpu.injectException(13, 0);
      const mask = vcpu.vmcs.read(cr === 0 ? Field.CR0_GUEST_HOST_MASK : Field.CR4_GUEST_HOST_MASK);
      const guestField = cr === 0 ? Field.GUEST_CR0 : Field.GUEST_CR4;
      const oldCr0 = vcpu.vmcs.read(Field.CR0_READ_SHADOW);
      const oldCr4 = vcpu.vmcs.read(Field.CR4_READ_SHADOW);
      const previousReal = vcpu.vmcs.read(guestField);
      // The guest's view of host-owned bits lives in the read shadow; the real register keeps the host's.
      vcpu.vmcs.write(cr === 0 ? Field.CR0_READ_SHADOW : Field.CR4_READ_SHADOW, value & mask);
      vcpu.vmcs.write(guestField, ((value & ~mask) | (vcpu.vmcs.read(guestField) & mask)) >>> 0);
      vcpu.restricted?.controlsWritten();
      shadow?.controlsChanged(oldCr0, oldCr4);
      if (pv !== null && !pv.controlsChanged(oldCr0, oldCr4)) {
        // Refused (paging on without a pinned directory, or 4 MiB pages): nothing changes, #GP(0).
        vcpu.vmcs.write(guestField, previousReal);
        pv.injectGeneralProtection(cr === 0 ? 'paging turned on without a page directory loaded by hypercall' : 'CR4.PSE (4 MiB pages are not allowed in a paravirtual guest)');
        return 'resume';
      }
      vcpu.skipInstruction(exit);
      return 'resume';
    }
    if (shadow !== null && cr === 3) {
      if (accessType === 0) {
        shadow.loadCr3(vcpu.cpu.reg[register]);
        vcpu.cpu.cr3Loads++;
      }
      else vcpu.writeGuestRegister(register, shadow.guestCr3);
      vcpu.skipInstruction(exit);
      return 'resume';
    }
    vcpu.runInstructionNatively();
    return 'resume';
  },

  /** MSRs are the vCPU's own (the CPU's MSR store): the access runs as it is; resumes. */
  [ExitReason.RDMSR]: (vcpu) => {
    vcpu.runInstructionNatively();
    return 'resume';
  },
  [ExitReason.WRMSR]: (vcpu) => {
    vcpu.runInstructionNatively();
    return 'resume';
  },

  /** Maps guest RAM into the EPT on first touch and resumes; MMIO and ROM writes go to userspace (KVM_EXIT_MMIO). */
  [ExitReason.EPT_VIOLATION]: (vcpu, exit) => vcpu.handleEptViolation(exit),

  /** A malformed entry in the VMM's own EPT: repairs the walk (a bad leaf goes, to be mapped afresh from its slot); resumes. */
  [ExitReason.EPT_MISCONFIG]: (vcpu, exit) => {
    vcpu.ept?.repair(exit.guestPhysical);
    vcpu.invalidateEpt();
    return 'resume';
  },

  /** An access to the APIC page the CPU does not virtualize (a read of the current count): completed as MMIO by the machine. */
  [ExitReason.APIC_ACCESS]: (vcpu) => vcpu.handleApicAccess(),

  /** A write the CPU virtualized into the virtual-APIC page: the local APIC acts on it (an EOI, an IPI); resumes after it (trap-like). */
  [ExitReason.APIC_WRITE]: (vcpu, exit) => {
    vcpu.completeApicWrite(exit);
    return 'resume';
  },

  /** Port I/O belongs to the machine's devices: userspace (KVM_EXIT_IO). */
  [ExitReason.IO_INSTRUCTION]: () => 'userspace',

  /** Caches: nothing to flush; resumes after it. */
  [ExitReason.INVD]: (vcpu, exit) => {
    vcpu.skipInstruction(exit);
    return 'resume';
  },
  [ExitReason.WBINVD]: (vcpu, exit) => {
    vcpu.skipInstruction(exit);
    return 'resume';
  },

  /**
   * Descriptor-table and debug-register accesses run as they are (they exit only to be counted
   * and traced); in V86 mode without "unrestricted guest" SIDT would store the VMM's IDT, so the
   * VMM emulates it on the guest's state. Resumes.
   */
  [ExitReason.GDTR_IDTR_ACCESS]: (vcpu) => {
    if (vcpu.restricted?.lastRun === 'v86') vcpu.restricted.emulateCurrentInstruction();
    else vcpu.runInstructionNatively();
    return 'resume';
  },
  [ExitReason.LDTR_TR_ACCESS]: (vcpu) => {
    vcpu.runInstructionNatively();
    return 'resume';
  },
  [ExitReason.DR_ACCESS]: (vcpu) => {
    vcpu.runInstructionNatively();
    return 'resume';
  },
};

export function exitHandler(reason: ExitReason): ExitHandler | undefined {
  return handlers[reason];
}
