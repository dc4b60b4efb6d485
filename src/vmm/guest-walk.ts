/**
 * The guest's page walk, done by the VMM in software (GVA → GPA): what a shadow-paging VMM does
 * on every shadow miss, as KVM's paging_tmpl.h walk_addr does. It is the CPU's own walker
 * (cpu/page-walk.ts) over the guest's tables in guest-physical memory, with the guest's paging
 * controls: when the access is allowed it sets the accessed and dirty bits in the guest's
 * entries as the hardware would have — so a guest that reads its A/D bits sees the truth even
 * though the CPU never walked its tables.
 */
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { PageWalk, WALK_PSE, WALK_SET_ACCESSED, WALK_USER, WALK_WP, WALK_WRITE, walkPageTables, type PageTableMemory } from '../cpu/page-walk.ts';

/** The guest's paging controls, as the guest set them (not the CPU's real ones). */
export interface GuestPaging {
  cr3: number;
  /** CR0.WP: supervisor writes honour read-only pages. */
  wp: boolean;
  /** CR4.PSE: 4 MiB pages. */
  pse: boolean;
  /** The A20 gate: -1 when open, else every guest-physical address the walk forms loses bit 20. */
  addressMask: number;
}

/** Page tables in guest-physical memory, read and written through the memory slots. */
export class GuestPhysicalTables implements PageTableMemory {
  constructor(private readonly memory: PhysicalMemory) {}
  readTableEntry(address: number): number {
    return this.memory.read(address >>> 0, 4);
  }
  writeTableEntry(address: number, value: number): void {
    this.memory.write(address >>> 0, 4, value);
  }
}

/** The walker's flags for the guest's controls and an access. */
export function guestWalkFlags(paging: GuestPaging, write: boolean, user: boolean): number {
  return (write ? WALK_WRITE : 0) | (user ? WALK_USER : 0) | (paging.wp ? WALK_WP : 0) | (paging.pse ? WALK_PSE : 0);
}

/**
 * Walks the guest's tables for `gva` and an access (`write`, `user`), setting A/D in the
 * guest's entries when it is allowed. Returns the walk: `errorCode` is -1, or the #PF the guest
 * would have taken (and nothing changed).
 */
export function walkGuest(tables: PageTableMemory, paging: GuestPaging, gva: number, write: boolean, user: boolean, out = new PageWalk()): PageWalk {
  walkPageTables(tables, paging.cr3, gva, guestWalkFlags(paging, write, user) | WALK_SET_ACCESSED, paging.addressMask, out);
  return out;
}
