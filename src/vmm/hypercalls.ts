/**
 * Hypercalls: the guest's VMCALL with EAX = the call number, arguments in EBX, ECX, EDX, the
 * result in EAX (negative: an error). The ABI is documented in docs/hypercalls.md.
 */
import type { Vcpu } from './vcpu.ts';

export const HC_VERSION = 0, HC_CONSOLE_WRITE = 1;
export const HYPERCALL_ABI_VERSION = 1;
/** Errors, as negative errno values. */
export const ENOSYS = -38, EFAULT = -14, EINVAL = -22;

/** The most one console write may carry. */
const CONSOLE_WRITE_MAX = 4096;

/** Serves the hypercall in the guest's registers; returns the value for EAX. */
export function hypercall(vcpu: Vcpu): number {
  const r = vcpu.cpu.reg;
  switch (r[0] >>> 0) {
    case HC_VERSION:
      return HYPERCALL_ABI_VERSION;
    case HC_CONSOLE_WRITE: {
      // EBX = guest linear address, ECX = length: bytes for the VMM's console.
      const address = r[3];
      const length = r[1] >>> 0;
      if (length > CONSOLE_WRITE_MAX) return EINVAL;
      const bytes = vcpu.readGuestLinear(address, length);
      if (bytes === null) return EFAULT;
      vcpu.console(bytes);
      return length;
    }
    default:
      return ENOSYS;
  }
}
