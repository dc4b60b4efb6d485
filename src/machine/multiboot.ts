/**
 * Loading a Multiboot (v1) kernel as the Multiboot specification 0.6.96 says: find the header
 * in the first 8 KiB, load the ELF's loadable segments (or, with header flag 16, the a.out
 * kludge's addresses), and build the information structure with the memory map. The BIOS then
 * enters the kernel in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the structure.
 */
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { PT_LOAD, isElf, parseElf32 } from './elf.ts';
import { ItemWriter } from './devices/fw-cfg.ts';
import { EBDA_BASE, contiguousExtendedBytes, type E820Entry } from './pc-memory.ts';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
const SEARCH_BYTES = 8192;
const FLAG_AOUT_KLUDGE = 1 << 16;

/** Where the information structure, the memory map and the strings go: low memory the kernel does not load into. */
export const MULTIBOOT_INFO_ADDRESS = 0x9000;

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

/** Loads a Multiboot kernel image into guest memory. Throws a RangeError a user can act on. */
export function loadMultibootKernel(memory: PhysicalMemory, bytes: Uint8Array, name: string): LoadedKernel {
  const header = findMultibootHeader(bytes, name);
  const ensureRam = (address: number, length: number, what: string) => {
    for (const a of [address, address + Math.max(0, length - 1)]) {
      if (memory.kindAt(a) !== 0) throw new RangeError(`${name}: ${what} at 0x${a.toString(16)} is not in RAM (give more memory with --mem?)`);
    }
    if (address < 0x100000 && address + length > EBDA_BASE) throw new RangeError(`${name}: ${what} overlaps the BIOS area below 1 MiB`);
  };
  if (header.flags & FLAG_AOUT_KLUDGE) {
    const fileStart = header.offset - (header.headerAddr - header.loadAddr);
    const loadEnd = header.loadEndAddr === 0 ? header.loadAddr + (bytes.length - fileStart) : header.loadEndAddr;
    const bssEnd = header.bssEndAddr === 0 ? loadEnd : header.bssEndAddr;
    if (fileStart < 0 || loadEnd < header.loadAddr || fileStart + (loadEnd - header.loadAddr) > bytes.length) {
      throw new RangeError(`${name}: the Multiboot header's load addresses do not fit the file`);
    }
    ensureRam(header.loadAddr, bssEnd - header.loadAddr, 'the kernel');
    memory.load(header.loadAddr, bytes.subarray(fileStart, fileStart + (loadEnd - header.loadAddr)));
    if (bssEnd > loadEnd) memory.load(loadEnd, new Uint8Array(bssEnd - loadEnd));
    return { entry: header.entryAddr, start: header.loadAddr, end: bssEnd };
  }
  if (!isElf(bytes)) throw new RangeError(`${name}: not an ELF file, and its Multiboot header does not give load addresses (flag 16)`);
  const elf = parseElf32(bytes, name);
  const segments = elf.programHeaders.filter((p) => p.type === PT_LOAD && p.memsz > 0);
  if (segments.length === 0) throw new RangeError(`${name}: the ELF file has no loadable segment`);
  let start = Infinity;
  let end = 0;
  for (const s of segments) {
    if (s.offset + s.filesz > bytes.length) throw new RangeError(`${name}: a segment lies past the end of the file (truncated?)`);
    ensureRam(s.paddr, s.memsz, 'a segment');
    memory.load(s.paddr, bytes.subarray(s.offset, s.offset + s.filesz));
    if (s.memsz > s.filesz) memory.load(s.paddr + s.filesz, new Uint8Array(s.memsz - s.filesz));
    start = Math.min(start, s.paddr);
    end = Math.max(end, s.paddr + s.memsz);
  }
  return { entry: elf.entry, start, end };
}

/**
 * Writes the Multiboot information structure at MULTIBOOT_INFO_ADDRESS: memory sizes, the
 * memory map (the machine's E820 map), the command line and the boot loader's name.
 */
export function writeMultibootInfo(memory: PhysicalMemory, e820: E820Entry[], commandLine: string): number {
  const base = MULTIBOOT_INFO_ADDRESS;
  const mmapAddress = base + 0x100;
  const mmap = new ItemWriter();
  for (const e of e820) mmap.u32(20).u64(e.base).u64(e.length).u32(e.type);
  const mmapBytes = mmap.build();
  const cmdlineAddress = mmapAddress + mmapBytes.length;
  const cmdline = new TextEncoder().encode(commandLine + '\0');
  const nameAddress = cmdlineAddress + cmdline.length;
  const loaderName = new TextEncoder().encode('minivisor\0');
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
