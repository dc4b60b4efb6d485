/**
 * APIC virtualization (SDM Vol. 3, chapter 29), as KVM runs a guest whose local APIC it
 * emulates itself (its in-kernel LAPIC) on a CPU with APICv: "virtualize APIC accesses",
 * "use TPR shadow" and "APIC-register virtualization". The guest's APIC page (0xFEE00000)
 * maps, through the EPT or the shadow, to the VM's APIC-access page; the CPU does not read
 * that frame but virtualizes each access to it:
 *
 * - a read of a register the SDM lists (29.4.2: ID, version, TPR, EOI, LDR, DFR, SVR, ISR,
 *   TMR, IRR, ESR, ICR, LVT, initial count, divide) comes from the virtual-APIC page with no
 *   VM exit. The virtual-APIC page is the vCPU's local APIC model itself, as KVM keeps its
 *   in-kernel LAPIC's registers in that page; so VIRTUAL_APIC_PAGE_ADDR names no frame here.
 * - a write to a register the SDM lists (29.4.3.1) goes to the virtual-APIC page; then, after
 *   the instruction, APIC-write emulation: TPR virtualization for the TPR (with a threshold
 *   of 0 it never exits), nothing more for ICR high, and an APIC-write VM exit (trap-like,
 *   reason 56) for the rest, whose handler makes the write take effect (an EOI, an IPI).
 * - anything else (a read of the current count, an unaligned or straddling access, a write
 *   narrower than a register, a fetch, a page-table walk through the page) is an APIC-access
 *   VM exit (fault-like, reason 44), completed as MMIO.
 *
 * So xv6's `lapic[ID]` in every mycpu() costs no exit, and its EOIs one each.
 */
import type { MmioHandler, PhysicalMemory } from '../cpu/physical-memory.ts';

/** Where the guest finds its local APIC (IA32_APIC_BASE at reset). */
export const APIC_GUEST_PHYSICAL = 0xfee00000;

const TPR = 0x80, ICR_HIGH = 0x310;

/** Registers (16-byte aligned offsets) whose reads are virtualized with APIC-register virtualization (SDM 29.4.2). */
const VIRTUALIZED_READS = new Set([
  0x20, 0x30, 0x80, 0xb0, 0xd0, 0xe0, 0xf0,
  0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0x160, 0x170, // ISR
  0x180, 0x190, 0x1a0, 0x1b0, 0x1c0, 0x1d0, 0x1e0, 0x1f0, // TMR
  0x200, 0x210, 0x220, 0x230, 0x240, 0x250, 0x260, 0x270, // IRR
  0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0,
]);

/** Registers whose writes are virtualized (SDM 29.4.3.1). */
const VIRTUALIZED_WRITES = new Set([0x20, 0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0]);

/** APIC-access exit qualification, bits 15:12 (SDM Table 28-6): how the page was reached. */
export const APIC_ACCESS_READ = 0, APIC_ACCESS_WRITE = 1, APIC_ACCESS_FETCH = 2, APIC_ACCESS_GUEST_PHYSICAL = 15;

/** What a virtualized write leaves for after the instruction. */
export const WRITE_DONE = 0, WRITE_NEEDS_EXIT = 1;

export class ApicVirtualization {
  /** The register value an APIC-write exit is to apply (the write went to the virtual-APIC page). */
  pendingWrite = 0;

  constructor(
    /** The vCPU's local APIC: its registers are the virtual-APIC page. */
    readonly apic: MmioHandler,
    /** The VM's APIC-access page (host-physical), the frame the guest's APIC page maps to. */
    readonly accessPage: number,
  ) {}

  /** A read at `offset` of `bytes` bytes: its value, or -1 when it is not virtualized (an APIC-access exit). */
  read(offset: number, bytes: number): number {
    const register = offset & 0xff0;
    if ((offset & 15) + bytes > 4 || !VIRTUALIZED_READS.has(register)) return -1;
    const value = this.apic.read(APIC_GUEST_PHYSICAL + register, 4) >>> ((offset & 3) * 8);
    return bytes === 4 ? value >>> 0 : value & (bytes === 2 ? 0xffff : 0xff);
  }

  /**
   * A write at `offset`: false when it is not virtualized (an APIC-access exit); else the
   * virtual-APIC page takes it, and WRITE_NEEDS_EXIT says an APIC-write exit must follow.
   */
  write(offset: number, bytes: number, value: number): false | typeof WRITE_DONE | typeof WRITE_NEEDS_EXIT {
    const register = offset & 0xff0;
    // A whole register at once only: a narrower write exits, and the machine's APIC model takes it
    // as the bare machine's does (the APIC's registers are 32-bit; the SDM leaves the rest undefined).
    if (offset !== register || bytes !== 4 || !VIRTUALIZED_WRITES.has(register)) return false;
    if (register === TPR || register === ICR_HIGH) {
      // TPR virtualization (below a threshold of 0 never) and ICR high: no exit, only the page changes.
      this.apic.write(APIC_GUEST_PHYSICAL + register, 4, value);
      return WRITE_DONE;
    }
    this.pendingWrite = value;
    return WRITE_NEEDS_EXIT;
  }

  /** The APIC-write exit's handler (KVM's handle_apic_write): the write at `offset` takes effect. */
  completeWrite(offset: number): void {
    this.apic.write(APIC_GUEST_PHYSICAL + (offset & 0xff0), 4, this.pendingWrite);
  }
}

/** The APIC-access page of each VM (one for all its vCPUs, as KVM allocates one per VM). */
const accessPages = new WeakMap<PhysicalMemory, number>();

export function apicAccessPageOf(memory: PhysicalMemory): number {
  let page = accessPages.get(memory);
  if (page === undefined) {
    page = memory.hostMemory.allocateFrame();
    accessPages.set(memory, page);
  }
  return page;
}
