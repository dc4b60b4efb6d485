/**
 * The VMM on a CPU without "unrestricted guest" (`--unrestricted off`), as KVM ran before Intel
 * added it (its `rmode` path): VM entry then requires CR0.PE and CR0.PG, so
 * - the guest's real-mode code runs in virtual-8086 mode: for each run the VMM puts V86 segments
 *   (base = selector × 16, 64 KiB, DPL 3), EFLAGS.VM with IOPL 0, a TSS and an IDT of its own,
 *   and paging on its own identity page table into the guest-state area, and takes the guest's
 *   real-mode state back at the exit. At IOPL 0 the IOPL-sensitive instructions (CLI, STI, PUSHF,
 *   POPF, INT n, IRET) fault, as do the privileged ones (HLT, MOV CR0, LGDT ...); every exception
 *   exits (the exception bitmap is all ones), and the VMM emulates the instruction on the guest's
 *   real-mode state. I/O goes through the TSS's I/O bitmap (all allowed) to an I/O exit. Events
 *   the VMM injects are delivered the real-mode way (through the guest's IVT), by emulation;
 * - a real-mode state V86 cannot hold (CS at FFFF0000 after reset, big-real-mode limits, a
 *   32-bit CS or stack) is emulated an instruction at a time until it can (KVM's
 *   emulation_required), as is real-mode code with TF or breakpoints armed;
 * - protected-mode code with the guest's paging off runs with paging on, on the identity table.
 * The VMM's emulator is minivisor's interpreter, run on the guest's own state for one instruction.
 *
 * The identity table maps GVA = GPA. Under EPT it is a page directory of 4 MiB pages at a
 * guest-physical page the VMM keeps for itself, beside its TSS, below 4 GiB where
 * no RAM is (QEMU puts KVM's at 0xFEFFC000 too; it also lists them reserved in the E820 map,
 * which minivisor does not, so that a guest's map reads the same in every mode): one root page, empty at first, an entry filled on
 * each #PF. Under shadow paging it is the identity shadow (GVA → HPA), whose directory the CPU
 * now walks as a page table, filled on #PF the same way.
 *
 * The VMM's pages are a private slot: not guest memory. Under KVM a guest whose paging-off code
 * (or whose page tables) reach 0xFEFFC000 reads and writes the VMM's TSS and identity table;
 * here the guest finds nothing there, as on the bare machine. The VMM maps them only where its
 * CPU must reach them and the guest cannot: all of them for a V86 run (V86 code addresses only
 * its first MiB), the directory alone for a paging-off run (the CPU walks it; the identity table
 * never maps the 4 MiB that hold the VMM's pages: an access there is emulated), none otherwise.
 */
import { ATTN_DEBUG, ATTN_TRAP, type Cpu } from '../cpu/cpu.ts';
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { EPT_READ, EPT_WRITE, EPT_EXECUTE, type Ept } from './ept.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PSE, IOPL, S_A20_MASK, TF, TR, VM } from '../cpu/state.ts';
/** DR7's L0-G3 bits: a breakpoint armed. */
const DR7_ENABLES = 0xff;
import { ACCESS, AR_UNUSABLE, BASE, LIMIT, SELECTOR } from './guest-state.ts';
import type { ShadowPaging } from './shadow-paging.ts';
import { CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, Field, SECONDARY_DESCRIPTOR_TABLE_EXITING, type Vmcs } from './vmcs.ts';

/** The VMM's own guest-physical pages: the identity page directory (EPT), then the TSS and IDT. */
export const VMM_PAGES_BASE = 0xfeffc000;
export const VMM_PAGES_BYTES = 0x4000;
export const VMM_PAGES_SLOT = 0x7f00;
const IDENTITY_DIRECTORY = VMM_PAGES_BASE;
/** TSS: the 104-byte 32-bit TSS, the interrupt redirection map (32 bytes), the I/O bitmap (8 KiB, all ports allowed: they exit), and its closing 0xFF byte. */
const TSS = VMM_PAGES_BASE + 0x1000;
const TSS_IO_MAP = 0x68 + 32;
const TSS_LIMIT = TSS_IO_MAP + 0x2000;
/** An IDT of 256 gates, none present: in V86 mode every event exits before the CPU would deliver it. */
const IDT = VMM_PAGES_BASE + 0x3800;
const IDT_LIMIT = 0x7ff;

/** Access rights of a V86 segment (SDM 26.3.1.2: 0xF3, present read/write data, DPL 3) and of a busy 32-bit TSS. */
const AR_V86 = 0xf3;
const AR_BUSY_TSS = 0x8b;
const AR_CODE = 0x08, AR_EXPAND_DOWN = 0x04, AR_DB = 0x4000;
const PF = 14;
/** A 4 MiB page: present, writable, user, accessed, dirty, PS. */
const IDENTITY_PDE_FLAGS = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
/** The identity directory's entry for the 4 MiB that hold the VMM's pages: never filled for a paging-off run. */
const OWN_PDE_INDEX = VMM_PAGES_BASE >>> 22;

/** Which of the VMM's pages its CPU reaches now: all (a V86 run), the identity directory (a paging-off run), or none. */
type Exposure = 'all' | 'directory' | 'none';


/** How the next run goes: on the CPU as it is, in V86 mode, with paging on the identity table, or one instruction emulated. */
export type RunPlan = 'native' | 'v86' | 'paging-off' | 'emulate';

export interface RestrictedStats {
  /** Runs of the guest's real-mode code in virtual-8086 mode. */
  v86Runs: number;
  /** Runs of protected-mode code with the guest's paging off, on the identity table. */
  identityRuns: number;
  /** Instructions the VMM emulated (a fault in V86 mode, or a state V86 cannot hold). */
  emulated: number;
}

/**
 * The VMM's own pages of one VM: a private slot (its host frames touched at once), and how much
 * of it the EPT or the identity shadow maps now. One set for all the VM's vCPUs, as KVM has one
 * TSS and identity table per VM: they run one at a time here, each exposing what its run needs.
 */
class VmmPages {
  /** The host frames of the VMM's pages, by guest-physical page. */
  readonly frames = new Map<number, number>();
  exposed: Exposure = 'none';
  /** The CPUs of the vCPUs that use them (their TLBs are flushed when the exposure changes). */
  readonly cpus: Cpu[] = [];

  constructor(memory: PhysicalMemory) {
    const hva = memory.allocateHost(VMM_PAGES_BYTES);
    memory.setUserMemoryRegion({ slot: VMM_PAGES_SLOT, guestPhysAddr: VMM_PAGES_BASE, size: VMM_PAGES_BYTES, userspaceAddr: hva, readOnly: false, label: 'VMM (--unrestricted off): identity page directory, TSS, IDT', vmmPrivate: true });
    for (let offset = 0; offset < VMM_PAGES_BYTES; offset += 4096) this.frames.set(VMM_PAGES_BASE + offset, memory.hostMemory.touch(hva + offset));
  }
}

/** Each VM's VMM pages, by its guest-physical memory. */
const vmmPagesOf = new WeakMap<PhysicalMemory, VmmPages>();

export class RestrictedGuest {
  readonly stats: RestrictedStats = { v86Runs: 0, identityRuns: 0, emulated: 0 };
  /** The guest-state fields the last run replaced, to put back at its exit (field → the guest's value). */
  private readonly saved = new Map<Field, number>();
  /**
   * Of CR0 and CR4, only the bits the run forced (host-owned meanwhile, so the CPU kept them)
   * are put back: the guest may have moved others itself during the run (CR0.TS, CR4.DE ...).
   */
  private readonly forced = new Map<Field, number>();
  /** What the last run was. */
  lastRun: RunPlan = 'native';
  /** Instructions retired when a fault in V86 mode asked for emulation: emulate until one more has. */
  private emulateUntil = -1;

  /** The VM's pages for the VMM (one set for all its vCPUs). */
  private readonly pages: VmmPages;

  constructor(
    private readonly cpu: Cpu,
    private readonly vmcs: Vmcs,
    private readonly memory: PhysicalMemory,
    /** Shadow paging (the identity shadow), or null under EPT (the VMM's identity directory). */
    private readonly shadow: ShadowPaging | null,
    private readonly ept: Ept | null,
  ) {
    let pages = vmmPagesOf.get(memory);
    if (pages === undefined) vmmPagesOf.set(memory, (pages = new VmmPages(memory)));
    this.pages = pages;
    pages.cpus.push(cpu);
    this.writeOwn(TSS + 0x66, 2, TSS_IO_MAP);
    this.writeOwn(TSS + TSS_LIMIT, 1, 0xff);
    // PE and PG are the VMM's: a guest write that changes either exits, so the VMM can switch how it runs the guest.
    vmcs.setBits(Field.CR0_GUEST_HOST_MASK, CR0_PE | CR0_PG, true);
    vmcs.write(Field.CR0_READ_SHADOW, ((vmcs.read(Field.CR0_READ_SHADOW) & ~(CR0_PE | CR0_PG)) | (vmcs.read(Field.GUEST_CR0) & (CR0_PE | CR0_PG))) >>> 0);
  }

  /** The guest's CR0 as it set it (PE and PG from the read shadow). */
  private get guestCr0(): number {
    return this.vmcs.read(Field.CR0_READ_SHADOW);
  }

  /** After a guest write to CR0 (the exit handler has updated the read shadow): the guest-state CR0 takes its PE and PG. */
  controlsWritten(): void {
    const v = this.vmcs;
    const own = CR0_PE | (this.shadow === null ? CR0_PG : 0); // (under shadow paging, PG is the shadow's to set)
    v.write(Field.GUEST_CR0, ((v.read(Field.GUEST_CR0) & ~own) | (this.guestCr0 & own)) >>> 0);
  }

  /** Emulate from the current instruction until it retires (a fault in V86 mode: the instruction is the VMM's to carry out). */
  emulateCurrentInstruction(): void {
    this.emulateUntil = this.cpu.instructions + 1;
  }

  /** How the guest runs from its state in the VMCS. */
  plan(): RunPlan {
    const v = this.vmcs;
    const cpu = this.cpu;
    const cr0 = v.read(Field.GUEST_CR0);
    // Under shadow paging the identity shadow maps GPA = GVA: with the A20 gate closed the interpreter masks addresses instead.
    const a20Closed = this.shadow !== null && cpu.st[S_A20_MASK] !== -1;
    const emulating = cpu.instructions < this.emulateUntil;
    if (cr0 & CR0_PE) return !(cr0 & CR0_PG) ? (a20Closed || emulating ? 'emulate' : 'paging-off') : 'native';
    if (emulating || a20Closed) return 'emulate';
    // Single-stepping, breakpoints, or a #DB trap still to deliver: the interpreter takes the traps the real-mode way.
    if (v.read(Field.GUEST_RFLAGS) & TF || v.read(Field.GUEST_DR7) & DR7_ENABLES || cpu.attention & (ATTN_TRAP | ATTN_DEBUG)) return 'emulate';
    // The instruction after STI or MOV SS: its shield would not survive a fault in V86 mode. And
    // a halted vCPU: VM entry takes the HLT activity state only with SS.DPL 0, not V86's 3.
    if (v.read(Field.GUEST_INTERRUPTIBILITY_INFO) !== 0 || v.read(Field.GUEST_ACTIVITY_STATE) !== 0) return 'emulate';
    return this.v86Representable() ? 'v86' : 'emulate';
  }

  /** Counts the run about to start, by its plan (for --stats and compare). */
  countRun(): void {
    if (this.lastRun === 'v86') this.stats.v86Runs++;
    else if (this.lastRun === 'paging-off') this.stats.identityRuns++;
    else if (this.lastRun === 'emulate') this.stats.emulated++;
  }

  /** The VMM completes an exit by running the instruction on the guest's own state: not a run of V86 mode. */
  completingExit(): void {
    this.lastRun = 'emulate';
    this.exposeFor('emulate');
  }

  /**
   * Maps the VMM's pages where the CPU's next run must reach them and the guest cannot (see the
   * file's comment): EPT entries, or the identity shadow's. Real-mode code emulated keeps what
   * the V86 runs around it map: it cannot address them either (and a switch would flush the TLB
   * at every instruction the VMM emulates between two V86 runs).
   */
  private exposeFor(plan: RunPlan): void {
    if (plan === 'emulate' && !(this.vmcs.read(Field.GUEST_CR0) & CR0_PE)) return;
    const wanted: Exposure = plan === 'v86' ? 'all' : plan === 'paging-off' && this.shadow === null ? 'directory' : 'none';
    const pages = this.pages;
    if (wanted === pages.exposed) return;
    pages.exposed = wanted;
    if (this.ept !== null) {
      for (const [gpa, hpa] of pages.frames) {
        if (wanted === 'all' || (wanted === 'directory' && gpa === IDENTITY_DIRECTORY)) this.ept.map(gpa, hpa, EPT_READ | EPT_WRITE | EPT_EXECUTE);
        else this.ept.unmap(gpa, 4096);
      }
      // A V86 run may have filled the entry for the VMM's own 4 MiB (its TSS and IDT): paging-off code must not reach them.
      if (wanted === 'directory') this.writeOwn(IDENTITY_DIRECTORY + OWN_PDE_INDEX * 4, 4, 0);
    } else {
      this.shadow!.mmu.showPrivatePages(wanted === 'all' ? pages.frames : null);
    }
    // The TLBs hold translations to host frames, the VMM's among them: every vCPU's, since the
    // exposure is the VM's (another vCPU may have run with the pages mapped).
    for (const cpu of pages.cpus) cpu.flushTlb();
  }

  /** Writes the VMM's own pages (not guest memory: through their host frames). */
  private writeOwn(gpa: number, size: 1 | 2 | 4, value: number): void {
    const at = this.ownHostAddress(gpa);
    const view = this.memory.hostView;
    if (size === 4) view.setUint32(at, value >>> 0, true);
    else if (size === 2) view.setUint16(at, value, true);
    else view.setUint8(at, value);
  }

  private readOwn32(gpa: number): number {
    return this.memory.hostView.getUint32(this.ownHostAddress(gpa), true);
  }

  private ownHostAddress(gpa: number): number {
    const frame = this.pages.frames.get((gpa & ~0xfff) >>> 0);
    if (frame === undefined) throw new Error(`GPA 0x${(gpa >>> 0).toString(16)} is not one of the VMM's pages`);
    return frame | (gpa & 0xfff);
  }

  /** Whether V86 mode can hold the real-mode segments: base = selector × 16, a 64 KiB expand-up limit, 16-bit code and stack. */
  private v86Representable(): boolean {
    const v = this.vmcs;
    for (let seg = 0; seg < 6; seg++) {
      const rights = v.read(ACCESS[seg]);
      if (rights & AR_UNUSABLE || v.read(LIMIT[seg]) !== 0xffff || v.read(BASE[seg]) !== v.read(SELECTOR[seg]) << 4) return false;
      if ((rights & (AR_CODE | AR_EXPAND_DOWN)) === AR_EXPAND_DOWN) return false;
      if ((seg === 1 || seg === 2) && rights & AR_DB) return false;
    }
    return true;
  }

  /** Replaces guest-state fields for a run, keeping the guest's values for `unwrap`. */
  private replace(field: Field, value: number): void {
    if (!this.saved.has(field)) this.saved.set(field, this.vmcs.read(field));
    this.vmcs.write(field, value >>> 0);
  }

  /** Sets `bits` of a control register for a run (see `forced`). */
  private force(field: Field.GUEST_CR0 | Field.GUEST_CR4, bits: number): void {
    this.replace(field, this.vmcs.read(field) | bits);
    this.forced.set(field, (this.forced.get(field) ?? 0) | bits);
  }

  /**
   * Puts the state the CPU can enter for `plan` into the guest-state area (V86 mode, or paging on
   * the identity table); the guest's own values come back with `unwrap` at the exit.
   */
  wrap(plan: RunPlan): void {
    this.lastRun = plan;
    this.exposeFor(plan);
    if (plan === 'native' || plan === 'emulate') return;
    const v = this.vmcs;
    if (plan === 'v86') {
      for (let seg = 0; seg < 6; seg++) {
        this.replace(BASE[seg], v.read(SELECTOR[seg]) << 4);
        this.replace(LIMIT[seg], 0xffff);
        this.replace(ACCESS[seg], AR_V86);
      }
      this.replace(SELECTOR[TR], 0);
      this.replace(BASE[TR], TSS);
      this.replace(LIMIT[TR], TSS_LIMIT);
      this.replace(ACCESS[TR], AR_BUSY_TSS);
      this.replace(Field.GUEST_IDTR_BASE, IDT);
      this.replace(Field.GUEST_IDTR_LIMIT, IDT_LIMIT);
      this.replace(Field.GUEST_RFLAGS, (v.read(Field.GUEST_RFLAGS) & ~IOPL) | VM);
      this.replace(Field.EXCEPTION_BITMAP, 0xffffffff);
      // SIDT is not privileged: it exits, and the VMM answers with the guest's IDTR.
      this.replace(Field.SECONDARY_VM_EXEC_CONTROL, v.read(Field.SECONDARY_VM_EXEC_CONTROL) | SECONDARY_DESCRIPTOR_TABLE_EXITING);
      this.force(Field.GUEST_CR0, CR0_PE);
    } else {
      this.replace(Field.EXCEPTION_BITMAP, v.read(Field.EXCEPTION_BITMAP) | (1 << PF));
    }
    // Under shadow paging with WP too: the identity shadow maps ROM read-only, and an implicit
    // supervisor write there (a descriptor's accessed bit in a GDT in ROM) must fault, not land.
    this.force(Field.GUEST_CR0, CR0_PG | (this.shadow !== null ? CR0_WP : 0));
    if (this.shadow === null) {
      this.replace(Field.GUEST_CR3, IDENTITY_DIRECTORY);
      // CR4.PSE for the identity table's 4 MiB pages, the VMM's for the run: the guest reads and
      // moves its own (a move that would change it exits).
      const guestCr4 = v.read(Field.GUEST_CR4);
      this.replace(Field.CR4_READ_SHADOW, (v.read(Field.CR4_READ_SHADOW) & ~CR4_PSE) | (guestCr4 & CR4_PSE));
      this.replace(Field.CR4_GUEST_HOST_MASK, v.read(Field.CR4_GUEST_HOST_MASK) | CR4_PSE);
      this.force(Field.GUEST_CR4, CR4_PSE);
      // The guest's CR3 is not the CPU's while the identity table is: its moves exit (see loadCr3).
      this.replace(Field.CPU_BASED_VM_EXEC_CONTROL, v.read(Field.CPU_BASED_VM_EXEC_CONTROL) | CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING);
    } else {
      this.replace(Field.GUEST_CR3, this.shadow.mmu.identityDirectory());
      this.cpu.hostPaging = true; // the CPU walks the identity shadow, whose entries hold HPAs
    }
  }

  /**
   * At the exit of a wrapped run: the guest's own values come back into the guest-state area,
   * with what the run changed carried over (selectors loaded in V86 mode, the flags but IOPL and
   * VM), and the CPU takes that state, so that handlers, the machine and tools see the guest's.
   */
  unwrap(): void {
    if (this.saved.size === 0) return;
    const v = this.vmcs;
    if (this.lastRun === 'v86') {
      for (let seg = 0; seg < 6; seg++) {
        // A real-mode segment load changes the selector and the base, and keeps the limit and rights.
        this.saved.set(BASE[seg], v.read(SELECTOR[seg]) << 4);
      }
      const flags = v.read(Field.GUEST_RFLAGS);
      this.saved.set(Field.GUEST_RFLAGS, ((flags & ~(IOPL | VM)) | (this.saved.get(Field.GUEST_RFLAGS)! & IOPL)) >>> 0);
    }
    for (const [field, value] of this.saved) {
      const bits = this.forced.get(field);
      v.write(field, bits === undefined ? value : ((v.read(field) & ~bits) | (value & bits)) >>> 0);
    }
    this.saved.clear();
    this.forced.clear();
    if (this.shadow !== null) this.cpu.hostPaging = this.shadow.guestPagingOn;
  }

  /** Whether the last run had the identity table as its page table (a #PF there is the VMM's to fill). */
  get ranOnIdentityTable(): boolean {
    return this.lastRun === 'v86' || this.lastRun === 'paging-off';
  }

  /**
   * Under EPT, a #PF on the identity table: the 4 MiB entry for `linear` is filled. Returns false
   * for the 4 MiB that hold the VMM's pages in a paging-off run: the VMM emulates the instruction
   * instead, where the guest finds nothing at the VMM's pages.
   */
  fillIdentityEntry(linear: number): boolean {
    const index = linear >>> 22;
    if (index === OWN_PDE_INDEX && this.lastRun === 'paging-off') return false;
    this.writeOwn(IDENTITY_DIRECTORY + index * 4, 4, ((index << 22) | IDENTITY_PDE_FLAGS) >>> 0);
    return true;
  }

  /** Under EPT: the identity directory's entry for `linear`, where it is (GPA) and what it holds. */
  identityEntryFor(linear: number): { address: number; entry: number } {
    const address = IDENTITY_DIRECTORY + (linear >>> 22) * 4;
    return { address, entry: this.readOwn32(address) };
  }

  /** The identity table as it is now, in a few words (for --stats). */
  describeIdentityTable(): string {
    if (this.shadow !== null) {
      const identity = this.shadow.mmu.describeRoots().find((r) => r.key === -1);
      return `the identity shadow: ${identity?.tables ?? 0} page tables, filled on #PF`;
    }
    let filled = 0;
    for (let i = 0; i < 1024; i++) if (this.readOwn32(IDENTITY_DIRECTORY + i * 4) & 1) filled++;
    return `the identity page directory at GPA 0x${IDENTITY_DIRECTORY.toString(16).toUpperCase()}: ${filled} of 1024 entries (4 MiB pages), filled on #PF`;
  }

  /** Under EPT with the guest's paging off, its CR3 moves exit: they load its CR3 (kept in the guest-state area between runs), or read it. */
  loadCr3(value: number): void {
    this.vmcs.write(Field.GUEST_CR3, (value & 0xfffff018) >>> 0);
  }
  get guestCr3(): number {
    return this.vmcs.read(Field.GUEST_CR3) | 0;
  }
}
