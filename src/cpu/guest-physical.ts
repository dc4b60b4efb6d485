/**
 * How the CPU reaches guest-physical memory when a VMM is in between: every guest-physical
 * access (the final address of a load, store or fetch, and every read of the guest's page
 * tables) asks the translator for the page, which may instead end the instruction with a VM
 * exit (an EPT violation). On the bare machine there is no translator: physical addresses go
 * straight to PhysicalMemory's pages.
 */
export const ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_FETCH = 2;

export interface GuestPhysicalTranslator {
  /**
   * The page entry for guest-physical `gpa` in PhysicalMemory's format (host offset | kind;
   * PAGE_ROM when writes are not allowed). Raises a VM exit instead (throws) when the VMM's
   * tables do not allow the access. `linear` is the linear address being accessed, `pageWalk`
   * whether this is a read of the guest's own page tables.
   */
  pageEntry(gpa: number, access: number, linear: number, pageWalk: boolean): number;
}
