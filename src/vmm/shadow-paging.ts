/**
 * The vCPU's side of shadow paging: how the VMCS is set up for it, and what the exits it causes
 * do. The guest's paging controls are the VMM's, not the CPU's:
 * - CR0.PG and CR0.WP, CR4.PSE and CR4.PGE are host-owned (guest/host masks): the guest reads
 *   and writes its own values in the read shadows; the real CR0 has paging on exactly when the
 *   guest's has (with WP always set, so that write-protecting the guest's tables holds against
 *   its kernel too), and the real CR4 has neither PSE (shadows use 4 KiB pages) nor PGE;
 * - MOV to and from CR3 exit: the guest's CR3 is kept here, the real CR3 is its shadow's root;
 * - #PF is in the exception bitmap (a shadow miss), and INVLPG exits.
 * While the guest's paging is off the CPU runs unpaged, and each guest-physical page reaches
 * its host frame through the identity shadow; a miss there exits as a #PF too.
 */
import type { Cpu } from '../cpu/cpu.ts';
import { ACCESS_WRITE } from '../cpu/guest-physical.ts';
import { PAGE_RAM } from '../cpu/physical-memory.ts';
import { PF_USER, PF_WRITE } from '../cpu/page-walk.ts';
import { CR0_PG, CR0_WP, S_A20_MASK, S_CPL, S_CR0, S_CR2, S_CR3, S_CR4 } from '../cpu/state.ts';
import type { GuestPaging } from './guest-walk.ts';
import { IDENTITY, ShadowMmu } from './shadow.ts';
import { CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, CPU_INVLPG_EXITING, Field, type Vmcs } from './vmcs.ts';

const CR4_PSE = 1 << 4, CR4_PGE = 1 << 7;
const CR0_HOST_OWNED = CR0_PG | CR0_WP;
const CR4_HOST_OWNED = CR4_PSE | CR4_PGE;
const PF = 14;

/** What the guest is running on for one emulated instruction (see `runOnGuestTables`). */
interface SavedControls {
  cr0: number;
  cr3: number;
  cr4: number;
}

export class ShadowPaging {
  /** The CR3 the guest loaded (it reads this back; the CPU runs on the shadow's root). */
  guestCr3 = 0;

  constructor(
    private readonly cpu: Cpu,
    private readonly vmcs: Vmcs,
    /** The VM's shadow MMU, shared by its vCPUs. */
    readonly mmu: ShadowMmu,
    /** This vCPU's number among the MMU's holders. */
    private readonly holder = 0,
  ) {}

  /** Before this vCPU's state is loaded to run: its shadow root is the current one (made again if it was dropped). */
  beforeEntry(): void {
    if (!this.mmu.select(this.holder)) this.apply();
  }

  /** The controls for shadow paging, and the guest's paging state as it is now (the reset state, usually). */
  configure(): void {
    const v = this.vmcs;
    v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING | CPU_INVLPG_EXITING, true);
    v.setBits(Field.EXCEPTION_BITMAP, 1 << PF, true);
    v.write(Field.CR0_GUEST_HOST_MASK, CR0_HOST_OWNED);
    v.write(Field.CR4_GUEST_HOST_MASK, CR4_HOST_OWNED);
    v.write(Field.CR0_READ_SHADOW, v.read(Field.GUEST_CR0) & CR0_HOST_OWNED);
    v.write(Field.CR4_READ_SHADOW, v.read(Field.GUEST_CR4) & CR4_HOST_OWNED);
    this.guestCr3 = v.read(Field.GUEST_CR3);
    this.apply();
  }

  /** The guest's own paging controls. */
  get guestPaging(): GuestPaging {
    return {
      cr3: this.guestCr3,
      wp: (this.vmcs.read(Field.CR0_READ_SHADOW) & CR0_WP) !== 0,
      pse: (this.vmcs.read(Field.CR4_READ_SHADOW) & CR4_PSE) !== 0,
      addressMask: this.cpu.st[S_A20_MASK],
    };
  }

  get guestPagingOn(): boolean {
    return (this.vmcs.read(Field.CR0_READ_SHADOW) & CR0_PG) !== 0;
  }

  /**
   * Puts the real controls in line with the guest's: paging on with the shadow of the guest's
   * CR3 as the real CR3, or off with the identity shadow. The TLB is flushed (a CR3 load).
   */
  apply(): void {
    const v = this.vmcs;
    const realCr0 = v.read(Field.GUEST_CR0) & ~CR0_HOST_OWNED;
    if (this.guestPagingOn) {
      v.write(Field.GUEST_CR0, (realCr0 | CR0_PG | CR0_WP) >>> 0);
      v.write(Field.GUEST_CR3, this.mmu.activate(this.guestCr3 & ~0xfff, this.holder) >>> 0);
    } else {
      v.write(Field.GUEST_CR0, realCr0 >>> 0);
      this.mmu.activate(IDENTITY, this.holder);
    }
    v.write(Field.GUEST_CR4, (v.read(Field.GUEST_CR4) & ~CR4_HOST_OWNED) >>> 0);
    this.cpu.hostPaging = this.guestPagingOn;
    this.cpu.flushTlb();
  }

  /**
   * The CPU's physical accesses: with the guest's paging on they are host-physical (the CPU walks
   * the shadow, whose entries hold HPAs); with it off they are guest-physical, through the
   * identity shadow. Returns the page entry, or -1 for an identity-shadow miss (the caller exits).
   */
  pageEntry(address: number, access: number): number {
    if (this.cpu.st[S_CR0] & CR0_PG) return (address & ~0xfff) | PAGE_RAM;
    return this.mmu.identityEntry(address, access === ACCESS_WRITE);
  }

  /** The #PF error code of an identity-shadow miss: the access's W/R and U/S. */
  identityMissErrorCode(access: number): number {
    return (access === ACCESS_WRITE ? PF_WRITE : 0) | (this.cpu.st[S_CPL] === 3 ? PF_USER : 0);
  }

  /**
   * A #PF exit. Returns what the vCPU does: 'resume' (filled), 'inject' (the guest's own fault),
   * or 'emulate' with the guest table page written (or -1 for MMIO and ROM).
   */
  pageFault(gva: number, errorCode: number): { action: 'resume' } | { action: 'inject'; errorCode: number } | { action: 'emulate'; tablePage: number } {
    const result = this.mmu.handleFault(gva, errorCode, this.guestPagingOn ? this.guestPaging : null);
    if (result.kind === 'filled') return { action: 'resume' };
    if (result.kind === 'emulate') return { action: 'emulate', tablePage: result.tablePage };
    // The guest's own page fault: CR2, and the #PF with the guest's error code for the vCPU to inject.
    this.cpu.st[S_CR2] = gva;
    return { action: 'inject', errorCode: result.errorCode };
  }

  /** MOV to CR3: the guest's value is kept, its shadow becomes the real root. */
  loadCr3(value: number): void {
    this.guestCr3 = value & 0xfffff018;
    this.apply();
  }

  /**
   * After a CR0/CR4 write changed host-owned bits (the read shadows hold the guest's new values):
   * WP and PSE change what shadows may hold, so they are all dropped; PG switches shadows.
   */
  controlsChanged(oldCr0Shadow: number, oldCr4Shadow: number): void {
    const cr0 = this.vmcs.read(Field.CR0_READ_SHADOW);
    const cr4 = this.vmcs.read(Field.CR4_READ_SHADOW);
    if ((cr0 ^ oldCr0Shadow) & CR0_WP || (cr4 ^ oldCr4Shadow) & CR4_PSE) this.mmu.reset();
    this.apply();
  }

  /**
   * The A20 gate opened or closed: every shadow entry was built through the gate as it was (bit 20
   * of the guest-physical addresses it formed), so they all go, as the CPU's TLB does.
   */
  a20Changed(): void {
    this.mmu.reset();
    this.apply();
    // The gate moves in the middle of the guest's OUT, with the CPU holding the guest's state:
    // it walks the new root from the next access on (the old one is freed).
    this.cpu.st[S_CR3] = this.vmcs.read(Field.GUEST_CR3) | 0;
  }

  /**
   * Runs `body` (one instruction) on the guest's own tables: the real CR0/CR3/CR4 are the
   * guest's for its duration, so the CPU walks them (setting their A/D bits) and its physical
   * accesses are guest-physical. How the VMM emulates an access the shadow cannot map.
   */
  runOnGuestTables<T>(body: () => T): T {
    const st = this.cpu.st;
    const saved: SavedControls = { cr0: st[S_CR0], cr3: st[S_CR3], cr4: st[S_CR4] };
    const v = this.vmcs;
    st[S_CR0] = (saved.cr0 & ~CR0_HOST_OWNED) | (v.read(Field.CR0_READ_SHADOW) & CR0_HOST_OWNED);
    st[S_CR3] = this.guestCr3;
    st[S_CR4] = (saved.cr4 & ~CR4_HOST_OWNED) | (v.read(Field.CR4_READ_SHADOW) & CR4_HOST_OWNED);
    this.cpu.hostPaging = false;
    this.cpu.flushTlb();
    try {
      return body();
    } finally {
      st[S_CR0] = saved.cr0;
      st[S_CR3] = saved.cr3;
      st[S_CR4] = saved.cr4;
      this.cpu.hostPaging = this.guestPagingOn;
      this.cpu.flushTlb();
    }
  }
}
