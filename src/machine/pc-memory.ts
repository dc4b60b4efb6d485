/**
 * The PC's physical memory map, from the machine's configuration: which guest-physical ranges
 * are RAM (memory slots), where the BIOS ROM and its alias sit, which ranges are holes. The
 * same description produces the E820 map the BIOS reports, so what the guest is told and what
 * it gets cannot disagree (the guest believes it is the machine's real memory).
 */
import type { MemorySlot } from '../cpu/physical-memory.ts';

/** E820 address range types (ACPI spec, "Address Range Types"). */
export const E820_USABLE = 1, E820_RESERVED = 2;

export interface E820Entry {
  base: number;
  length: number;
  type: number;
}

/** A range taken out of RAM; `name` (the option that asked for it, say) is for messages. */
export interface ReservedRange {
  base: number;
  length: number;
  name?: string;
}

export interface MemoryConfig {
  /** Bytes of RAM (a multiple of 4 KiB, at least MIN_RAM_BYTES). */
  ramBytes: number;
  /**
   * Ranges of RAM above 1 MiB taken out of it and reported reserved (memory-mapped devices,
   * holes): page-aligned, inside RAM, none overlapping another (they may touch). See checkReservedRanges.
   */
  reserved?: ReservedRange[];
}

/** The smallest machine that can boot: the BIOS's data areas, a boot sector, a stack and room to load. */
export const MIN_RAM_BYTES = 2 << 20;
/** Conventional memory: 640 KiB, the last KiB of it the extended BIOS data area. */
export const CONVENTIONAL_END = 0xa0000;
export const EBDA_BASE = 0x9fc00;
export const EXTENDED_BASE = 0x100000;
export const VGA_WINDOW = { base: 0xa0000, length: 0x20000 };

export interface PcMemoryLayout {
  /** RAM slots (host memory assigned by the caller through `userspaceAddr`, here equal to the GPA). */
  ramSlots: MemorySlot[];
  e820: E820Entry[];
}

/** Slot numbers of the fixed regions. RAM slots are numbered from RAM_SLOT_BASE. */
export const BIOS_SLOT = 0, BIOS_ALIAS_SLOT = 1, RAM_SLOT_BASE = 2;

/**
 * Lays out RAM for `config` around the PC's fixed holes, with `biosBytes` of firmware ending at
 * 1 MiB and aliased below 4 GiB. RAM's host address equals its guest-physical address.
 */
export function pcMemoryLayout(config: MemoryConfig, biosBytes: number): PcMemoryLayout {
  const { ramBytes } = config;
  const reserved = checkReservedRanges(ramBytes, config.reserved ?? []);
  // Extended RAM, cut around the reserved ranges.
  const extended: { base: number; end: number }[] = [];
  let cursor = EXTENDED_BASE;
  for (const r of reserved) {
    if (r.base >= ramBytes) break;
    if (r.base > cursor) extended.push({ base: cursor, end: r.base });
    cursor = Math.max(cursor, r.base + r.length);
  }
  if (cursor < ramBytes) extended.push({ base: cursor, end: ramBytes });

  const ramSlots: MemorySlot[] = [
    { slot: RAM_SLOT_BASE, guestPhysAddr: 0, size: CONVENTIONAL_END, userspaceAddr: 0, readOnly: false, label: 'conventional RAM' },
    ...extended.map((r, i) => ({
      slot: RAM_SLOT_BASE + 1 + i, guestPhysAddr: r.base, size: r.end - r.base, userspaceAddr: r.base, readOnly: false, label: 'extended RAM',
    })),
  ];

  const e820: E820Entry[] = [
    { base: 0, length: EBDA_BASE, type: E820_USABLE },
    { base: EBDA_BASE, length: CONVENTIONAL_END - EBDA_BASE, type: E820_RESERVED },
    { base: EXTENDED_BASE - biosBytes, length: biosBytes, type: E820_RESERVED },
    ...extended.map((r) => ({ base: r.base, length: r.end - r.base, type: E820_USABLE })),
    ...reserved.map((r) => ({ base: r.base, length: r.length, type: E820_RESERVED })),
    { base: 2 ** 32 - biosBytes, length: biosBytes, type: E820_RESERVED },
  ].sort((a, b) => a.base - b.base);
  return { ramSlots, e820 };
}

/** Bytes of RAM the E820 map calls usable above 1 MiB, contiguous from 1 MiB (what INT 15h E801/88h report). */
export function contiguousExtendedBytes(e820: E820Entry[]): number {
  let end = EXTENDED_BASE;
  for (const e of e820) if (e.type === E820_USABLE && e.base === end) end += e.length;
  return end - EXTENDED_BASE;
}

/**
 * Checks ranges to be taken out of RAM, and returns them sorted by address. Each must be
 * page-aligned, non-empty, and inside RAM above 1 MiB (the first megabyte's map is the PC's,
 * fixed; a range past the end of RAM takes nothing out of it and would only put a bogus entry in
 * the E820 map); no two may overlap, else the E820 map would report the same bytes twice.
 * Ranges that touch are fine: each keeps its entry. Throws a RangeError naming the range (and,
 * for an overlap, both ranges) by their `name`s when they have one.
 */
export function checkReservedRanges(ramBytes: number, ranges: readonly ReservedRange[]): ReservedRange[] {
  const describe = (r: ReservedRange) => {
    const span = r.length > 0 ? `${address(r.base)}-${address(r.base + r.length - 1)}` : `at ${address(r.base)}`;
    if (r.name === undefined) return `reserved range ${span}`;
    return r.length > 0 ? `${r.name} (${span})` : r.name;
  };
  for (const r of ranges) {
    if (r.length === 0) throw new RangeError(`${describe(r)} is empty: give a size of 4 KiB or more`);
    if (r.base % 4096 !== 0 || r.length % 4096 !== 0) {
      throw new RangeError(`${describe(r)} is not page-aligned: its address and size must be multiples of 4 KiB (0x1000)`);
    }
    if (r.base < EXTENDED_BASE) {
      throw new RangeError(`${describe(r)} starts below 1 MiB: the first megabyte's map is fixed (RAM to 640 KiB, then video memory and the BIOS); reserve ranges from 0x100000 up`);
    }
    if (r.base + r.length > ramBytes) {
      throw new RangeError(`${describe(r)} is not inside RAM, which ends at ${address(ramBytes)} (${ramBytes / 1048576} MiB): a reserved range is taken out of RAM, so it must end within it`);
    }
  }
  const sorted = [...ranges].sort((a, b) => a.base - b.base);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.base < a.base + a.length) {
      throw new RangeError(`${describe(a)} and ${describe(b)} overlap: give ranges that do not (ranges that touch are fine)`);
    }
  }
  return sorted;
}

/** An address for messages: 8 hex digits, more for one past 4 GiB. */
function address(value: number): string {
  const digits = value.toString(16).toUpperCase();
  return '0x' + (value < 2 ** 32 ? digits.padStart(8, '0') : digits);
}
