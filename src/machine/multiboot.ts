/**
 * Loading a Multiboot (v1) kernel as the Multiboot specification 0.6.96 says: find the header
 * in the first 8 KiB, load the ELF's loadable segments (or, with header flag 16, the a.out
 * kludge's addresses), and build the information structure with the memory map. The BIOS then
 * enters the kernel in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the structure.
 */
import { PAGE_MMIO, PAGE_RAM, PAGE_ROM, PAGE_SIZE, hex, type PhysicalMemory } from '../cpu/physical-memory.ts';
import { PT_LOAD, isElf, parseElf32 } from './elf.ts';
import { ItemWriter } from './devices/fw-cfg.ts';
import { CONVENTIONAL_END, EBDA_BASE, contiguousExtendedBytes, type E820Entry } from './pc-memory.ts';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
const SEARCH_BYTES = 8192;
const FLAG_AOUT_KLUDGE = 1 << 16;

/**
 * Where the information structure, the memory map and the strings go when the kernel leaves
 * that place free (every kernel linked at 1 MiB does): 0x9000, QEMU's MULTIBOOT_STRUCT_ADDR.
 * See writeMultibootInfo for where they go otherwise.
 */
export const MULTIBOOT_INFO_ADDRESS = 0x9000;

/** A range of guest-physical addresses, [base, end), and what is there. */
export interface MemoryArea {
  base: number;
  end: number;
  what: string;
}

/**
 * The RAM the BIOS writes between loading the kernel and entering it (measured: POST fills
 * the IVT, the BDA and the EBDA; its stack, from 0x7C00 down, is under 0x50 bytes deep when it
 * jumps to the kernel, and 3 KiB are kept for it). A kernel loaded over them would be
 * overwritten before its first instruction, so it is refused, and the information structure
 * keeps clear of them too. (The 640 KiB-1 MiB hole and the BIOS ROM are not RAM: the RAM check
 * refuses them.)
 */
export const FIRMWARE_AREAS: readonly MemoryArea[] = [
  { base: 0, end: 0x500, what: 'the interrupt vector table and BIOS data area' },
  { base: 0x7000, end: 0x7c00, what: "the BIOS's stack" },
  { base: EBDA_BASE, end: CONVENTIONAL_END, what: 'the extended BIOS data area' },
];

const FOUR_GIB = 2 ** 32;

/** An address for messages, 8 hex digits (more for one past 4 GiB: hex() would wrap it). */
function address(value: number): string {
  return value < FOUR_GIB ? hex(value) : '0x' + value.toString(16).toUpperCase();
}

/** [base, end) as messages show it: first and last byte. */
function range(base: number, end: number): string {
  return `${address(base)}-${address(end - 1)}`;
}

/** The first address in [base, end) that is not RAM (ROM, MMIO or nothing), checking every page; -1 when all of it is RAM. */
function firstNotRam(memory: PhysicalMemory, base: number, end: number): number {
  for (let a = base; a < end; a = (Math.floor(a / PAGE_SIZE) + 1) * PAGE_SIZE) {
    if (memory.kindAt(a) !== PAGE_RAM) return a;
  }
  return -1;
}

/** What is at `a`, an address that is not RAM, for a message. */
function describeNotRam(memory: PhysicalMemory, a: number): string {
  const kind = memory.kindAt(a);
  if (kind === PAGE_ROM) return `read-only (${memory.slotAt(a)?.label ?? 'ROM'})`;
  if (kind === PAGE_MMIO) return "a device's memory-mapped I/O";
  const ramEnd = Math.max(0, ...memory.slots.filter((s) => !s.readOnly && !s.vmmPrivate).map((s) => s.guestPhysAddr + s.size));
  if (a >= ramEnd) return `past the end of RAM (${ramEnd / 1048576} MiB; give more memory with --mem?)`;
  return 'a hole in the memory map (the 640 KiB-1 MiB hole, or a reserved range)';
}

/**
 * Throws a RangeError unless the `length` bytes at `base` are all RAM (every page, not only the
 * ends: a range may span a hole), below 4 GiB, and clear of the BIOS's areas.
 */
function checkLoadRange(memory: PhysicalMemory, name: string, what: string, base: number, length: number): void {
  if (length === 0) return;
  const end = base + length;
  if (end > FOUR_GIB) {
    throw new RangeError(`${name}: ${what} (${range(base, end)}) runs past 4 GiB: a 32-bit physical address ends at 0xFFFFFFFF`);
  }
  const bad = firstNotRam(memory, base, end);
  if (bad >= 0) throw new RangeError(`${name}: ${what} (${range(base, end)}) is not in RAM: ${hex(bad)} is ${describeNotRam(memory, bad)}`);
  for (const area of FIRMWARE_AREAS) {
    if (base < area.end && area.base < end) {
      throw new RangeError(
        `${name}: ${what} (${range(base, end)}) overlaps ${area.what} (${range(area.base, area.end)}), which the BIOS writes ` +
          'before it enters the kernel: link the kernel at 1 MiB (0x100000) or above',
      );
    }
  }
}

export interface MultibootHeader {
  offset: number;
  flags: number;
  /** a.out kludge fields (flag 16). */
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Finds the Multiboot header: 32-bit aligned in the first 8 KiB, with a checksum that makes magic + flags + checksum zero. */
export function findMultibootHeader(bytes: Uint8Array, name: string): MultibootHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length - 12, SEARCH_BYTES - 12);
  for (let offset = 0; offset <= limit; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
      throw new RangeError(`${name}: the Multiboot header at offset ${offset} has a bad checksum (magic + flags + checksum must be 0 mod 2^32; checksum is 0x${checksum.toString(16)}, it should be 0x${((-(MULTIBOOT_HEADER_MAGIC + flags)) >>> 0).toString(16)})`);
    }
    const field = (i: number) => (offset + 12 + i * 4 + 4 <= bytes.length ? view.getUint32(offset + 12 + i * 4, true) : 0);
    return { offset, flags, headerAddr: field(0), loadAddr: field(1), loadEndAddr: field(2), bssEndAddr: field(3), entryAddr: field(4) };
  }
  throw new RangeError(`${name}: no Multiboot header (magic 0x1BADB002) in its first 8 KiB; is it a Multiboot kernel?`);
}

/**
 * Whether a file that is not ELF is a Multiboot kernel: a valid header whose flag 16 gives the
 * load addresses (the a.out kludge), as kernels assembled to flat binaries carry.
 */
export function isFlatMultibootKernel(bytes: Uint8Array): boolean {
  try {
    return (findMultibootHeader(bytes, '').flags & FLAG_AOUT_KLUDGE) !== 0;
  } catch {
    return false;
  }
}

export interface LoadedKernel {
  entry: number;
  /** [start, end) of what was loaded, for messages and overlap checks. */
  start: number;
  end: number;
}

/**
 * Loads a Multiboot kernel image into guest memory. Throws a RangeError a user can act on, and
 * then has loaded nothing: every range is checked before the first byte is copied.
 */
export function loadMultibootKernel(memory: PhysicalMemory, bytes: Uint8Array, name: string): LoadedKernel {
  const header = findMultibootHeader(bytes, name);
  if (header.flags & FLAG_AOUT_KLUDGE) {
    // The a.out kludge: the header says where the file goes. Its fields are checked as QEMU's
    // loader checks them, then the range gets the same checks as an ELF segment.
    const { headerAddr, loadAddr } = header;
    if (headerAddr < loadAddr) {
      throw new RangeError(`${name}: the Multiboot header's header_addr (${hex(headerAddr)}) is below its load_addr (${hex(loadAddr)}): the header cannot lie before the start of what is loaded`);
    }
    const fileStart = header.offset - (headerAddr - loadAddr);
    const loadEnd = header.loadEndAddr === 0 ? loadAddr + (bytes.length - fileStart) : header.loadEndAddr;
    if (fileStart < 0 || loadEnd < loadAddr || fileStart + (loadEnd - loadAddr) > bytes.length) {
      throw new RangeError(`${name}: the Multiboot header's load addresses do not fit the file`);
    }
    if (header.bssEndAddr !== 0 && header.bssEndAddr < loadEnd) {
      throw new RangeError(`${name}: the Multiboot header's bss_end_addr (${hex(header.bssEndAddr)}) is below its load_end_addr (${hex(loadEnd)})`);
    }
    const bssEnd = header.bssEndAddr === 0 ? loadEnd : header.bssEndAddr;
    checkLoadRange(memory, name, 'the kernel', loadAddr, bssEnd - loadAddr);
    memory.load(loadAddr, bytes.subarray(fileStart, fileStart + (loadEnd - loadAddr)));
    if (bssEnd > loadEnd) memory.load(loadEnd, new Uint8Array(bssEnd - loadEnd));
    return { entry: header.entryAddr, start: loadAddr, end: bssEnd };
  }
  if (!isElf(bytes)) throw new RangeError(`${name}: not an ELF file, and its Multiboot header does not give load addresses (flag 16)`);
  const elf = parseElf32(bytes, name);
  const loadable = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  for (const s of loadable) {
    if (s.filesz > s.memsz) throw new RangeError(`${name}: a segment has more bytes in the file (${s.filesz}) than in memory (${s.memsz}); the ELF file is malformed`);
  }
  const segments = loadable.filter((p) => p.memsz > 0);
  if (segments.length === 0) throw new RangeError(`${name}: the ELF file has no loadable segment`);
  let start = Infinity;
  let end = 0;
  for (const s of segments) {
    if (s.offset + s.filesz > bytes.length) throw new RangeError(`${name}: a segment lies past the end of the file (truncated?)`);
    checkLoadRange(memory, name, 'a segment', s.paddr, s.memsz);
    start = Math.min(start, s.paddr);
    end = Math.max(end, s.paddr + s.memsz);
  }
  for (const s of segments) {
    memory.load(s.paddr, bytes.subarray(s.offset, s.offset + s.filesz));
    if (s.memsz > s.filesz) memory.load(s.paddr + s.filesz, new Uint8Array(s.memsz - s.filesz));
  }
  return { entry: elf.entry, start, end };
}

/** The information structure's fields before the memory map (72 bytes used), rounded up. */
const INFO_STRUCT_BYTES = 0x100;

/**
 * Where the `size` bytes of the information go: the first of these places that is RAM, free of
 * the kernel's [start, end) and of the BIOS's areas, or -1 when none is.
 *
 * What the loaders do: QEMU (hw/i386/multiboot.c) writes its E820 map at 0x9000 and the
 * structure at 0x9500 whatever the kernel (a kernel linked there is overwritten; it checks
 * nothing), and the command lines after the kernel's end, page-aligned. GRUB 2 allocates the
 * structure with its relocator in memory the kernel's image does not take. We do as GRUB 2 does
 * (move it out of the kernel's way), in QEMU's places: 0x9000 when the kernel leaves it free,
 * else the first page after the kernel, else the lowest free page of RAM. A kernel over the
 * BIOS's own areas cannot be moved around: loadMultibootKernel refuses it.
 */
function placeInfo(memory: PhysicalMemory, size: number, kernel: { start: number; end: number } | undefined): number {
  const taken: { base: number; end: number }[] = [...FIRMWARE_AREAS];
  if (kernel) taken.push({ base: kernel.start, end: kernel.end });
  const pageUp = (a: number) => Math.ceil(a / PAGE_SIZE) * PAGE_SIZE;
  const candidates = [MULTIBOOT_INFO_ADDRESS];
  if (kernel) candidates.push(pageUp(kernel.end));
  // The lowest free page of each RAM slot, and the first page after each area taken in it.
  for (const slot of memory.slots) {
    if (!slot.readOnly) candidates.push(slot.guestPhysAddr);
  }
  for (const t of taken) candidates.push(pageUp(t.end));
  const fits = (base: number) =>
    base + size <= FOUR_GIB && taken.every((t) => base + size <= t.base || t.end <= base) && firstNotRam(memory, base, base + size) < 0;
  const preferred = candidates.slice(0, kernel ? 2 : 1).find(fits);
  if (preferred !== undefined) return preferred;
  return candidates.slice(kernel ? 2 : 1).sort((a, b) => a - b).find(fits) ?? -1;
}

/**
 * Writes the Multiboot information structure, the memory map (the machine's E820 map), the
 * command line and the boot loader's name, in one block: at MULTIBOOT_INFO_ADDRESS when the
 * kernel (`kernel`, what loadMultibootKernel returned) leaves it free, else out of the kernel's
 * way (see placeInfo). Returns the structure's address. Throws a RangeError when no free RAM
 * can hold the block.
 */
export function writeMultibootInfo(memory: PhysicalMemory, e820: E820Entry[], commandLine: string, kernel?: { start: number; end: number }): number {
  const mmap = new ItemWriter();
  for (const e of e820) mmap.u32(20).u64(e.base).u64(e.length).u32(e.type);
  const mmapBytes = mmap.build();
  const cmdline = new TextEncoder().encode(commandLine + '\0');
  const loaderName = new TextEncoder().encode('minivisor\0');
  const size = INFO_STRUCT_BYTES + mmapBytes.length + cmdline.length + loaderName.length;
  const base = placeInfo(memory, size, kernel);
  if (base < 0) {
    const users = kernel ? `the kernel (${range(kernel.start, kernel.end)}) and the BIOS leave` : 'the BIOS leaves';
    throw new RangeError(
      `no room for the Multiboot information (${size} bytes: the structure, the memory map and the command line) in the RAM ` +
        `${users} free: give more memory with --mem, or a shorter --append`,
    );
  }
  const mmapAddress = base + INFO_STRUCT_BYTES;
  const cmdlineAddress = mmapAddress + mmapBytes.length;
  const nameAddress = cmdlineAddress + cmdline.length;
  const FLAG_MEM = 1 << 0, FLAG_CMDLINE = 1 << 2, FLAG_MMAP = 1 << 6, FLAG_LOADER_NAME = 1 << 9;
  const info = new ItemWriter()
    .u32(FLAG_MEM | FLAG_CMDLINE | FLAG_MMAP | FLAG_LOADER_NAME)
    .u32(EBDA_BASE / 1024) // mem_lower
    .u32(contiguousExtendedBytes(e820) / 1024) // mem_upper
    .u32(0) // boot_device
    .u32(cmdlineAddress)
    .u32(0).u32(0) // mods_count, mods_addr
    .u32(0).u32(0).u32(0).u32(0) // syms
    .u32(mmapBytes.length)
    .u32(mmapAddress)
    .u32(0).u32(0) // drives
    .u32(0) // config_table
    .u32(nameAddress)
    .build();
  memory.load(base, info);
  memory.load(mmapAddress, mmapBytes);
  memory.load(cmdlineAddress, cmdline);
  memory.load(nameAddress, loaderName);
  return base;
}
