/**
 * Physical memory as the CPU sees it: RAM, read-only ROM and MMIO regions, one entry per
 * 4 KiB physical page. RAM and ROM bytes live in one host buffer; a page entry holds the
 * page's host offset (page-aligned) with the page kind in the low bits, so that the CPU's TLB
 * can cache it as it is. Pages with no region read as all ones and ignore writes, as on a PC.
 *
 * This is the CPU's view of the bus only. Who decides the layout (memory slots, the BIOS
 * ROM, devices) is the machine layer's business.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_COUNT = 1 << 20; // 4 GiB of physical address space

/** Page kinds, in the low bits of a page entry. */
export const PAGE_RAM = 0;
export const PAGE_ROM = 1;
export const PAGE_MMIO = 2;
const PAGE_KIND_MASK = 3;
/** The entry of a page with nothing behind it. */
export const PAGE_UNMAPPED = -1;

/** A device region answering memory accesses (VGA text buffer, APIC, ...). */
export interface MmioHandler {
  read(address: number, size: 1 | 2 | 4): number;
  write(address: number, size: 1 | 2 | 4, value: number): void;
}

export class PhysicalMemory {
  /** RAM and ROM bytes. A page entry's host offset indexes this buffer. */
  readonly host: Uint8Array;
  readonly hostView: DataView;
  /** One entry per physical page: host offset | kind, or PAGE_UNMAPPED. */
  readonly pages = new Int32Array(PAGE_COUNT).fill(PAGE_UNMAPPED);
  private readonly mmio: { base: number; size: number; handler: MmioHandler }[] = [];
  /** Next free host offset for ROM images (RAM takes the start of the buffer). */
  private romCursor: number;
  /** Called when a page's mapping changes, so that caches (the CPU's TLB) can drop it. */
  onMappingChange: (() => void) | null = null;
  /**
   * Host pages that decoded code was taken from (the CPU's block cache). A write to one
   * calls `onCodeWrite` first, so that the cache drops what it decoded there.
   */
  readonly codePages: Uint8Array;
  onCodeWrite: ((hostPage: number) => void) | null = null;

  /**
   * @param ramSize bytes of RAM mapped from physical address 0 (a multiple of 4 KiB)
   * @param romSpace host bytes reserved for ROM images
   */
  constructor(readonly ramSize: number, romSpace = 512 * 1024) {
    if (ramSize % PAGE_SIZE !== 0 || ramSize <= 0) throw new RangeError(`RAM size ${ramSize} is not a positive multiple of 4 KiB`);
    if (ramSize + romSpace > 0x7fff_f000) throw new RangeError(`RAM size ${ramSize} is larger than minivisor supports (2 GiB)`);
    this.host = new Uint8Array(ramSize + romSpace);
    this.hostView = new DataView(this.host.buffer);
    this.codePages = new Uint8Array(this.host.length >>> PAGE_SHIFT);
    for (let p = 0; p < ramSize >>> PAGE_SHIFT; p++) this.pages[p] = (p << PAGE_SHIFT) | PAGE_RAM;
    this.romCursor = ramSize;
  }

  /** Maps `image` read-only at physical `address` (page-aligned), over whatever was there. */
  mapRom(address: number, image: Uint8Array): void {
    const size = Math.ceil(image.length / PAGE_SIZE) * PAGE_SIZE;
    if (address % PAGE_SIZE !== 0) throw new RangeError(`ROM address ${hex(address)} is not page-aligned`);
    if (this.romCursor + size > this.host.length) throw new RangeError('no host space left for ROM images');
    const hostOffset = this.romCursor;
    this.romCursor += size;
    this.host.set(image, hostOffset);
    this.setPages(address, size, hostOffset, PAGE_ROM);
  }

  /** Makes `size` bytes at `alias` show the same ROM or RAM pages as `target` (the BIOS below 4 GiB). */
  alias(alias: number, target: number, size: number): void {
    for (let off = 0; off < size; off += PAGE_SIZE) {
      this.pages[((alias + off) >>> PAGE_SHIFT) & (PAGE_COUNT - 1)] = this.pages[(target + off) >>> PAGE_SHIFT];
    }
    this.onMappingChange?.();
  }

  /** Routes accesses to `size` bytes at `address` (page-aligned) to a device. */
  mapMmio(address: number, size: number, handler: MmioHandler): void {
    const index = this.mmio.length;
    this.mmio.push({ base: address, size, handler });
    this.setPages(address, size, index << PAGE_SHIFT, PAGE_MMIO);
  }

  private setPages(address: number, size: number, hostOffset: number, kind: number): void {
    for (let off = 0; off < size; off += PAGE_SIZE) {
      this.pages[(address + off) >>> PAGE_SHIFT] = (hostOffset + off) | kind;
    }
    this.onMappingChange?.();
  }

  /** Kind of the page holding `address`: PAGE_RAM, PAGE_ROM, PAGE_MMIO or PAGE_UNMAPPED. */
  kindAt(address: number): number {
    const entry = this.pages[address >>> PAGE_SHIFT];
    return entry === PAGE_UNMAPPED ? PAGE_UNMAPPED : entry & PAGE_KIND_MASK;
  }

  // Byte-wise slow path, used by the CPU for MMIO, unmapped and page-crossing accesses, and by
  // loaders and devices (DMA). The CPU's hot path goes through its TLB, not through here.

  read8(address: number): number {
    const entry = this.pages[address >>> PAGE_SHIFT];
    if (entry === PAGE_UNMAPPED) return 0xff;
    const offset = (entry & ~(PAGE_SIZE - 1)) | (address & (PAGE_SIZE - 1));
    if ((entry & PAGE_KIND_MASK) === PAGE_MMIO) return this.mmioAccess(entry, address, 1, -1);
    return this.host[offset];
  }

  write8(address: number, value: number): void {
    const entry = this.pages[address >>> PAGE_SHIFT];
    if (entry === PAGE_UNMAPPED) return;
    const kind = entry & PAGE_KIND_MASK;
    if (kind === PAGE_RAM) {
      const offset = (entry & ~(PAGE_SIZE - 1)) | (address & (PAGE_SIZE - 1));
      if (this.codePages[offset >>> PAGE_SHIFT] !== 0) this.onCodeWrite?.(offset >>> PAGE_SHIFT);
      this.host[offset] = value;
    }
    else if (kind === PAGE_MMIO) this.mmioAccess(entry, address, 1, value & 0xff);
    // ROM: writes are ignored.
  }

  /** Reads `size` bytes (1, 2 or 4) little-endian; an MMIO page gets one access of that size. */
  read(address: number, size: 1 | 2 | 4): number {
    const entry = this.pages[address >>> PAGE_SHIFT];
    if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_MMIO && ((address & 0xfff) + size) <= PAGE_SIZE) {
      return this.mmioAccess(entry, address, size, -1);
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.read8((address + i) | 0) << (8 * i);
    return value;
  }

  write(address: number, size: 1 | 2 | 4, value: number): void {
    const entry = this.pages[address >>> PAGE_SHIFT];
    if (entry !== PAGE_UNMAPPED && (entry & PAGE_KIND_MASK) === PAGE_MMIO && ((address & 0xfff) + size) <= PAGE_SIZE) {
      this.mmioAccess(entry, address, size, value);
      return;
    }
    for (let i = 0; i < size; i++) this.write8((address + i) | 0, value >>> (8 * i));
  }

  /** Copies bytes into physical memory, RAM and ROM alike (for loaders: the ROM is loaded by the machine, not the guest). */
  load(address: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const a = address + i;
      const entry = this.pages[a >>> PAGE_SHIFT];
      if (entry === PAGE_UNMAPPED || (entry & PAGE_KIND_MASK) === PAGE_MMIO) {
        throw new RangeError(`cannot load ${bytes.length} bytes at ${hex(address)}: ${hex(a)} is not RAM`);
      }
      const offset = (entry & ~(PAGE_SIZE - 1)) | (a & (PAGE_SIZE - 1));
      if (this.codePages[offset >>> PAGE_SHIFT] !== 0) this.onCodeWrite?.(offset >>> PAGE_SHIFT);
      this.host[offset] = bytes[i];
    }
  }

  /** Copies `length` bytes out of physical memory (unmapped bytes read as 0xFF). */
  dump(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8((address + i) | 0);
    return out;
  }

  private mmioAccess(entry: number, address: number, size: 1 | 2 | 4, value: number): number {
    const region = this.mmio[entry >>> PAGE_SHIFT];
    const offset = (address >>> 0) - region.base;
    if (value === -1) return region.handler.read(offset, size);
    region.handler.write(offset, size, value);
    return 0;
  }
}

export function hex(value: number, digits = 8): string {
  return '0x' + (value >>> 0).toString(16).toUpperCase().padStart(digits, '0');
}
