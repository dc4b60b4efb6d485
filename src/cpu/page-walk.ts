/**
 * The one page walk of the 386's 32-bit paging: two levels (page directory, page table), 4 KiB
 * pages and, with CR4.PSE, 4 MiB ones; user/supervisor and read/write permissions, CR0.WP for
 * supervisor writes; accessed and dirty bits set as a 386 sets them (a directory entry's
 * accessed bit only when the walk goes through it to a table).
 *
 * Every walk of a guest's tables is this one, as KVM's paging_tmpl.h is one walker for all its
 * users; they differ only in where the entries are read from and whether the walk leaves its
 * marks:
 * - the CPU on a TLB miss (paging.ts): entries through its guest-physical translation (EPT), A/D
 *   bits set, a failure raised as #PF;
 * - the VMM's software walk under shadow paging (vmm/guest-walk.ts): the guest's tables in
 *   guest-physical memory, A/D bits set, a failure injected into the guest;
 * - `translate` and the debugger (vmm/translate.ts, src/debugger): read-only, every level shown.
 *
 * The result goes into a `PageWalk` the caller owns, so that the CPU's walk allocates nothing.
 */

/** Page-table entry bits. */
export const PTE_PRESENT = 1, PTE_WRITABLE = 2, PTE_USER = 4, PTE_ACCESSED = 0x20, PTE_DIRTY = 0x40;
export const PDE_LARGE = 0x80, PTE_GLOBAL = 0x100;

/** #PF error code bits. */
export const PF_PRESENT = 1, PF_WRITE = 2, PF_USER = 4;

/** What the access is, and how the walk goes (the `flags` of walkPageTables). */
export const WALK_WRITE = 1, WALK_USER = 2;
/** CR0.WP: supervisor writes honour read-only pages. */
export const WALK_WP = 4;
/** CR4.PSE: a directory entry with PS set maps a 4 MiB page. */
export const WALK_PSE = 8;
/** Set the accessed and dirty bits the access implies, as the hardware does (else the walk only reads). */
export const WALK_SET_ACCESSED = 16;

/** Where the entries live: guest-physical memory, host-physical, through an EPT... */
export interface PageTableMemory {
  readTableEntry(address: number): number;
  writeTableEntry(address: number, value: number): void;
}

/** What a walk found. Entries are as the walk read them, before it set any A/D bit. */
export class PageWalk {
  /** The physical address of the byte (valid when the walk succeeded). */
  physical = 0;
  /** Both levels allow writes (supervisors may write anyway when CR0.WP is clear). */
  writable = false;
  /** Both levels allow user accesses. */
  user = false;
  /** The leaf's dirty bit, after this access. */
  dirty = false;
  global = false;
  /** Where the directory entry is, and what it held. */
  pdeAddress = 0;
  pde = 0;
  /** Where the table entry is, and what it held; -1 and 0 for a 4 MiB page or a walk that stopped at the directory. */
  pteAddress = -1;
  pte = 0;
  /** The directory entry maps a 4 MiB page. */
  large = false;
  /** -1 when the access is allowed; else the #PF error code it gets (P, W/R, U/S). */
  errorCode = -1;
}

/**
 * Walks the tables rooted at `cr3` for linear `lin` and the access `flags` describe. Returns
 * true and fills `out` when the access is allowed; false with `out.errorCode` set when it
 * faults (nothing is written then). `addressMask` masks every physical address the walk forms
 * (the A20 gate; -1 for none).
 */
export function walkPageTables(memory: PageTableMemory, cr3: number, lin: number, flags: number, addressMask: number, out: PageWalk): boolean {
  const write = (flags & WALK_WRITE) !== 0;
  const user = (flags & WALK_USER) !== 0;
  const update = (flags & WALK_SET_ACCESSED) !== 0;
  out.pteAddress = -1;
  out.pte = 0;
  out.large = false;
  const pdeAddress = ((cr3 & ~0xfff) | ((lin >>> 22) << 2)) & addressMask;
  const pde = memory.readTableEntry(pdeAddress);
  out.pdeAddress = pdeAddress;
  out.pde = pde;
  if (!(pde & PTE_PRESENT)) return fault(out, 0, flags);

  if (pde & PDE_LARGE && flags & WALK_PSE) {
    out.large = true;
    if (denies(pde, write, user, flags)) return fault(out, PF_PRESENT, flags);
    const updated = pde | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
    if (update && updated !== pde) memory.writeTableEntry(pdeAddress, updated);
    out.physical = ((pde & 0xffc00000) | (lin & 0x3fffff)) & addressMask;
    out.writable = (pde & PTE_WRITABLE) !== 0;
    out.user = (pde & PTE_USER) !== 0;
    out.dirty = ((update ? updated : pde) & PTE_DIRTY) !== 0;
    out.global = (pde & PTE_GLOBAL) !== 0;
    out.errorCode = -1;
    return true;
  }

  const pteAddress = ((pde & ~0xfff) | (((lin >>> 12) & 0x3ff) << 2)) & addressMask;
  const pte = memory.readTableEntry(pteAddress);
  out.pteAddress = pteAddress;
  out.pte = pte;
  if (!(pte & PTE_PRESENT)) return fault(out, 0, flags);
  // The effective permission is the stricter of the two levels.
  const combined = pde & pte & (PTE_WRITABLE | PTE_USER);
  if (denies(combined, write, user, flags)) return fault(out, PF_PRESENT, flags);
  if (update) {
    if (!(pde & PTE_ACCESSED)) memory.writeTableEntry(pdeAddress, pde | PTE_ACCESSED);
    const updated = pte | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
    if (updated !== pte) memory.writeTableEntry(pteAddress, updated);
    out.dirty = (updated & PTE_DIRTY) !== 0;
  } else {
    out.dirty = (pte & PTE_DIRTY) !== 0;
  }
  out.physical = ((pte & ~0xfff) | (lin & 0xfff)) & addressMask;
  out.writable = (combined & PTE_WRITABLE) !== 0;
  out.user = (combined & PTE_USER) !== 0;
  out.global = (pte & PTE_GLOBAL) !== 0;
  out.errorCode = -1;
  return true;
}

/** Whether a present entry's permissions deny the access. */
function denies(entry: number, write: boolean, user: boolean, flags: number): boolean {
  if (user && !(entry & PTE_USER)) return true;
  return write && !(entry & PTE_WRITABLE) && (user || (flags & WALK_WP) !== 0);
}

function fault(out: PageWalk, present: number, flags: number): false {
  out.errorCode = present | (flags & WALK_WRITE ? PF_WRITE : 0) | (flags & WALK_USER ? PF_USER : 0);
  return false;
}
