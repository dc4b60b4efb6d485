/**
 * Guest memory as the debugger reads it: through the guest's own page tables (read-only: no
 * accessed bits set, no exits, no frames allocated, nothing in the CPU's TLB), then the memory
 * slots. Linear addresses are the guest's (after segmentation); physical ones guest-physical
 * (a paravirtual guest's pseudo-physical). Unmapped bytes read as null.
 */
import { PageWalk } from '../cpu/page-walk.ts';
import { hex, PAGE_ROM, PAGE_UNMAPPED } from '../cpu/physical-memory.ts';
import type { Machine } from '../machine/machine.ts';
import type { CpuView } from './registers.ts';
import { guestPagingView, guestPhysicalOf, type GuestPagingView } from '../vmm/translate.ts';

export class GuestMemory {
  constructor(
    private readonly machine: Machine,
    /** The processor whose page tables linear addresses go through (default: the first). */
    private readonly processor: () => CpuView = () => machine,
  ) {}

  /** The guest's paging as it is now. */
  view(): GuestPagingView {
    const p = this.processor();
    return guestPagingView(p.cpu, this.machine.phys, p.vcpu);
  }

  /** The guest-physical address behind linear `lin`, or -1 when the guest's tables do not map it. */
  physical(lin: number, view = this.view(), walk?: PageWalk): number {
    return guestPhysicalOf(view, lin | 0, walk);
  }

  /** Whether a guest-physical byte has memory or a device behind it. */
  private backed(gpa: number): boolean {
    return this.machine.phys.kindAt(gpa) !== PAGE_UNMAPPED;
  }

  /** Bytes at a guest-physical address; null for a byte with nothing behind it. */
  readPhysical(gpa: number, length: number): (number | null)[] {
    const out: (number | null)[] = [];
    for (let i = 0; i < length; i++) {
      const a = (gpa + i) >>> 0;
      out.push(this.backed(a) ? this.machine.phys.read8(a) : null);
    }
    return out;
  }

  /** Bytes at a linear address; null for a byte the guest's tables do not map, or with nothing behind it. */
  readLinear(lin: number, length: number): (number | null)[] {
    const view = this.view();
    const out: (number | null)[] = [];
    let page = -1;
    let pageGpa = -1;
    for (let i = 0; i < length; i++) {
      const a = (lin + i) >>> 0;
      if (a >>> 12 !== page) {
        page = a >>> 12;
        pageGpa = this.physical(page << 12, view);
      }
      const gpa = pageGpa < 0 ? -1 : (pageGpa + (a & 0xfff)) >>> 0;
      out.push(gpa >= 0 && this.backed(gpa) ? this.machine.phys.read8(gpa) : null);
    }
    return out;
  }

  /** A little-endian value of 1, 2 or 4 bytes at a linear (or physical) address; null when a byte is unmapped. */
  readValue(address: number, bytes: number, physical = false): number | null {
    const data = physical ? this.readPhysical(address, bytes) : this.readLinear(address, bytes);
    let value = 0;
    for (let i = 0; i < bytes; i++) {
      const b = data[i];
      if (b === null) return null;
      value |= b << (8 * i);
    }
    return bytes === 4 ? value >>> 0 : value;
  }

  /**
   * Writes bytes at a linear (or physical) address, for the user's `set` on memory: through
   * the guest's tables, into RAM or a device. Returns null when every byte was written, else
   * why not (nothing is written unless every byte can be: ROM keeps its bytes, as for the guest).
   */
  write(address: number, bytes: number[], physical = false): string | null {
    const view = this.view();
    const targets: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const a = (address + i) >>> 0;
      const gpa = physical ? a : this.physical(a, view);
      if (gpa < 0) return `${hex(a)} is not mapped by the guest's page tables`;
      const kind = this.machine.phys.kindAt(gpa);
      if (kind === PAGE_ROM) return `physical ${hex(gpa)} is ROM: it keeps its bytes`;
      if (kind === PAGE_UNMAPPED) return `physical ${hex(gpa)} has no memory behind it`;
      targets.push(gpa);
    }
    targets.forEach((gpa, i) => this.machine.phys.write8(gpa, bytes[i]));
    for (const p of this.machine.processors) p.cpu.resumeInsn = null; // an instruction stopped part-way is fetched again: its bytes may be these
    return null;
  }
}
