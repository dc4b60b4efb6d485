/**
 * Hypercalls: the guest's VMCALL with EAX = the call number, arguments in EBX, ECX, EDX, the
 * result in EAX (negative: an error). The ABI is documented in docs/hypercalls.md.
 */
import { S_CPL } from '../cpu/state.ts';
import type { Vcpu } from './vcpu.ts';
import { INVALID_MFN, isRefusal, type MmuUpdate, type PvRefusal } from './pv-mmu.ts';

export const HC_VERSION = 0, HC_CONSOLE_WRITE = 1;
/** Paravirtual paging (--mode pv), as Xen's direct paging: see docs/hypercalls.md. */
export const HC_PV_P2M = 2, HC_PV_MMU_UPDATE = 3, HC_PV_PIN_L1 = 4, HC_PV_PIN_L2 = 5, HC_PV_UNPIN = 6, HC_PV_NEW_BASEPTR = 7;
/** The most requests one mmu_update batch may carry. */
export const MMU_UPDATE_MAX = 512;
export const HYPERCALL_ABI_VERSION = 1;
/** Errors, as negative errno values. */
export const ENOSYS = -38, EFAULT = -14, EINVAL = -22, EPERM = -1;

/** The most one console write may carry. */
const CONSOLE_WRITE_MAX = 4096;

/** Serves the hypercall in the guest's registers; returns the value for EAX. */
export function hypercall(vcpu: Vcpu): number {
  const r = vcpu.cpu.reg;
  // Only the guest's kernel may call the hypervisor (as KVM answers -KVM_EPERM, and Xen refuses
  // guest user mode): a user process must not rewrite its own page tables or change CR3.
  if (vcpu.cpu.st[S_CPL] !== 0) return EPERM;
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
    case HC_PV_P2M:
    case HC_PV_MMU_UPDATE:
    case HC_PV_PIN_L1:
    case HC_PV_PIN_L2:
    case HC_PV_UNPIN:
    case HC_PV_NEW_BASEPTR:
      return paravirtualPaging(vcpu, r[0] >>> 0);
    default:
      return ENOSYS;
  }
}

/** The paravirtual-paging calls; ENOSYS outside --mode pv. */
function paravirtualPaging(vcpu: Vcpu, call: number): number {
  const pv = vcpu.pv;
  if (pv === null) return ENOSYS;
  const r = vcpu.cpu.reg;
  const mmu = pv.mmu;
  const refused = (refusal: PvRefusal): number => {
    mmu.stats.rejected++;
    vcpu.lastRefusal = refusal.why;
    return refusal.error;
  };
  switch (call) {
    case HC_PV_P2M: {
      // EBX = linear address of ECX dwords: the machine frame of each pseudo-physical frame.
      const count = r[1] >>> 0;
      if (count > mmu.p2m.length) return EINVAL;
      const bytes = new Uint8Array(count * 4);
      const view = new DataView(bytes.buffer);
      for (let pfn = 0; pfn < count; pfn++) view.setUint32(pfn * 4, mmu.p2m[pfn] === -1 ? INVALID_MFN : mmu.p2m[pfn], true);
      if (!vcpu.writeGuestLinear(r[3], bytes)) return EFAULT;
      return mmu.ramFrames;
    }
    case HC_PV_MMU_UPDATE: {
      // EBX = linear address of ECX requests of 8 bytes: {ptr: machine address of the entry, val}.
      const count = r[1] >>> 0;
      if (count > MMU_UPDATE_MAX) return EINVAL;
      const bytes = vcpu.readGuestLinear(r[3], count * 8);
      if (bytes === null) return EFAULT;
      const view = new DataView(bytes.buffer);
      const requests: MmuUpdate[] = [];
      for (let i = 0; i < count; i++) requests.push({ ptr: view.getUint32(i * 8, true), val: view.getInt32(i * 8 + 4, true) });
      const result = mmu.update(requests);
      if (isRefusal(result)) {
        r[2] = result.index; // EDX: which request
        return refused(result);
      }
      pv.flush();
      return result;
    }
    case HC_PV_PIN_L1:
    case HC_PV_PIN_L2:
    case HC_PV_UNPIN: {
      // EBX = machine address of the frame.
      const mfn = (r[3] >>> 0) >>> 12;
      const result = call === HC_PV_UNPIN ? mmu.unpin(mfn) : mmu.pin(mfn, call === HC_PV_PIN_L2);
      if (isRefusal(result)) return refused(result);
      pv.flush();
      return 0;
    }
    case HC_PV_NEW_BASEPTR: {
      // EBX = machine address of a pinned page directory: the new CR3.
      const result = mmu.newBase(r[3] >>> 0);
      if (isRefusal(result)) return refused(result);
      pv.baseChanged();
      return 0;
    }
  }
  return ENOSYS;
}
