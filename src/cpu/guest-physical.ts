/**
 * How the CPU reaches guest-physical memory when a VMM is in between: every guest-physical
 * access (the final address of a load, store or fetch, and every read of the guest's page
 * tables) asks the translator for the page, which may instead end the instruction with a VM
 * exit (an EPT violation). On the bare machine there is no translator: physical addresses go
 * straight to PhysicalMemory's pages.
 */
export const ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_FETCH = 2;

/**
 * The page kind a translator returns for VMX's APIC-access page ("virtualize APIC accesses"):
 * the CPU neither caches it in its TLB nor reads the frame, but hands every access to
 * `apicAccess`, which virtualizes it or makes a VM exit. (Kind 3 is PhysicalMemory's PAGE_LAZY,
 * which never reaches the CPU: its entries are backed before it sees them.)
 */
export const PAGE_APIC_ACCESS = 3;

export interface GuestPhysicalTranslator {
  /**
   * The page entry for guest-physical `gpa` in PhysicalMemory's format (host offset | kind;
   * PAGE_ROM when writes are not allowed). Raises a VM exit instead (throws) when the VMM's
   * tables do not allow the access. `linear` is the linear address being accessed, `pageWalk`
   * whether this is a read of the guest's own page tables.
   */
  pageEntry(gpa: number, access: number, linear: number, pageWalk: boolean): number;
  /**
   * An access of `bytes` bytes at `address` in the page pageEntry said is the APIC-access page
   * (PAGE_APIC_ACCESS): a read returns its value, a write takes `value`; either may make a VM
   * exit instead (throws), and a fetch always does.
   */
  apicAccess(address: number, bytes: 1 | 2 | 4, access: number, value: number, linear: number): number;
}
