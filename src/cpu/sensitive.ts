/**
 * Sensitive instructions: the ones a hypervisor must be able to take over (DESIGN.md §4).
 * Every one of them passes through `Cpu.intercept` before it executes. In root mode (no
 * VMM: `cpu.interceptor === null`) the CPU carries it out itself. In non-root mode the VMM's
 * interceptor consults the VMCS controls and may turn it into a VM exit. This file is the
 * whole of trap-and-emulate's "trap" half, in one place.
 *
 * Reasons are Intel's basic exit reasons (SDM Vol. 3, Appendix C), so that a VM exit can be
 * reported with the number a user will find in the manual.
 */
import type { Cpu } from './cpu.ts';

export const enum ExitReason {
  EXCEPTION_OR_NMI = 0,
  EXTERNAL_INTERRUPT = 1,
  TRIPLE_FAULT = 2,
  INTERRUPT_WINDOW = 7,
  TASK_SWITCH = 9,
  CPUID = 10,
  HLT = 12,
  INVD = 13,
  INVLPG = 14,
  RDTSC = 16,
  VMCALL = 18,
  CR_ACCESS = 28,
  DR_ACCESS = 29,
  IO_INSTRUCTION = 30,
  RDMSR = 31,
  WRMSR = 32,
  APIC_ACCESS = 44,
  GDTR_IDTR_ACCESS = 46,
  LDTR_TR_ACCESS = 47,
  EPT_VIOLATION = 48,
  EPT_MISCONFIG = 49,
  WBINVD = 54,
  APIC_WRITE = 56,
}

/**
 * Implemented by the VMM for a vCPU in non-root mode.
 * `intercept` returns true when the instruction causes a VM exit: the CPU then leaves EIP at
 * the instruction, does not execute it, and stops running (Cpu.stopReason = 'vmexit').
 */
export interface SensitiveInterceptor {
  intercept(cpu: Cpu, reason: ExitReason, qualification: number): boolean;
  /** An exception about to be delivered: true takes it as a VM exit instead (the exception bitmap). */
  interceptException(cpu: Cpu, vector: number, errorCode: number): boolean;
  /**
   * A VM exit (an EPT violation) happened while an interrupt or exception was being delivered;
   * the delivery was rolled back. The VMM records it as IDT-vectoring information and delivers
   * it again at the next entry. `errorCode` is -1 when the event has none. `endsInstruction`:
   * the delivery is the end of an instruction that faulted (it retires when the delivery is
   * done), not a trap or an interrupt after one that retired; null for an event the VMM injected.
   */
  eventDeliveryInterrupted(vector: number, external: boolean, errorCode: number, endsInstruction: boolean | null): void;
  /** An external interrupt is pending: true makes it a VM exit now, whatever IF says (pin-based control). */
  interceptExternalInterrupt(cpu: Cpu): boolean;
  /** True while the VMM wants an exit as soon as the guest can take interrupts (interrupt-window exiting). */
  wantsInterruptWindow(): boolean;
  /** What MOV from CR0/CR4 returns: the real value with the host-owned bits taken from the read shadow. */
  shadowControlRegister(cpu: Cpu, cr: number, value: number): number;
  /**
   * The bits of CR0 or CR4 the VMM owns (the guest/host mask): a MOV to CR0/CR4, LMSW or CLTS
   * that does not exit leaves them as they are (SDM 25.3), loading only the others.
   */
  hostOwnedControlBits(cr: 0 | 4): number;
  /** The A20 gate opened or closed (the CPU's TLB is flushed): a VMM that caches guest-physical translations drops them. */
  a20Changed(): void;
}
