/**
 * Extended page tables: the second dimension of the address translation. Four levels (PML4,
 * PDPT, PD, PT) of 8-byte entries in host frames, rooted at the EPTP: guest-physical → host-
 * physical, with read/write/execute permissions per 4 KiB page (SDM Vol. 3, 29.3). The VMM
 * fills them lazily, on EPT violations (KVM's __direct_map); the CPU walks them on every TLB
 * miss, and for every guest page-table read.
 */
import type { PhysicalMemory } from '../cpu/physical-memory.ts';

export const EPT_READ = 1, EPT_WRITE = 2, EPT_EXECUTE = 4;
/** What Ept.find returns for a malformed entry. */
export const MISCONFIGURED = 'misconfigured';
const EPT_RWX = EPT_READ | EPT_WRITE | EPT_EXECUTE;
/** Leaf memory type write-back (bits 5:3 = 6), as KVM maps RAM. */
const EPT_MEMORY_TYPE_WB = 6 << 3;

/** One level of a walk, for people: which table, which entry, what it held. */
export interface EptLevel {
  level: 'PML4' | 'PDPT' | 'PD' | 'PT';
  tableHpa: number;
  index: number;
  entry: number;
}

export class Ept {
  /** Host-physical address of the PML4 table. */
  readonly root: number;
  /** Frames holding EPT tables (the PML4 included). */
  tableFrames = 1;
  /** Guest pages mapped (leaf entries present): the guest's frames in use. */
  mappedPages = 0;

  constructor(
    private readonly host: PhysicalMemory,
    /** Allocates a zeroed 4 KiB host frame for a table; returns its host-physical address. */
    private readonly allocateFrame: () => number,
  ) {
    this.root = allocateFrame();
  }

  /** The EPTP for this EPT: the root, write-back, a 4-level walk (SDM 25.6.11). */
  get pointer(): number {
    return this.root | (3 << 3) | 6;
  }

  private entryLow(tableHpa: number, index: number): number {
    return this.host.hostView.getUint32(tableHpa + index * 8, true);
  }

  private setEntry(tableHpa: number, index: number, value: number): void {
    this.host.hostView.setUint32(tableHpa + index * 8, value >>> 0, true);
    this.host.hostView.setUint32(tableHpa + index * 8 + 4, 0, true);
  }

  private static indexes(gpa: number): [number, number, number, number] {
    const a = gpa >>> 0;
    return [Math.floor(a / 2 ** 39) & 511, Math.floor(a / 2 ** 30) & 511, (a >>> 21) & 511, (a >>> 12) & 511];
  }

  /** The leaf for `gpa`: its host-physical page and permissions, or null when no entry maps it. */
  lookup(gpa: number): { hpa: number; permissions: number } | null {
    const leaf = this.find(gpa);
    return leaf === null || leaf === MISCONFIGURED ? null : leaf;
  }

  /**
   * The walk the CPU does: the leaf for `gpa`, null when an entry on the way is not present,
   * or MISCONFIGURED when one is malformed (SDM Vol. 3, 29.3.3.1: writable but not readable,
   * or a leaf with a reserved memory type), which is an EPT-misconfiguration exit.
   */
  find(gpa: number): { hpa: number; permissions: number } | null | typeof MISCONFIGURED {
    let table = this.root;
    const idx = Ept.indexes(gpa);
    for (let level = 0; level < 4; level++) {
      const entry = this.entryLow(table, idx[level]);
      if ((entry & EPT_RWX) === 0) return null;
      if ((entry & (EPT_READ | EPT_WRITE)) === EPT_WRITE) return MISCONFIGURED;
      if (level === 3) {
        const memoryType = (entry >> 3) & 7;
        if (memoryType === 2 || memoryType === 3 || memoryType === 7) return MISCONFIGURED;
        return { hpa: (entry & ~0xfff) >>> 0, permissions: entry & EPT_RWX };
      }
      table = (entry & ~0xfff) >>> 0;
    }
    return null;
  }

  /** Every level's entry for `gpa`, as far as the walk goes (for the translation API and the debugger). */
  walk(gpa: number): EptLevel[] {
    const names = ['PML4', 'PDPT', 'PD', 'PT'] as const;
    const levels: EptLevel[] = [];
    let table = this.root;
    const idx = Ept.indexes(gpa);
    for (let level = 0; level < 4; level++) {
      const entry = this.entryLow(table, idx[level]);
      levels.push({ level: names[level], tableHpa: table, index: idx[level], entry });
      if ((entry & EPT_RWX) === 0) break;
      table = (entry & ~0xfff) >>> 0;
    }
    return levels;
  }

  /** Every page the EPT maps, in GPA order: guest page, host page, permissions (for the debugger's `info ept`). */
  mappings(): { gpa: number; hpa: number; permissions: number }[] {
    const out: { gpa: number; hpa: number; permissions: number }[] = [];
    const walk = (table: number, level: number, base: number) => {
      for (let i = 0; i < 512; i++) {
        const entry = this.entryLow(table, i);
        if ((entry & EPT_RWX) === 0) continue;
        const gpa = base + i * 2 ** (12 + 9 * (3 - level));
        if (level === 3) out.push({ gpa, hpa: (entry & ~0xfff) >>> 0, permissions: entry & EPT_RWX });
        else walk((entry & ~0xfff) >>> 0, level + 1, gpa);
      }
    };
    walk(this.root, 0, 0);
    return out;
  }

  /** Maps the guest page holding `gpa` to the host page `hpa` with `permissions`, making tables as needed. */
  map(gpa: number, hpa: number, permissions: number): void {
    let table = this.root;
    const idx = Ept.indexes(gpa);
    for (let level = 0; level < 3; level++) {
      let entry = this.entryLow(table, idx[level]);
      if ((entry & EPT_RWX) === 0) {
        const frame = this.allocateFrame();
        this.tableFrames++;
        entry = frame | EPT_RWX; // upper levels allow everything; the leaf decides
        this.setEntry(table, idx[level], entry);
      }
      table = (entry & ~0xfff) >>> 0;
    }
    if ((this.entryLow(table, idx[3]) & EPT_RWX) === 0) this.mappedPages++;
    this.setEntry(table, idx[3], (hpa & ~0xfff) | EPT_MEMORY_TYPE_WB | permissions);
  }

  /**
   * Repairs the walk for `gpa` after an EPT misconfiguration: a malformed table entry gets back
   * the permissions upper levels always have here (everything: the leaf decides), a malformed
   * leaf is removed (the next access maps the page afresh). INVEPT follows in the caller.
   */
  repair(gpa: number): void {
    let table = this.root;
    const idx = Ept.indexes(gpa);
    for (let level = 0; level < 4; level++) {
      const entry = this.entryLow(table, idx[level]);
      if ((entry & EPT_RWX) === 0) return;
      if (level === 3) {
        const memoryType = (entry >> 3) & 7;
        if ((entry & (EPT_READ | EPT_WRITE)) === EPT_WRITE || memoryType === 2 || memoryType === 3 || memoryType === 7) {
          this.setEntry(table, idx[level], 0);
          this.mappedPages--;
        }
        return;
      }
      if ((entry & (EPT_READ | EPT_WRITE)) === EPT_WRITE) this.setEntry(table, idx[level], (entry & ~0xfff) | EPT_RWX);
      table = (entry & ~0xfff) >>> 0;
    }
  }

  /** Removes the leaf entries for `size` bytes from `gpa` (INVEPT follows in the caller). */
  unmap(gpa: number, size: number): void {
    for (let offset = 0; offset < size; offset += 4096) {
      let table = this.root;
      const idx = Ept.indexes(gpa + offset);
      let level = 0;
      for (; level < 3; level++) {
        const entry = this.entryLow(table, idx[level]);
        if ((entry & EPT_RWX) === 0) break;
        table = (entry & ~0xfff) >>> 0;
      }
      if (level === 3 && this.entryLow(table, idx[3]) & EPT_RWX) {
        this.setEntry(table, idx[3], 0);
        this.mappedPages--;
      }
    }
  }
}
