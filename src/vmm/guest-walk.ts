/**
 * The guest's page walk, done by the VMM in software (GVA → GPA): what a shadow-paging VMM does
 * on every shadow miss, as KVM's paging_tmpl.h walk_addr does. It reads the guest's own tables in
 * guest-physical memory, applies the permissions the architecture applies (U/S, R/W with CR0.WP,
 * 4 MiB pages with CR4.PSE) and, when the access is allowed, sets the accessed and dirty bits in
 * the guest's entries as the hardware would have — so a guest that reads its A/D bits sees the
 * truth even though the CPU never walked its tables.
 */
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { PDE_LARGE, PF_PRESENT, PF_USER, PF_WRITE, PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../cpu/paging.ts';

/** The guest's paging controls, as the guest set them (not the CPU's real ones). */
export interface GuestPaging {
  cr3: number;
  /** CR0.WP: supervisor writes honour read-only pages. */
  wp: boolean;
  /** CR4.PSE: 4 MiB pages. */
  pse: boolean;
}

export interface GuestTranslation {
  /** Guest-physical address of the byte. */
  gpa: number;
  /** What the guest's entries allow (both levels combined). */
  writable: boolean;
  user: boolean;
  /** The guest's dirty bit for the page (after this access). */
  dirty: boolean;
  /** Where the entries are: the PDE's GPA, and the PTE's (-1 for a 4 MiB page). */
  pdeAddress: number;
  pteAddress: number;
  /** For a 4 MiB page, the GPA of its first byte; else -1. */
  largePageBase: number;
}

/** The walk failed: the #PF error code the guest must see (P, W/R, U/S). */
export interface GuestPageFault {
  errorCode: number;
}

/**
 * Walks the guest's tables for `gva` and an access (`write`, `user`). Returns the translation,
 * with A/D set in the guest's entries, or the #PF the guest would have taken (nothing changed).
 */
export function walkGuest(memory: PhysicalMemory, paging: GuestPaging, gva: number, write: boolean, user: boolean): GuestTranslation | GuestPageFault {
  const fault = (present: boolean): GuestPageFault => ({ errorCode: (present ? PF_PRESENT : 0) | (write ? PF_WRITE : 0) | (user ? PF_USER : 0) });
  const denies = (entry: number) => (user && !(entry & PTE_USER)) || (write && !(entry & PTE_WRITABLE) && (user || paging.wp));
  const pdeAddress = ((paging.cr3 & ~0xfff) | ((gva >>> 22) << 2)) >>> 0;
  const pde = memory.read(pdeAddress, 4);
  if (!(pde & PTE_PRESENT)) return fault(false);
  if (pde & PDE_LARGE && paging.pse) {
    if (denies(pde)) return fault(true);
    const updated = pde | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
    if (updated !== pde) memory.write(pdeAddress, 4, updated);
    const base = (pde & 0xffc00000) >>> 0;
    return {
      gpa: (base | (gva & 0x3fffff)) >>> 0, writable: (pde & PTE_WRITABLE) !== 0, user: (pde & PTE_USER) !== 0,
      dirty: (updated & PTE_DIRTY) !== 0, pdeAddress, pteAddress: -1, largePageBase: base,
    };
  }
  const pteAddress = ((pde & ~0xfff) | (((gva >>> 12) & 0x3ff) << 2)) >>> 0;
  const pte = memory.read(pteAddress, 4);
  if (!(pte & PTE_PRESENT)) return fault(false);
  const combined = pde & pte & (PTE_WRITABLE | PTE_USER);
  if (denies(combined)) return fault(true);
  if (!(pde & PTE_ACCESSED)) memory.write(pdeAddress, 4, pde | PTE_ACCESSED);
  const updated = pte | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
  if (updated !== pte) memory.write(pteAddress, 4, updated);
  return {
    gpa: ((pte & ~0xfff) | (gva & 0xfff)) >>> 0, writable: (combined & PTE_WRITABLE) !== 0, user: (combined & PTE_USER) !== 0,
    dirty: (updated & PTE_DIRTY) !== 0, pdeAddress, pteAddress, largePageBase: -1,
  };
}

export function isGuestFault(t: GuestTranslation | GuestPageFault): t is GuestPageFault {
  return (t as GuestPageFault).errorCode !== undefined;
}
