/**
 * Xen-style direct paging (`--mode pv`): the paravirtual guest's page tables hold machine frame
 * numbers (host frames, MFNs) and the CPU walks them as they are — no EPT, no shadow. What keeps
 * the guest inside its own memory is validation, as in Xen's mm.c:
 * - the guest learns its pseudo-physical → machine table (P2M) through a hypercall;
 * - a frame becomes a page table only when the guest pins it (as an L1 page table or an L2
 *   page directory), and the VMM checks every entry in it first: only the guest's own frames,
 *   an L2 entry only to a pinned L1 (no 4 MiB pages), and no writable mapping of any pinned
 *   table; a frame is refused as a table while anything maps it writable;
 * - from then on its entries change only through the batched mmu_update hypercall, which checks
 *   the same rules for every request and applies the batch only when all pass;
 * - CR3 is loaded through a hypercall, with a pinned L2 only.
 * Every rule refused leaves the VMM's state (and the guest's tables) as they were.
 */
import type { HostMemory } from '../cpu/host-memory.ts';
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { PDE_LARGE, PTE_PRESENT, PTE_WRITABLE } from '../cpu/page-walk.ts';

/** Errors, as negated errno values (Xen's choices: EINVAL for a malformed request, EPERM for a forbidden one). */
export const EPERM = -1, EINVAL = -22, EBUSY = -16;

const NOT_RAM = -1;
export const INVALID_MFN = 0xffffffff;

/** How a frame is used as a page table. */
const enum TableLevel {
  None = 0,
  L1 = 1,
  L2 = 2,
}

export class PvStats {
  /** mmu_update requests applied, and refused. */
  updates = 0;
  rejected = 0;
  pins = 0;
  unpins = 0;
  baseLoads = 0;
}

/** One mmu_update request: the machine address of the entry, and the value for it. */
export interface MmuUpdate {
  ptr: number;
  val: number;
}

/** What a refused request was refused for, for the guest (an errno) and for people (why). */
export interface PvRefusal {
  error: number;
  why: string;
}

export class PvMmu {
  readonly stats = new PvStats();
  /** Pseudo-physical frame → machine frame (NOT_RAM for holes), for every page of guest RAM. */
  readonly p2m: Int32Array;
  /** Machine frame → pseudo-physical frame, or NOT_RAM for frames that are not this guest's. */
  private readonly m2p: Int32Array;
  /** Per machine frame: how it is pinned, how many pinned-table entries map it writable, and how many L2 entries point to it (an L1). */
  private readonly level: Uint8Array;
  private readonly writableRefs: Int32Array;
  private readonly directoryRefs: Int32Array;
  /** The machine address of the current page directory (what the guest's CR3 holds), or -1. */
  baseMachineAddress = -1;

  constructor(
    memory: PhysicalMemory,
    private readonly host: HostMemory,
    ramPages: number,
  ) {
    // The domain builder: every page of guest RAM gets its machine frame now (a PV guest is told
    // its P2M, so it cannot change later).
    this.p2m = new Int32Array(ramPages).fill(NOT_RAM);
    const frames = host.frameCount;
    this.m2p = new Int32Array(frames).fill(NOT_RAM);
    this.level = new Uint8Array(frames);
    this.writableRefs = new Int32Array(frames);
    this.directoryRefs = new Int32Array(frames);
    for (let pfn = 0; pfn < ramPages; pfn++) {
      const slot = memory.slotAt(pfn * 4096);
      if (slot === undefined || slot.readOnly) continue;
      const mfn = memory.backedEntry(pfn * 4096) >>> 12;
      this.p2m[pfn] = mfn;
      this.m2p[mfn] = pfn;
    }
  }

  /** Whether machine frame `mfn` is this guest's RAM. */
  owns(mfn: number): boolean {
    return mfn >= 0 && mfn < this.m2p.length && this.m2p[mfn] !== NOT_RAM;
  }

  /** The pseudo-physical frame of machine frame `mfn`, or -1 when it is not the guest's (M2P). */
  pseudoPhysicalFrame(mfn: number): number {
    return this.owns(mfn) ? this.m2p[mfn] : -1;
  }

  /** How machine frame `mfn` is pinned: 'L1' (a page table), 'L2' (a page directory), or null. */
  pinnedAs(mfn: number): 'L1' | 'L2' | null {
    const level = mfn >= 0 && mfn < this.level.length ? this.level[mfn] : TableLevel.None;
    return level === TableLevel.L1 ? 'L1' : level === TableLevel.L2 ? 'L2' : null;
  }

  /** Every pinned table: machine frame and level (for the debugger's `info pv`). */
  pinnedTables(): { mfn: number; level: 'L1' | 'L2' }[] {
    const out: { mfn: number; level: 'L1' | 'L2' }[] = [];
    for (let mfn = 0; mfn < this.level.length; mfn++) if (this.level[mfn] !== TableLevel.None) out.push({ mfn, level: this.level[mfn] === TableLevel.L1 ? 'L1' : 'L2' });
    return out;
  }

  /** Whether machine frame `mfn` is a pinned page table (L1 or L2): the guest may not write it. */
  isPinned(mfn: number): boolean {
    return mfn >= 0 && mfn < this.level.length && this.level[mfn] !== TableLevel.None;
  }

  private entry(mfn: number, index: number): number {
    return this.host.view.getInt32(mfn * 4096 + index * 4, true);
  }

  // ---------------------------------------------------------------- the rules

  /** Checks one entry for a table of `level`; null when it may be there. */
  private checkEntry(level: TableLevel, value: number): PvRefusal | null {
    if (!(value & PTE_PRESENT)) return null;
    const target = value >>> 12;
    if (level === TableLevel.L2) {
      if (value & PDE_LARGE) return { error: EINVAL, why: '4 MiB pages are not allowed in a paravirtual guest' };
      if (!this.owns(target)) return { error: EPERM, why: `machine frame ${hex(target)} is not the guest's` };
      if (this.level[target] !== TableLevel.L1) return { error: EINVAL, why: `a directory entry must point to a pinned L1 table, and frame ${hex(target)} is not one` };
      return null;
    }
    if (!this.owns(target)) return { error: EPERM, why: `machine frame ${hex(target)} is not the guest's` };
    if (value & PTE_WRITABLE && this.level[target] !== TableLevel.None) return { error: EPERM, why: `frame ${hex(target)} is a page table: it may only be mapped read-only` };
    return null;
  }

  /** Adds (+1) or removes (-1) the references an entry of a `level` table holds. */
  private account(level: TableLevel, value: number, sign: 1 | -1): void {
    if (!(value & PTE_PRESENT)) return;
    const target = value >>> 12;
    if (target >= this.level.length) return;
    if (level === TableLevel.L2) this.directoryRefs[target] += sign;
    else if (value & PTE_WRITABLE) this.writableRefs[target] += sign;
  }

  // ---------------------------------------------------------------- the hypercalls

  /** Pins machine frame `mfn` as a table of `level`, after checking it; returns 0 or the refusal. */
  pin(mfn: number, asDirectory: boolean): number | PvRefusal {
    const level = asDirectory ? TableLevel.L2 : TableLevel.L1;
    if (!this.owns(mfn)) return { error: EPERM, why: `machine frame ${hex(mfn)} is not the guest's` };
    if (this.level[mfn] !== TableLevel.None) return { error: EBUSY, why: `frame ${hex(mfn)} is pinned already` };
    if (this.writableRefs[mfn] > 0) return { error: EPERM, why: `frame ${hex(mfn)} is mapped writable by ${this.writableRefs[mfn]} entr${this.writableRefs[mfn] === 1 ? 'y' : 'ies'}: map it read-only first` };
    for (let i = 0; i < 1024; i++) {
      const refusal = this.checkEntry(level, this.entry(mfn, i));
      if (refusal !== null) return { error: refusal.error, why: `entry ${i}: ${refusal.why}` };
      // A table may not map itself writable either.
      const value = this.entry(mfn, i);
      if (level === TableLevel.L1 && value & PTE_PRESENT && value & PTE_WRITABLE && value >>> 12 === mfn) {
        return { error: EPERM, why: `entry ${i} maps the table itself writable` };
      }
    }
    this.level[mfn] = level;
    for (let i = 0; i < 1024; i++) this.account(level, this.entry(mfn, i), 1);
    this.stats.pins++;
    return 0;
  }

  /** Unpins a table no directory uses and that is not the current base; returns 0 or the refusal. */
  unpin(mfn: number): number | PvRefusal {
    if (!this.isPinned(mfn)) return { error: EINVAL, why: `frame ${hex(mfn)} is not pinned` };
    if (mfn * 4096 === this.baseMachineAddress) return { error: EBUSY, why: `frame ${hex(mfn)} is the current page directory` };
    if (this.level[mfn] === TableLevel.L1 && this.directoryRefs[mfn] > 0) return { error: EBUSY, why: `frame ${hex(mfn)} is used by ${this.directoryRefs[mfn]} directory entr${this.directoryRefs[mfn] === 1 ? 'y' : 'ies'}` };
    const level = this.level[mfn] as TableLevel;
    for (let i = 0; i < 1024; i++) this.account(level, this.entry(mfn, i), -1);
    this.level[mfn] = TableLevel.None;
    this.stats.unpins++;
    return 0;
  }

  /** A batch of entry updates: all are checked, then all applied; returns the count, or the first refusal and its index. */
  update(requests: MmuUpdate[]): number | (PvRefusal & { index: number }) {
    // Every request is checked before any is applied. (Checks depend on which frames are pinned,
    // which updates do not change, so the order within the batch does not matter to them.)
    for (let index = 0; index < requests.length; index++) {
      const { ptr, val } = requests[index];
      const mfn = ptr >>> 12;
      if (ptr & 3) return { error: EINVAL, why: `entry address ${hex(ptr)} is not 4-byte aligned`, index };
      if (!this.isPinned(mfn)) return { error: EINVAL, why: `machine frame ${hex(mfn)} is not a pinned page table: pin it, or write it directly while it is not one`, index };
      const level = this.level[mfn] as TableLevel;
      const refusal = this.checkEntry(level, val);
      if (refusal !== null) return { ...refusal, index };
      if (level === TableLevel.L1 && val & PTE_PRESENT && val & PTE_WRITABLE && val >>> 12 === mfn) {
        return { error: EPERM, why: 'a page table may not map itself writable', index };
      }
    }
    for (const { ptr, val } of requests) {
      const mfn = ptr >>> 12;
      const level = this.level[mfn] as TableLevel;
      this.account(level, this.host.view.getInt32(ptr, true), -1);
      this.host.view.setInt32(ptr, val, true);
      this.account(level, val, 1);
    }
    this.stats.updates += requests.length;
    return requests.length;
  }

  /** The base pointer (CR3): a pinned L2 only. */
  newBase(machineAddress: number): number | PvRefusal {
    const mfn = machineAddress >>> 12;
    if (machineAddress & 0xfff) return { error: EINVAL, why: `${hex(machineAddress)} is not page-aligned` };
    if (this.level[mfn] !== TableLevel.L2 || !this.owns(mfn)) return { error: EINVAL, why: `frame ${hex(mfn)} is not a pinned page directory` };
    this.baseMachineAddress = machineAddress >>> 0;
    this.stats.baseLoads++;
    return 0;
  }

  /** Machine frames in the guest's P2M (its RAM). */
  get ramFrames(): number {
    let n = 0;
    for (const mfn of this.p2m) if (mfn !== NOT_RAM) n++;
    return n;
  }
}

export function isRefusal(result: unknown): result is PvRefusal {
  return typeof result === 'object' && result !== null && 'error' in result;
}

function hex(value: number): string {
  return '0x' + (value >>> 0).toString(16).toUpperCase();
}
