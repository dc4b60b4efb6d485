/**
 * The 386 page walk: two levels (page directory, page table), 4 KiB pages and, with CR4.PSE,
 * 4 MiB pages; user/supervisor and read/write permissions with CR0.WP; accessed and dirty bits
 * set as a 386 sets them (a directory entry's accessed bit only when the walk goes through
 * it); a failed walk is #PF with CR2 = the linear address and the error code's P, W/R and U/S
 * bits. The result also says what the page allows at each privilege, so that the TLB can
 * cache it and answer later accesses without walking.
 */
import type { Cpu } from './cpu.ts';
import { CR0_WP, PF_, S_A20_MASK, S_CR0, S_CR2, S_CR3, S_CR4 } from './state.ts';

/** Page-table entry bits. */
export const PTE_PRESENT = 1, PTE_WRITABLE = 2, PTE_USER = 4, PTE_ACCESSED = 0x20, PTE_DIRTY = 0x40;
export const PDE_LARGE = 0x80, PTE_GLOBAL = 0x100;
const CR4_PSE = 1 << 4;

/** #PF error code bits. */
export const PF_PRESENT = 1, PF_WRITE = 2, PF_USER = 4;

/** What a walk found: where the page is and what it allows (see `permissions`). */
export interface WalkResult {
  physical: number;
  /** The page may be written by user code (both levels writable); supervisors per CR0.WP. */
  writable: boolean;
  user: boolean;
  /** The dirty bit is set (after this access, if it wrote). */
  dirty: boolean;
  global: boolean;
}

/** Reused so that a walk allocates nothing. */
const result: WalkResult = { physical: 0, writable: false, user: false, dirty: false, global: false };

/**
 * Translates linear `lin` for an access that writes or not, at user privilege or not. Raises
 * #PF (throws) when the tables deny it; sets accessed and dirty bits in them otherwise.
 */
export function walk(cpu: Cpu, lin: number, write: boolean, user: boolean): WalkResult {
  const st = cpu.st;
  // The A20 gate masks guest addresses; a VMM's shadow tables and frames are host-physical.
  const a20 = cpu.hostPaging ? -1 : st[S_A20_MASK];
  const pdeAddress = ((st[S_CR3] & ~0xfff) | ((lin >>> 22) << 2)) & a20;
  let pde = cpu.readTableEntry(pdeAddress);
  if (!(pde & PTE_PRESENT)) pageFault(cpu, lin, 0, write, user);
  const wp = (st[S_CR0] & CR0_WP) !== 0;

  if (pde & PDE_LARGE && st[S_CR4] & CR4_PSE) {
    check(cpu, lin, pde, write, user, wp);
    const updated = pde | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
    if (updated !== pde) cpu.writeTableEntry(pdeAddress, updated);
    pde = updated;
    result.physical = ((pde & 0xffc00000) | (lin & 0x3fffff)) & a20;
    result.writable = (pde & PTE_WRITABLE) !== 0;
    result.user = (pde & PTE_USER) !== 0;
    result.dirty = (pde & PTE_DIRTY) !== 0;
    result.global = (pde & PTE_GLOBAL) !== 0;
    return result;
  }

  const pteAddress = ((pde & ~0xfff) | (((lin >>> 12) & 0x3ff) << 2)) & a20;
  let pte = cpu.readTableEntry(pteAddress);
  if (!(pte & PTE_PRESENT)) pageFault(cpu, lin, 0, write, user);
  // The effective permission is the stricter of the two levels.
  const combined = (pde & pte & (PTE_WRITABLE | PTE_USER)) | PTE_PRESENT;
  check(cpu, lin, combined, write, user, wp);
  if (!(pde & PTE_ACCESSED)) cpu.writeTableEntry(pdeAddress, pde | PTE_ACCESSED);
  const updated = pte | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
  if (updated !== pte) cpu.writeTableEntry(pteAddress, updated);
  pte = updated;
  result.physical = ((pte & ~0xfff) | (lin & 0xfff)) & a20;
  result.writable = (combined & PTE_WRITABLE) !== 0;
  result.user = (combined & PTE_USER) !== 0;
  result.dirty = (pte & PTE_DIRTY) !== 0;
  result.global = (pte & PTE_GLOBAL) !== 0;
  return result;
}

/** Raises #PF for a present entry whose permissions deny the access. */
function check(cpu: Cpu, lin: number, entry: number, write: boolean, user: boolean, wp: boolean): void {
  if (user && !(entry & PTE_USER)) pageFault(cpu, lin, PF_PRESENT, write, user);
  if (write && !(entry & PTE_WRITABLE) && (user || wp)) pageFault(cpu, lin, PF_PRESENT, write, user);
}

function pageFault(cpu: Cpu, lin: number, present: number, write: boolean, user: boolean): never {
  // A #PF that becomes a VM exit leaves CR2 as it was (SDM Vol. 3, 28.1): the VMM puts it back.
  cpu.cr2BeforeFault = cpu.st[S_CR2];
  cpu.st[S_CR2] = lin;
  return cpu.fault(PF_, present | (write ? PF_WRITE : 0) | (user ? PF_USER : 0));
}
