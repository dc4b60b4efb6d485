/**
 * Shadow page tables (`--mode shadow`): the VMM keeps, for each guest page-table root, a table
 * of its own that maps GVA → HPA directly, and the CPU walks that instead of the guest's. The
 * guest's CR3 is kept aside (MOV to and from CR3 exit); a shadow miss is a #PF that exits; the
 * VMM walks the guest's tables in software (guest-walk.ts) and either fills the shadow entry
 * (GPA → HVA → HPA through the slots and the host frames) or injects the #PF into the guest.
 *
 * Keeping the shadow true to the guest's tables: every guest page that holds a page directory
 * or a page table the shadow was built from is mapped read-only in every shadow. A guest write
 * to one traps; the VMM lets that one instruction run on the guest's own tables, then compares
 * the page before and after and drops the shadow entries built from what changed. Dirty bits:
 * a page is mapped writable only once the guest's entry is dirty, so the first write traps and
 * the VMM sets the guest's D bit, as the hardware would have.
 *
 * The shadow-table cache (KVM's kvm_mmu_get_page, the seeds' 影子页表缓存): shadows are kept per
 * guest root and reused when the guest loads that CR3 again, up to `capacity` roots, evicting
 * the least recently used; hits, misses and evictions are counted.
 *
 * With the guest's paging off, the CPU runs unpaged and the VMM maps guest-physical pages
 * through the identity shadow: a shadow of the identity GVA = GPA, filled the same way.
 */
import { snapshotClasses } from '../cpu/state-graph.ts';
import type { HostMemory } from '../cpu/host-memory.ts';
import { PAGE_RAM, PAGE_ROM, type PhysicalMemory } from '../cpu/physical-memory.ts';
import { PageWalk, PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_USER, PTE_WRITABLE, PF_USER, PF_WRITE } from '../cpu/page-walk.ts';
import { GuestPhysicalTables, walkGuest, type GuestPaging } from './guest-walk.ts';
import { APIC_GUEST_PHYSICAL } from './apic-virtualization.ts';

/** The key of the identity shadow, used while the guest's paging is off. */
export const IDENTITY = -1;
/** What the identity shadow's fill takes a VMM page for: writable memory (see showPrivatePages). */
const PRIVATE_SLOT = { readOnly: false };

const NONE = -1;
/** Write traps in a row to one page table after which the VMM stops shadowing it. */
const FLOOD_WRITES = 4;

/** One guest root's shadow: a page directory in a host frame, and page tables made on demand. */
class ShadowRoot {
  /** HPA of the shadow page directory. */
  readonly directory: number;
  /** HPA of the shadow page table behind each directory entry, or NONE. */
  readonly tables = new Int32Array(1024).fill(NONE);
  /** The guest page table (its GPA page) each shadow table was built from; NONE for a 4 MiB page or the identity. */
  readonly guestTables = new Int32Array(1024).fill(NONE);
  lastUsed = 0;

  constructor(
    /** The guest's CR3 page (its page directory's GPA), or IDENTITY. */
    readonly key: number,
    directory: number,
  ) {
    this.directory = directory;
  }
}

/** Where a guest page is used as a page table: the shadow built from it, and which directory entry (-1: it is the directory). */
interface TableUse {
  root: ShadowRoot;
  index: number;
}

/** What a shadow page fault comes to. */
export type ShadowFaultResult =
  | { kind: 'filled' }
  /** The guest's own tables deny it: the guest gets this #PF. */
  | { kind: 'inject'; errorCode: number }
  /** The instruction must run on the guest's own tables: MMIO, a ROM write, or a write to a page table (`tablePage`, its GPA page; else -1). */
  | { kind: 'emulate'; tablePage: number };

// Roots come and go as the guest loads CR3: a load may have to make one anew.
snapshotClasses(ShadowRoot);

export class ShadowStats {
  /** Shadow misses the VMM filled. */
  filled = 0;
  /** Shadow misses that were the guest's own faults, injected. */
  injected = 0;
  /** Guest writes to its page tables, trapped and emulated. */
  writeProtectTraps = 0;
  /** Instructions run on the guest's tables for MMIO or ROM. */
  emulated = 0;
  cacheHits = 0;
  cacheMisses = 0;
  evictions = 0;
  /** Shadow entries dropped because the guest changed what they came from (or INVLPG). */
  zapped = 0;
  /** Guest table pages no longer shadowed because a write went to them (reused, or flooded). */
  unshadowed = 0;
}

export class ShadowMmu {
  readonly stats = new ShadowStats();
  /** The VM's APIC-access page, where the guest's APIC page leads under APICv (-1: none). */
  apicAccessPage = -1;
  /** Cached shadows by guest root, in insertion order (the LRU order is `lastUsed`). */
  private readonly roots = new Map<number, ShadowRoot>();
  /** The running vCPU's shadow root (see select). */
  private current: ShadowRoot | null = null;
  /**
   * One MMU serves every vCPU of a VM, as KVM's does: vCPUs on the same guest root share its
   * shadow. Each vCPU (a holder, by number) has the root it runs on; the running one's is
   * `current`. A root a vCPU holds is never evicted, and a table page in it keeps trapping.
   */
  private readonly held = new Map<number, ShadowRoot | null>();
  private holder = 0;
  /** Guest pages used as page directories or tables, and by which shadows. */
  private readonly tablePages = new Map<number, TableUse[]>();
  /** Reverse map: guest page → the HPAs of the shadow entries that map it (to write-protect it). */
  private readonly reverse = new Map<number, Set<number>>();
  /** And the other way: a shadow entry's HPA → the guest page it maps. */
  private readonly entryPage = new Map<number, number>();
  private clock = 0;
  /** The page the last write traps went to, and how many in a row (write flooding). */
  private floodPage = -1;
  private floodCount = 0;
  /** Table pages that map themselves in the current shadow: written through emulation, never unshadowed. */
  private readonly selfMapped = new Set<number>();
  /** Frames now holding shadow tables. */
  tableFrames = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly host: HostMemory,
    /** How many roots the cache keeps (the identity shadow included). */
    readonly capacity = 8,
    /** Called when shadow entries the CPU may have cached change (the vCPU flushes its TLB). */
    private readonly flushTlb: () => void = () => {},
  ) {
    this.guestTables = new GuestPhysicalTables(memory);
  }
  /** The guest's tables, as the software walk reads them; and that walk's result, reused. */
  private readonly guestTables: GuestPhysicalTables;
  private readonly walk = new PageWalk();

  // ---------------------------------------------------------------- roots and the cache

  /** Makes the shadow for guest root `key` (a CR3 page, or IDENTITY) vCPU `holder`'s (the current one for the running vCPU); returns its directory's HPA. */
  activate(key: number, holder = this.holder): number {
    const running = holder === this.holder;
    let root = this.roots.get(key);
    if (root !== undefined) {
      this.stats.cacheHits++;
    } else {
      this.stats.cacheMisses++;
      // Switching away from the current root: it may be the one to go (with a capacity of 1, the
      // cache is off and only the root in use is kept). Roots other vCPUs run on stay.
      this.held.set(holder, null);
      if (running) this.current = null;
      while (this.roots.size >= Math.max(1, this.capacity) && this.evictLeastRecentlyUsed());
      root = new ShadowRoot(key, this.allocate());
      this.roots.set(key, root);
      if (key !== IDENTITY) this.useAsTable(key, root, -1);
    }
    root.lastUsed = ++this.clock;
    this.held.set(holder, root);
    // Another vCPU's root may change while this one runs (the machine delivered it an INIT or a STARTUP).
    if (running) this.current = root;
    return root.directory;
  }

  /**
   * vCPU `holder` runs next: its root becomes the current one. False when it has none any more
   * (the shadows were dropped, or it never had one): it must activate its guest root again.
   */
  select(holder: number): boolean {
    this.holder = holder;
    this.current = this.held.get(holder) ?? null;
    return this.current !== null;
  }

  /** Whether some vCPU runs on `root`. */
  private isHeld(root: ShadowRoot): boolean {
    for (const r of this.held.values()) if (r === root) return true;
    return false;
  }

  /**
   * The identity shadow's directory (HPA), made current: for a CPU that walks it as its page
   * table (--unrestricted off). The guest's paging is off, so it is current already, unless the
   * shadows were all dropped; not a lookup of the guest's roots, so not counted as one.
   */
  identityDirectory(): number {
    if (this.current?.key === IDENTITY) return this.current.directory;
    return this.activate(IDENTITY);
  }

  /** The current shadow's directory (HPA). */
  get currentDirectory(): number {
    return this.current?.directory ?? NONE;
  }

  get cachedRoots(): number {
    return this.roots.size;
  }

  /** For the debugger: each cached shadow (guest root, its directory's HPA, tables made, most recent use first) and which is current. */
  describeRoots(): { key: number; directory: number; tables: number; current: boolean }[] {
    return [...this.roots.values()]
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((r) => ({ key: r.key, directory: r.directory, tables: r.tables.filter((t) => t !== NONE).length, current: r === this.current }));
  }

  /** For the debugger: the guest pages write-protected because they hold page tables (GPA), and whether each is written by emulation only (it maps itself). */
  protectedTablePages(): { page: number; uses: number; selfMapped: boolean }[] {
    return [...this.tablePages].map(([page, uses]) => ({ page, uses: uses.length, selfMapped: this.selfMapped.has(page) })).sort((a, b) => a.page - b.page);
  }

  /** Evicts the least recently used root no vCPU runs on; false when every root is in use. */
  private evictLeastRecentlyUsed(): boolean {
    let oldest: ShadowRoot | null = null;
    for (const root of this.roots.values()) if (!this.isHeld(root) && (oldest === null || root.lastUsed < oldest.lastUsed)) oldest = root;
    if (oldest === null) return false;
    this.stats.evictions++;
    this.drop(oldest);
    return true;
  }

  private drop(root: ShadowRoot): void {
    for (let i = 0; i < 1024; i++) this.zapDirectoryEntry(root, i);
    if (root.key !== IDENTITY) this.unuseAsTable(root.key, root, -1);
    this.free(root.directory);
    this.roots.delete(root.key);
    if (this.current === root) this.current = null;
    for (const [holder, r] of this.held) if (r === root) this.held.set(holder, null);
  }

  /** Drops every shadow (the guest changed CR0.WP or CR4.PSE, or a slot changed). */
  reset(): void {
    for (const root of [...this.roots.values()]) this.drop(root);
    this.selfMapped.clear();
    this.flushTlb();
  }

  // ---------------------------------------------------------------- shadow faults

  /**
   * A #PF on the shadow at `gva` (error code from the CPU: P, W/R, U/S). Walks the guest's tables
   * (or the identity) and fills the shadow entry, or says what else must happen.
   */
  handleFault(gva: number, errorCode: number, paging: GuestPaging | null): ShadowFaultResult {
    const root = this.current;
    if (root === null) throw new Error('shadow fault with no current shadow root');
    const write = (errorCode & PF_WRITE) !== 0;
    const user = (errorCode & PF_USER) !== 0;
    let gpa: number, guestWritable: boolean, guestUser: boolean, dirty: boolean, guestTable = NONE;
    if (paging === null) {
      gpa = gva >>> 0;
      guestWritable = guestUser = dirty = true;
    } else {
      const t = walkGuest(this.guestTables, paging, gva, write, user, this.walk);
      if (t.errorCode !== -1) {
        this.stats.injected++;
        return { kind: 'inject', errorCode: t.errorCode };
      }
      gpa = t.physical >>> 0;
      guestWritable = t.writable;
      guestUser = t.user;
      dirty = t.dirty;
      guestTable = t.pteAddress === -1 ? NONE : t.pteAddress & ~0xfff;
      // A supervisor write the guest allows only because CR0.WP is clear: writable, but kernel-only
      // in the shadow (a user access then faults and is filled afresh), as KVM does.
      if (write && !user && !guestWritable) {
        guestWritable = true;
        guestUser = false;
      }
    }
    const page = (gpa & ~0xfff) >>> 0;
    // The guest's APIC page leads to the VM's APIC-access page (APICv: apic-virtualization.ts).
    const own = paging === null ? this.privatePages?.get(page) : page === APIC_GUEST_PHYSICAL && this.apicAccessPage !== -1 ? this.apicAccessPage : undefined;
    const slot = own !== undefined ? PRIVATE_SLOT : this.memory.slotAt(page);
    if (slot === undefined || (slot.readOnly && write)) {
      this.stats.emulated++;
      return { kind: 'emulate', tablePage: -1 };
    }
    if (write && this.tablePages.has(page) && !this.unshadowForWrite(page, root)) {
      this.stats.writeProtectTraps++;
      return { kind: 'emulate', tablePage: page };
    }
    const index = gva >>> 22;
    let table = root.tables[index];
    if (table === NONE) {
      table = this.allocate();
      root.tables[index] = table;
      root.guestTables[index] = guestTable;
      // Upper levels allow everything; the leaf decides (the CPU combines both).
      this.host.view.setInt32(root.directory + index * 4, table | PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED, true);
      if (guestTable !== NONE) this.useAsTable(guestTable, root, index);
    }
    if (write && this.tablePages.has(page)) {
      // Shadowed again by this very fill: the page is a table that maps itself. It cannot stop
      // being shadowed while it is in use, so its writes are emulated from now on.
      this.selfMapped.add(page);
      this.stats.writeProtectTraps++;
      return { kind: 'emulate', tablePage: page };
    }
    const hpa = own ?? this.memory.backedEntry(page) & ~0xfff;
    const writable = guestWritable && (dirty || write) && !slot.readOnly && !this.tablePages.has(page);
    const entry = hpa | PTE_PRESENT | PTE_ACCESSED | (guestUser ? PTE_USER : 0) | (writable ? PTE_WRITABLE | PTE_DIRTY : 0);
    const entryAddress = table + ((gva >>> 12) & 0x3ff) * 4;
    this.unmapEntry(entryAddress);
    this.host.view.setInt32(entryAddress, entry, true);
    let set = this.reverse.get(page);
    if (set === undefined) this.reverse.set(page, (set = new Set()));
    set.add(entryAddress);
    this.entryPage.set(entryAddress, page);
    this.stats.filled++;
    return { kind: 'filled' };
  }

  /**
   * The identity shadow's entry for guest-physical `gpa` while the guest's paging is off, in
   * PhysicalMemory's page-entry form (HPA | PAGE_RAM, or PAGE_ROM for a read-only mapping), or
   * -1 when it has none or denies a write: a shadow miss.
   */
  identityEntry(gpa: number, write: boolean): number {
    const root = this.current;
    if (root === null) return -1;
    const table = root.tables[gpa >>> 22];
    if (table === NONE) return -1;
    const entry = this.host.view.getInt32(table + ((gpa >>> 12) & 0x3ff) * 4, true);
    if (!(entry & PTE_PRESENT) || (write && !(entry & PTE_WRITABLE))) return -1;
    return (entry & ~0xfff) | (entry & PTE_WRITABLE ? PAGE_RAM : PAGE_ROM);
  }

  /**
   * The VMM's own pages (guest-physical page → host frame) that the identity shadow maps while
   * the VMM's CPU must reach them (a V86 run: restricted-guest.ts), or null: then they are not
   * guest memory, and what the identity shadow mapped of them goes.
   */
  showPrivatePages(frames: ReadonlyMap<number, number> | null): void {
    const identity = this.roots.get(IDENTITY);
    if (frames === null && this.privatePages !== null && identity !== undefined) {
      for (const gpa of this.privatePages.keys()) {
        const table = identity.tables[gpa >>> 22];
        if (table !== NONE && this.unmapEntry(table + ((gpa >>> 12) & 0x3ff) * 4)) this.stats.zapped++;
      }
      this.flushTlb();
    }
    this.privatePages = frames;
  }
  private privatePages: ReadonlyMap<number, number> | null = null;

  /** INVLPG: the current shadow's entry for `gva` goes (the next access fills it from the guest's tables). */
  invalidatePage(gva: number): void {
    const root = this.current;
    if (root === null) return;
    const table = root.tables[gva >>> 22];
    if (table !== NONE && this.unmapEntry(table + ((gva >>> 12) & 0x3ff) * 4)) this.stats.zapped++;
  }

  /**
   * A write to guest page `page`, which shadows were built from. When the shadows that use it are
   * not the current one (the guest is reusing an old process's table frame as data), or the
   * guest keeps writing it (filling a fresh page table with stores, which would trap once per
   * store), the VMM stops shadowing it rather than trap every write, as KVM does when it
   * unsyncs or zaps a flooded shadow page: the shadow entries built from it go (they are built
   * again from the guest's tables on the next miss) and it is mapped writable. A page that is
   * the current root's directory, or one of its tables being written for the first time, keeps
   * trapping. Returns true when the write may go ahead without emulation.
   */
  private unshadowForWrite(page: number, current: ShadowRoot): boolean {
    const uses = this.tablePages.get(page)!;
    this.floodCount = page === this.floodPage ? this.floodCount + 1 : 1;
    this.floodPage = page;
    const inCurrent = uses.filter((u) => u.root === current || this.isHeld(u.root));
    const flooded = this.floodCount >= FLOOD_WRITES && inCurrent.every((u) => u.index !== -1) && !this.selfMapped.has(page);
    if (inCurrent.length > 0 && !flooded) return false;
    for (const use of [...uses]) {
      if (use.index === -1) this.drop(use.root);
      else this.zapDirectoryEntry(use.root, use.index);
    }
    this.stats.unshadowed++;
    this.flushTlb();
    return !this.tablePages.has(page);
  }

  /** The snapshot of a guest table page before an emulated write to it. */
  snapshot(page: number): Int32Array {
    const words = new Int32Array(1024);
    for (let i = 0; i < 1024; i++) words[i] = this.memory.read(page + i * 4, 4);
    return words;
  }

  /** After a write to guest table page `page`: drops the shadow entries built from the entries that changed. */
  syncTablePage(page: number, before: Int32Array): void {
    const uses = this.tablePages.get(page);
    if (uses === undefined) return;
    let changed = false;
    for (let i = 0; i < 1024; i++) {
      if (this.memory.read(page + i * 4, 4) === before[i]) continue;
      changed = true;
      for (const use of [...uses]) {
        if (use.index === -1) {
          this.zapDirectoryEntry(use.root, i);
        } else {
          const table = use.root.tables[use.index];
          if (table !== NONE && this.unmapEntry(table + i * 4)) this.stats.zapped++;
        }
      }
    }
    if (changed) this.flushTlb();
  }

  // ---------------------------------------------------------------- bookkeeping

  /** Records that guest page `page` is a table of `root` and write-protects it in every shadow. */
  private useAsTable(page: number, root: ShadowRoot, index: number): void {
    let uses = this.tablePages.get(page);
    if (uses === undefined) {
      uses = [];
      this.tablePages.set(page, uses);
      const mappings = this.reverse.get(page);
      if (mappings !== undefined) {
        for (const address of mappings) {
          const entry = this.host.view.getInt32(address, true);
          this.host.view.setInt32(address, entry & ~PTE_WRITABLE, true);
        }
        this.flushTlb();
      }
    }
    uses.push({ root, index });
  }

  private unuseAsTable(page: number, root: ShadowRoot, index: number): void {
    const uses = this.tablePages.get(page);
    if (uses === undefined) return;
    const at = uses.findIndex((u) => u.root === root && u.index === index);
    if (at >= 0) uses.splice(at, 1);
    if (uses.length === 0) this.tablePages.delete(page);
  }

  /** Drops a shadow directory entry and the table behind it. */
  private zapDirectoryEntry(root: ShadowRoot, index: number): void {
    const table = root.tables[index];
    if (table === NONE) return;
    for (let i = 0; i < 1024; i++) this.unmapEntry(table + i * 4);
    this.host.view.setInt32(root.directory + index * 4, 0, true);
    if (root.guestTables[index] !== NONE) this.unuseAsTable(root.guestTables[index], root, index);
    root.tables[index] = NONE;
    root.guestTables[index] = NONE;
    this.free(table);
    this.stats.zapped++;
  }

  /** Clears a shadow entry (and its reverse-map record); true when it was present. */
  private unmapEntry(address: number): boolean {
    const entry = this.host.view.getInt32(address, true);
    if (!(entry & PTE_PRESENT)) return false;
    this.host.view.setInt32(address, 0, true);
    const page = this.entryPage.get(address);
    if (page !== undefined) {
      this.entryPage.delete(address);
      const set = this.reverse.get(page);
      set?.delete(address);
      if (set?.size === 0) this.reverse.delete(page);
    }
    return true;
  }

  private allocate(): number {
    this.tableFrames++;
    return this.host.allocateFrame();
  }

  private free(hpa: number): void {
    this.tableFrames--;
    this.host.freeFrame(hpa);
  }

  /** For tests and the debugger: the shadow entry for `gva` in the current shadow (0 when none). */
  entryFor(gva: number): number {
    const root = this.current;
    if (root === null || root.tables[gva >>> 22] === NONE) return 0;
    return this.host.view.getInt32(root.tables[gva >>> 22] + ((gva >>> 12) & 0x3ff) * 4, true);
  }
}
