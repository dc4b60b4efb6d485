/**
 * The vCPU's side of paravirtual paging (see pv-mmu.ts for the rules). The guest's paging is its
 * own, with machine frames in its tables, but every change goes through the VMM:
 * - MOV to CR3 exits and is refused with #GP(0): the guest loads CR3 with a hypercall; MOV from
 *   CR3 reads the machine address of its directory;
 * - CR0.PG goes on only over a pinned directory loaded that way; CR0.WP is always on for real
 *   (so the kernel cannot write its read-only mapped tables either) and CR4.PSE is refused;
 * - while its paging is off (real mode, the BIOS, a kernel building its first tables) the guest
 *   reaches its memory pseudo-physically, through the P2M, and a write to a pinned table is
 *   refused with #GP(0).
 */
import type { Cpu } from '../cpu/cpu.ts';
import { ACCESS_WRITE } from '../cpu/guest-physical.ts';
import { PAGE_RAM, type PhysicalMemory } from '../cpu/physical-memory.ts';
import { CR0_PG, CR0_WP, S_CR0 } from '../cpu/state.ts';
import { PvMmu } from './pv-mmu.ts';
import { CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, Field, INTR_INFO_DELIVER_ERROR_CODE, INTR_INFO_VALID, INTR_TYPE_HARDWARE_EXCEPTION, type Vmcs } from './vmcs.ts';

const CR4_PSE = 1 << 4;
const CR0_HOST_OWNED = CR0_PG | CR0_WP;
const GP = 13;

/** PvPaging.pageEntry's answer for an access the VMM refuses (page entries are -1 or more). */
export const REFUSED = -2;

export class PvPaging {
  readonly mmu: PvMmu;
  /** Writes refused because they went to a pinned table while the guest's paging was off. */
  refusedWrites = 0;
  /** Instructions refused with #GP (a MOV to CR3, paging turned on without a pinned directory), and the last one's why. */
  refusedInstructions = 0;
  lastRefusedInstruction = '';

  constructor(
    private readonly cpu: Cpu,
    memory: PhysicalMemory,
    private readonly vmcs: Vmcs,
    ramBytes: number,
  ) {
    this.mmu = new PvMmu(memory, memory.hostMemory, Math.ceil(ramBytes / 4096));
  }

  configure(): void {
    const v = this.vmcs;
    v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING, true);
    v.write(Field.CR0_GUEST_HOST_MASK, CR0_HOST_OWNED);
    v.write(Field.CR4_GUEST_HOST_MASK, CR4_PSE);
    v.write(Field.CR0_READ_SHADOW, v.read(Field.GUEST_CR0) & CR0_HOST_OWNED);
    v.write(Field.CR4_READ_SHADOW, v.read(Field.GUEST_CR4) & CR4_PSE);
    this.apply();
  }

  get guestPagingOn(): boolean {
    return (this.vmcs.read(Field.CR0_READ_SHADOW) & CR0_PG) !== 0;
  }

  /** The real CR0/CR3 from the guest's: paging on over its base pointer, with WP; or off. */
  private apply(): void {
    const v = this.vmcs;
    const realCr0 = v.read(Field.GUEST_CR0) & ~CR0_HOST_OWNED;
    if (this.guestPagingOn) {
      v.write(Field.GUEST_CR0, (realCr0 | CR0_PG | CR0_WP) >>> 0);
      v.write(Field.GUEST_CR3, this.mmu.baseMachineAddress >>> 0);
    } else {
      v.write(Field.GUEST_CR0, realCr0 >>> 0);
    }
    this.cpu.hostPaging = this.guestPagingOn;
    this.cpu.flushTlb();
  }

  /**
   * The CPU's physical accesses: machine addresses while the guest's paging is on (its tables
   * hold machine frames; validation keeps them the guest's own), pseudo-physical while it is off.
   * Returns REFUSED for an access the VMM refuses (the caller raises #GP); PAGE_UNMAPPED (-1) is
   * an address with nothing behind it, as on the bare machine.
   */
  pageEntry(address: number, access: number, memory: PhysicalMemory): number {
    if (this.cpu.st[S_CR0] & CR0_PG) {
      const mfn = address >>> 12;
      // Unreachable while the rules hold: a walk only finds the guest's frames.
      if (!this.mmu.owns(mfn)) throw new Error(`paravirtual guest reached machine frame 0x${mfn.toString(16)}, which is not its own`);
      return (address & ~0xfff) | PAGE_RAM;
    }
    const entry = memory.backedEntry(address);
    if (access === ACCESS_WRITE && (entry & 3) === PAGE_RAM && this.mmu.isPinned(entry >>> 12)) {
      this.refusedWrites++;
      return REFUSED;
    }
    return entry;
  }

  /** Refuses what the guest did with #GP(0), injected at the next entry; `why` is for people (--stats, the run's report). */
  injectGeneralProtection(why: string): void {
    this.refusedInstructions++;
    this.lastRefusedInstruction = why;
    this.vmcs.write(Field.VM_ENTRY_INTR_INFO_FIELD, GP | INTR_TYPE_HARDWARE_EXCEPTION | INTR_INFO_VALID | INTR_INFO_DELIVER_ERROR_CODE);
    this.vmcs.write(Field.VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
  }

  /**
   * A CR0/CR4 write that changed host-owned bits (the read shadows already hold the new values).
   * Returns false when it must be refused (#GP): paging on without a pinned directory, or PSE.
   */
  controlsChanged(oldCr0Shadow: number, oldCr4Shadow: number): boolean {
    const v = this.vmcs;
    const refuse = (v.read(Field.CR4_READ_SHADOW) & CR4_PSE) !== 0 || (this.guestPagingOn && this.mmu.baseMachineAddress < 0);
    if (refuse) {
      v.write(Field.CR0_READ_SHADOW, oldCr0Shadow);
      v.write(Field.CR4_READ_SHADOW, oldCr4Shadow);
      return false;
    }
    this.apply();
    return true;
  }

  /** After a successful new-base hypercall: the real CR3 follows when paging is on. */
  baseChanged(): void {
    this.cpu.cr3Loads++;
    this.apply();
  }

  /** After updates or pins: no translation cached from before may survive (it could be writable). */
  flush(): void {
    this.cpu.flushTlb();
  }
}
