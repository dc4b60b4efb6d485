/** What a VM exit says, as the VMCS exit-information fields say it. */
import type { ExitReason } from '../cpu/sensitive.ts';

export interface VmExit {
  reason: ExitReason;
  /** The exit qualification (SDM Vol. 3, 28.2.1), laid out per reason as Intel lays it out. */
  qualification: number;
  /** CS:EIP of the guest instruction that exited (RIP). */
  guestRip: number;
  /** Its length in bytes (VM-exit instruction length), where the exit has one. */
  instructionLength: number;
  /** For exceptions and interrupts: the VM-exit interruption information. */
  interruptionInfo: number;
  /** For exceptions with an error code. */
  errorCode: number;
  /** For EPT violations: the guest-physical address, and the linear address when there is one. */
  guestPhysical: number;
  guestLinear: number;
  /**
   * IDT-vectoring information (SDM Vol. 3, 28.2.4): the event whose delivery the exit
   * interrupted (valid bit 31), and its error code. The VMM delivers it again at the next entry.
   */
  idtVectoringInfo: number;
  idtVectoringErrorCode: number;
}

/** Names of exit reasons, for traces and statistics. */
export const EXIT_REASON_NAMES: Record<number, string> = {
  0: 'exception or NMI', 1: 'external interrupt', 2: 'triple fault', 7: 'interrupt window', 9: 'task switch',
  10: 'CPUID', 12: 'HLT', 13: 'INVD', 14: 'INVLPG', 16: 'RDTSC', 18: 'VMCALL', 28: 'control-register access',
  29: 'MOV DR', 30: 'I/O instruction', 31: 'RDMSR', 32: 'WRMSR', 46: 'GDTR/IDTR access', 47: 'LDTR/TR access',
  48: 'EPT violation', 49: 'EPT misconfiguration', 54: 'WBINVD',
};
