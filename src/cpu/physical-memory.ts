/**
 * Physical memory as the CPU sees it: RAM, read-only ROM and MMIO regions, one entry per
 * 4 KiB physical page. RAM and ROM bytes live in the host's frame pool (HostMemory); a page
 * entry holds the page's host-physical address (page-aligned) with the page kind in the low
 * bits, so that the CPU's TLB can cache it as it is. A slot page nothing has touched yet has
 * no frame: its entry is PAGE_LAZY with the HVA, and the first write (or CPU access) backs it.
 * Pages with no region read as all ones and ignore writes, as on a PC.
 *
 * This is the CPU's view of the bus only. Who decides the layout (memory slots, the BIOS
 * ROM, devices) is the machine layer's business.
 */

import { snapshotRules } from './state-graph.ts';
import { HostMemory, NO_FRAME } from './host-memory.ts';
import { recycle, zeroedInt32Array, zeroedUint8Array } from './recycled-buffers.ts';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_COUNT = 1 << 20; // 4 GiB of physical address space

/** Page kinds, in the low bits of a page entry. */
export const PAGE_RAM = 0;
export const PAGE_ROM = 1;
export const PAGE_MMIO = 2;
/** A slot page with no host frame yet: the entry holds its HVA. Reads see zeros; the first write backs it. */
export const PAGE_LAZY = 3;
const PAGE_KIND_MASK = 3;
/** The entry of a page with nothing behind it. */
export const PAGE_UNMAPPED = -1;

/** A device region answering memory accesses (VGA text buffer, APIC, ...). */
export interface MmioHandler {
  read(address: number, size: 1 | 2 | 4): number;
  write(address: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * A memory slot, as KVM_SET_USER_MEMORY_REGION describes one: `size` bytes of guest-physical
 * address space from `guestPhysAddr` are backed by host memory from `userspaceAddr` (here an
 * offset in the host buffer: the VMM's virtual address, HVA). Two slots may share host memory
 * (the BIOS and its alias below 4 GiB); guest-physical ranges may not overlap.
 */
export interface MemorySlot {
  slot: number;
  guestPhysAddr: number;
  size: number;
  userspaceAddr: number;
  readOnly: boolean;
  /** What the slot is, for people: "conventional RAM", "BIOS ROM". */
  label: string;
  /**
   * The VMM's own pages, as KVM's private memslots for the identity table and the TSS of a CPU
   * without "unrestricted guest": listed with the slots and kept clear of them, but not guest
   * memory — no guest-physical access reaches them through the machine or `slotAt`; the VMM maps
   * them itself where its CPU must reach them (restricted-guest.ts).
   */
  vmmPrivate?: boolean;
}

/** The frame pool's largest size: host offsets must stay below 2^31 (TLB entries are int32). */
export const MAX_HOST_BYTES = 0x7fff_f000;

export class PhysicalMemory {
  /** The host: its frame pool and the VMM process's address space, where slots point. */
  readonly hostMemory: HostMemory;
  /** The frame pool, indexed by host-physical address (a page entry's address). */
  readonly host: Uint8Array;
  readonly hostView: DataView;
  /**
   * One entry per guest-physical page: host offset | kind, or PAGE_UNMAPPED. Derived from the
   * slots and MMIO regions; the slots are the truth (see `slotAt`). Stored inverted (~entry), so
   * that the array as allocated, all zeros, says "unmapped": filling 4 MiB with PAGE_UNMAPPED
   * touched every page of it and cost each start of a machine 12 ms.
   */
  private readonly invertedPages = zeroedInt32Array(PAGE_COUNT);
  private readonly memorySlots: MemorySlot[] = [];
  private readonly mmio: { base: number; size: number; handler: MmioHandler }[] = [];
  /** Called when a page's mapping changes, so that caches (the CPU's TLB) can drop it. */
  onMappingChange: (() => void) | null = null;
  /** Called when a slot is replaced or removed (the VMM drops what its EPT mapped there). */
  onSlotChange: ((old: MemorySlot) => void) | null = null;
  /**
   * Host pages that decoded code was taken from (the CPU's block cache). A write to one
   * calls `onCodeWrite` first, so that the cache drops what it decoded there.
   */
  readonly codePages: Uint8Array;
  onCodeWrite: ((hostPage: number) => void) | null = null;
  /**
   * When set, DMA into a host frame goes ahead only if this says yes (a paravirtual VMM keeps
   * devices from writing the guest's pinned page tables behind its back).
   */
  dmaAllowed: ((hostPage: number) => boolean) | null = null;

  /** @param hostBytes size of the host's frame pool, for RAM, ROM and the VMM's tables (a multiple of 4 KiB, below 2 GiB) */
  constructor(hostBytes: number) {
    if (hostBytes % PAGE_SIZE !== 0 || hostBytes <= 0) throw new RangeError(`host memory size ${hostBytes} is not a positive multiple of 4 KiB`);
    if (hostBytes > MAX_HOST_BYTES) throw new RangeError(`host memory of ${hostBytes} bytes is more than minivisor supports (2 GiB)`);
    this.hostMemory = new HostMemory(hostBytes);
    this.host = this.hostMemory.frames;
    this.hostView = this.hostMemory.view;
    this.codePages = zeroedUint8Array(this.host.length >>> PAGE_SHIFT);
  }

  /** Hands the page map and the host memory to the next memory made (Machine.dispose): this one must not be used again. */
  releaseBuffers(): void {
    recycle(this.invertedPages, this.codePages);
    this.hostMemory.releaseBuffers();
  }

  /** Memory with `ramBytes` of RAM in one slot from address 0: for tests and simple machines. */
  static withRam(ramBytes: number, extraHostBytes = 0): PhysicalMemory {
    const memory = new PhysicalMemory(ramBytes + extraHostBytes);
    memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, size: ramBytes, userspaceAddr: memory.allocateHost(ramBytes), readOnly: false, label: 'RAM' });
    return memory;
  }

  /** Reserves `bytes` of the VMM's address space for guest memory (mmap) and returns its HVA. Frames come on first touch. */
  allocateHost(bytes: number): number {
    return this.hostMemory.reserve(bytes);
  }

  /**
   * Adds, replaces or (with size 0) removes a slot, as KVM_SET_USER_MEMORY_REGION does.
   * Throws RangeError for a slot that is misaligned, outside host memory, or overlapping another.
   */
  setUserMemoryRegion(slot: MemorySlot): void {
    const existing = this.memorySlots.findIndex((s) => s.slot === slot.slot);
    if (existing >= 0) {
      const old = this.memorySlots[existing];
      this.memorySlots.splice(existing, 1);
      if (!old.vmmPrivate) this.fillPages(old.guestPhysAddr, old.size, PAGE_UNMAPPED, 0);
      this.onSlotChange?.(old);
    }
    if (slot.size === 0) {
      this.onMappingChange?.();
      return;
    }
    const end = slot.guestPhysAddr + slot.size;
    if (slot.guestPhysAddr % PAGE_SIZE !== 0 || slot.size % PAGE_SIZE !== 0 || slot.userspaceAddr % PAGE_SIZE !== 0) {
      throw new RangeError(`slot ${slot.slot} (${slot.label}) is not page-aligned`);
    }
    if (end > 2 ** 32) throw new RangeError(`slot ${slot.slot} (${slot.label}) ends past 4 GiB`);
    if (slot.userspaceAddr < 0 || slot.userspaceAddr + slot.size > this.hostMemory.reservedBytes) throw new RangeError(`slot ${slot.slot} (${slot.label}) is outside the host memory reserved for guests`);
    const clash = this.memorySlots.find((s) => slot.guestPhysAddr < s.guestPhysAddr + s.size && s.guestPhysAddr < end);
    if (clash) throw new RangeError(`slot ${slot.slot} (${slot.label}) overlaps slot ${clash.slot} (${clash.label}) at ${hex(Math.max(slot.guestPhysAddr, clash.guestPhysAddr))}`);
    this.memorySlots.push({ ...slot });
    this.memorySlots.sort((a, b) => a.guestPhysAddr - b.guestPhysAddr);
    if (slot.vmmPrivate) return;
    this.fillPages(slot.guestPhysAddr, slot.size, slot.userspaceAddr, slot.readOnly ? PAGE_ROM : PAGE_RAM);
    this.onMappingChange?.();
  }

  /** The MMIO regions: base, size and the device's class name (for the debugger's `info slots`). */
  get mmioRegions(): { base: number; size: number; device: string }[] {
    return this.mmio.map((m) => ({ base: m.base, size: m.size, device: m.handler.constructor.name }));
  }

  /** The slots, in address order. */
  get slots(): readonly MemorySlot[] {
    return this.memorySlots;
  }

  /** The guest-memory slot holding guest-physical `address` (GPA → slot → HVA is `userspaceAddr + (address - guestPhysAddr)`); never a private one. */
  slotAt(address: number): MemorySlot | undefined {
    const a = address >>> 0;
    return this.memorySlots.find((s) => a >= s.guestPhysAddr && a < s.guestPhysAddr + s.size && !s.vmmPrivate);
  }

  /** Copies `image` into host memory and maps it read-only at `address`, as firmware ROM. */
  mapRom(slot: number, address: number, image: Uint8Array, label: string): MemorySlot {
    const size = Math.ceil(image.length / PAGE_SIZE) * PAGE_SIZE;
    const userspaceAddr = this.allocateHost(size);
    for (let off = 0; off < image.length; off += PAGE_SIZE) {
      this.host.set(image.subarray(off, off + PAGE_SIZE), this.hostMemory.touch(userspaceAddr + off));
    }
    const region = { slot, guestPhysAddr: address, size, userspaceAddr, readOnly: true, label };
    this.setUserMemoryRegion(region);
    return region;
  }

  /** Routes accesses to `size` bytes at `address` (page-aligned) to a device. */
  mapMmio(address: number, size: number, handler: MmioHandler): void {
    const index = this.mmio.length;
    this.mmio.push({ base: address, size, handler });
    // Every page of the region names the region (its index), not a host offset.
    for (let off = 0; off < size; off += PAGE_SIZE) this.setEntry((address + off) / PAGE_SIZE, (index << PAGE_SHIFT) | PAGE_MMIO);
    this.onMappingChange?.();
  }

  /** The entry of guest-physical page `page` (see invertedPages). */
  private entry(page: number): number {
    return ~this.invertedPages[page];
  }

  private setEntry(page: number, entry: number): void {
    this.invertedPages[page] = ~entry;
  }

  /** Points the entries of a slot's pages at its host memory: frames where the HVA has one, else PAGE_LAZY. */
  private fillPages(address: number, size: number, hva: number, kind: number): void {
    const first = address / PAGE_SIZE;
    const count = size / PAGE_SIZE;
    if (hva === PAGE_UNMAPPED) {
      this.invertedPages.fill(~PAGE_UNMAPPED, first, first + count);
    } else if (!this.hostMemory.anyFrameIn(hva, size)) {
      // The usual case, RAM just reserved: every page PAGE_LAZY. A loop without calls, since a
      // machine's start fills its 32 MiB (8192 pages) before V8 has optimized anything.
      for (let i = 0; i < count; i++) this.invertedPages[first + i] = ~((hva + i * PAGE_SIZE) | PAGE_LAZY);
    } else {
      for (let off = 0; off < size; off += PAGE_SIZE) {
        const frame = this.hostMemory.frameOf(hva + off);
        this.setEntry((address + off) / PAGE_SIZE, frame === NO_FRAME ? (hva + off) | PAGE_LAZY : frame | kind);
      }
    }
  }

  /**
   * The entry of the page holding `address`, with a host frame behind it if it is a slot page
   * (backing it now, on its first touch). What the CPU caches in its TLB, and writes use.
   */
  backedEntry(address: number): number {
    return this.resolve(address, true);
  }

  /**
   * A PAGE_LAZY entry made current: the frame its HVA got meanwhile (through this slot, an
   * alias of it, or the VMM's EPT), or a new frame when `back`; else it stays PAGE_LAZY.
   */
  private resolve(address: number, back: boolean): number {
    const page = address >>> PAGE_SHIFT;
    const entry = this.entry(page);
    if (entry === PAGE_UNMAPPED || (entry & PAGE_KIND_MASK) !== PAGE_LAZY) return entry;
    const hva = entry & ~(PAGE_SIZE - 1);
    let frame = this.hostMemory.frameOf(hva);
    if (frame === NO_FRAME) {
      if (!back) return entry;
      frame = this.hostMemory.touch(hva);
    }
    const resolved = frame | (this.slotAt(address)?.readOnly ? PAGE_ROM : PAGE_RAM);
    this.setEntry(page, resolved);
    return resolved;
  }

  /** Kind of the page holding `address`: PAGE_RAM, PAGE_ROM, PAGE_MMIO or PAGE_UNMAPPED. */
  kindAt(address: number): number {
    const entry = this.entry(address >>> PAGE_SHIFT);
    if (entry === PAGE_UNMAPPED) return PAGE_UNMAPPED;
    if ((entry & PAGE_KIND_MASK) === PAGE_LAZY) return this.slotAt(address)?.readOnly ? PAGE_ROM : PAGE_RAM;
    return entry & PAGE_KIND_MASK;
  }

  // Byte-wise slow path, used by the CPU for MMIO, unmapped and page-crossing accesses, and by
  // loaders and devices (DMA). The CPU's hot path goes through its TLB, not through here.

  read8(address: number): number {
    const entry = this.resolve(address, false);
    if (entry === PAGE_UNMAPPED) return 0xff;
    const kind = entry & PAGE_KIND_MASK;
    if (kind === PAGE_LAZY) return 0; // untouched memory reads as zeros (and stays without a frame)
    if (kind === PAGE_MMIO) return this.mmioRead(entry, address, 1);
    return this.host[(entry & ~(PAGE_SIZE - 1)) | (address & (PAGE_SIZE - 1))];
  }

  write8(address: number, value: number): void {
    const entry = this.backedEntry(address);
    if (entry === PAGE_UNMAPPED) return;
    const kind = entry & PAGE_KIND_MASK;
    if (kind === PAGE_RAM) {
      const offset = (entry & ~(PAGE_SIZE - 1)) | (address & (PAGE_SIZE - 1));
      if (this.codePages[offset >>> PAGE_SHIFT] !== 0) this.onCodeWrite?.(offset >>> PAGE_SHIFT);
      this.host[offset] = value;
    }
    else if (kind === PAGE_MMIO) this.mmioWrite(entry, address, 1, value & 0xff);
    // ROM: writes are ignored.
  }

  /** Reads `size` bytes (1, 2 or 4) little-endian; an MMIO page gets one access of that size. */
  read(address: number, size: 1 | 2 | 4): number {
    const entry = this.entry(address >>> PAGE_SHIFT);
    if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_MMIO && ((address & 0xfff) + size) <= PAGE_SIZE) {
      return this.mmioRead(entry, address, size);
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.read8((address + i) | 0) << (8 * i);
    return value;
  }

  write(address: number, size: 1 | 2 | 4, value: number): void {
    const entry = this.entry(address >>> PAGE_SHIFT);
    if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_MMIO && ((address & 0xfff) + size) <= PAGE_SIZE) {
      this.mmioWrite(entry, address, size, value);
      return;
    }
    for (let i = 0; i < size; i++) this.write8((address + i) | 0, value >>> (8 * i));
  }

  /** Copies bytes into physical memory, RAM and ROM alike (for loaders: the ROM is loaded by the machine, not the guest). */
  load(address: number, bytes: Uint8Array): void {
    // A page at a time: a loader's images are hundreds of KiB, and one lookup per byte showed in every test's start-up.
    for (let i = 0; i < bytes.length; ) {
      const a = address + i;
      const entry = this.backedEntry(a);
      if (entry === PAGE_UNMAPPED || (entry & PAGE_KIND_MASK) === PAGE_MMIO) {
        throw new RangeError(`cannot load ${bytes.length} bytes at ${hex(address)}: ${hex(a)} is not RAM`);
      }
      const offset = (entry & ~(PAGE_SIZE - 1)) | (a & (PAGE_SIZE - 1));
      const length = Math.min(bytes.length - i, PAGE_SIZE - (a & (PAGE_SIZE - 1)));
      if (this.codePages[offset >>> PAGE_SHIFT] !== 0) this.onCodeWrite?.(offset >>> PAGE_SHIFT);
      this.host.set(bytes.subarray(i, i + length), offset);
      i += length;
    }
  }

  /**
   * A device writing guest memory (DMA): RAM takes the bytes, read-only slots and holes drop
   * them, MMIO pages get byte writes. Returns how many bytes reached RAM.
   */
  dmaWrite(address: number, bytes: Uint8Array): number {
    let written = 0;
    let i = 0;
    while (i < bytes.length) {
      const a = (address + i) >>> 0;
      const chunk = Math.min(bytes.length - i, PAGE_SIZE - (a & (PAGE_SIZE - 1)));
      const entry = this.backedEntry(a);
      if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_RAM && (this.dmaAllowed === null || this.dmaAllowed(entry >>> PAGE_SHIFT))) {
        const offset = (entry & ~(PAGE_SIZE - 1)) | (a & (PAGE_SIZE - 1));
        if (this.codePages[offset >>> PAGE_SHIFT] !== 0) this.onCodeWrite?.(offset >>> PAGE_SHIFT);
        this.host.set(bytes.subarray(i, i + chunk), offset);
        written += chunk;
      } else if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_MMIO) {
        for (let k = 0; k < chunk; k++) this.write8(a + k, bytes[i + k]);
      }
      i += chunk;
    }
    return written;
  }

  /** Copies `length` bytes out of physical memory (unmapped bytes read as 0xFF). */
  dump(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8((address + i) | 0);
    return out;
  }

  private mmioRead(entry: number, address: number, size: 1 | 2 | 4): number {
    const region = this.mmio[entry >>> PAGE_SHIFT];
    return region.handler.read((address >>> 0) - region.base, size);
  }

  /** (Apart from reads: any value may be written, 0xFFFFFFFF too.) */
  private mmioWrite(entry: number, address: number, size: 1 | 2 | 4, value: number): void {
    const region = this.mmio[entry >>> PAGE_SHIFT];
    region.handler.write((address >>> 0) - region.base, size, value);
  }
}

export function hex(value: number, digits = 8): string {
  return '0x' + (value >>> 0).toString(16).toUpperCase().padStart(digits, '0');
}

// Which pages hold decoded code is the CPUs' caches' business (dropped with them on a load).
snapshotRules(PhysicalMemory, { transient: ['codePages'] });
