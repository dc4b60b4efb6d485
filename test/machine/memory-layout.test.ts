/** Memory slots and the PC memory map: one configuration, the slots and the E820 map agree. */
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, PAGE_ROM, PAGE_UNMAPPED } from '../../src/cpu/physical-memory.ts';
import { E820_RESERVED, E820_USABLE, checkReservedRanges, contiguousExtendedBytes, pcMemoryLayout } from '../../src/machine/pc-memory.ts';
import { Machine } from '../../src/machine/machine.ts';

describe('memory slots (KVM_SET_USER_MEMORY_REGION)', () => {
  it('maps GPA ranges to host memory, rejects overlaps, and removes a slot given size 0', () => {
    const m = new PhysicalMemory(1 << 20);
    const hva = m.allocateHost(0x2000);
    m.setUserMemoryRegion({ slot: 5, guestPhysAddr: 0x40000, size: 0x2000, userspaceAddr: hva, readOnly: false, label: 'test' });
    m.write8(0x40001, 0x77);
    expect(m.host[m.hostMemory.frameOf(hva) + 1]).toBe(0x77); // HVA → the frame its first write got
    expect(m.slotAt(0x41fff)?.slot).toBe(5);
    expect(() => m.setUserMemoryRegion({ slot: 6, guestPhysAddr: 0x41000, size: 0x1000, userspaceAddr: 0, readOnly: false, label: 'clash' }))
      .toThrow(/overlaps slot 5/);
    m.setUserMemoryRegion({ slot: 5, guestPhysAddr: 0, size: 0, userspaceAddr: 0, readOnly: false, label: '' });
    expect(m.slotAt(0x40000)).toBeUndefined();
    expect(m.read8(0x40001)).toBe(0xff); // a hole reads all ones
  });

  it('a read-only slot ignores writes, also when it aliases another slot\'s host memory', () => {
    const m = new PhysicalMemory(1 << 20);
    const rom = m.mapRom(0, 0xf0000, Uint8Array.of(0xea, 0x5b), 'rom');
    m.setUserMemoryRegion({ ...rom, slot: 1, guestPhysAddr: 0xffff0000, label: 'alias' });
    m.write8(0xf0000, 0);
    m.write8(0xffff0000, 0);
    expect(m.read8(0xf0000)).toBe(0xea);
    expect(m.read8(0xffff0001)).toBe(0x5b);
    expect(m.kindAt(0xffff0000)).toBe(PAGE_ROM);
  });
});

describe('the PC memory map', () => {
  it('puts RAM around the 640 KiB-1 MiB hole and reports it in E820 with the EBDA and BIOS reserved', () => {
    const { ramSlots, e820 } = pcMemoryLayout({ ramBytes: 32 << 20 }, 0x10000);
    expect(ramSlots.map((s) => [s.guestPhysAddr, s.size])).toEqual([[0, 0xa0000], [0x100000, (32 << 20) - 0x100000]]);
    expect(e820).toEqual([
      { base: 0, length: 0x9fc00, type: E820_USABLE },
      { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
      { base: 0x100000, length: (32 << 20) - 0x100000, type: E820_USABLE },
      { base: 0xffff0000, length: 0x10000, type: E820_RESERVED },
    ]);
    expect(contiguousExtendedBytes(e820)).toBe((32 << 20) - 0x100000);
  });

  it('a reserved range becomes a hole in RAM and a reserved E820 entry', () => {
    const { ramSlots, e820 } = pcMemoryLayout({ ramBytes: 16 << 20, reserved: [{ base: 0x800000, length: 0x100000 }] }, 0x10000);
    expect(ramSlots.slice(1).map((s) => [s.guestPhysAddr, s.size])).toEqual([[0x100000, 0x700000], [0x900000, 0x700000]]);
    expect(e820.find((e) => e.base === 0x800000)).toEqual({ base: 0x800000, length: 0x100000, type: E820_RESERVED });
    expect(contiguousExtendedBytes(e820)).toBe(0x700000);
  });

  it('reserved ranges that overlap each other are refused, naming both', () => {
    const reserved = [{ base: 0x900000, length: 0x100000 }, { base: 0x800000, length: 0x200000 }];
    expect(() => pcMemoryLayout({ ramBytes: 16 << 20, reserved }, 0x10000)).toThrow(
      /reserved range 0x00800000-0x009FFFFF and reserved range 0x00900000-0x009FFFFF overlap/,
    );
    expect(() => pcMemoryLayout({ ramBytes: 16 << 20, reserved: [{ base: 0x800000, length: 0x100000 }, { base: 0x800000, length: 0x100000 }] }, 0x10000)).toThrow(/overlap/);
  });

  it('reserved ranges outside RAM, across its end, past 4 GiB or below 1 MiB are refused', () => {
    const layout = (base: number, length: number) => () => pcMemoryLayout({ ramBytes: 16 << 20, reserved: [{ base, length }] }, 0x10000);
    expect(layout(0x1000000, 0x100000)).toThrow(/reserved range 0x01000000-0x010FFFFF is not inside RAM, which ends at 0x01000000 \(16 MiB\)/);
    expect(layout(0xf00000, 0x200000)).toThrow(/reserved range 0x00F00000-0x010FFFFF is not inside RAM/);
    expect(layout(0xfffff000, 0x2000)).toThrow(/reserved range 0xFFFFF000-0x100000FFF is not inside RAM/);
    expect(layout(0x9f000, 0x2000)).toThrow(/reserved range 0x0009F000-0x000A0FFF starts below 1 MiB/);
    expect(layout(0x800800, 0x1000)).toThrow(/reserved range 0x00800800-0x008017FF is not page-aligned/);
    expect(layout(0x800000, 0)).toThrow(/reserved range at 0x00800000 is empty/);
    expect(() => checkReservedRanges(16 << 20, [{ base: 0x800000, length: 0x1000, name: '--reserve 0x800000:4K' }, { base: 0x800000, length: 0x2000, name: '--reserve 0x800000:8K' }]))
      .toThrow(/--reserve 0x800000:4K \(0x00800000-0x00800FFF\) and --reserve 0x800000:8K \(0x00800000-0x00801FFF\) overlap/);
  });

  it('reserved ranges that touch, in any order, give a sorted E820 map without overlaps, and slots that agree with it', () => {
    const ramBytes = 32 << 20;
    const cases = [
      [{ base: 0x900000, length: 0x100000 }, { base: 0x800000, length: 0x100000 }],
      [{ base: 0x100000, length: 0x100000 }, { base: 0x200000, length: 0x1000 }, { base: ramBytes - 0x1000, length: 0x1000 }],
      [{ base: 0x100000, length: ramBytes - 0x100000 }],
      [{ base: 0x1f00000, length: 0x80000 }, { base: 0x400000, length: 0x4000 }, { base: 0x1f80000, length: 0x80000 }, { base: 0x404000, length: 0x1000 }],
    ];
    for (const reserved of cases) {
      const { ramSlots, e820 } = pcMemoryLayout({ ramBytes, reserved }, 0x10000);
      for (let i = 1; i < e820.length; i++) expect(e820[i].base).toBeGreaterThanOrEqual(e820[i - 1].base + e820[i - 1].length);
      // Every byte of extended memory is in exactly one entry: usable (and a RAM slot) or reserved.
      const extended = e820.filter((e) => e.base >= 0x100000 && e.base < ramBytes);
      expect(extended.reduce((sum, e) => sum + e.length, 0)).toBe(ramBytes - 0x100000);
      const usable = extended.filter((e) => e.type === E820_USABLE).map((e) => [e.base, e.length]);
      expect(ramSlots.slice(1).map((s) => [s.guestPhysAddr, s.size])).toEqual(usable);
      for (const r of reserved) expect(e820).toContainEqual({ base: r.base, length: r.length, type: E820_RESERVED });
    }
  });

  it('a machine maps its BIOS read-only below 1 MiB and below 4 GiB, and nothing in the VGA/option-ROM hole', () => {
    const bios = new Uint8Array(0x10000).fill(0x90);
    const m = new Machine({ memoryBytes: 4 << 20, bios });
    expect(m.phys.slotAt(0xf0000)?.label).toBe('BIOS ROM');
    expect(m.phys.slotAt(0xfffffff0)?.label).toMatch(/alias/);
    expect(m.phys.kindAt(0xc0000)).toBe(PAGE_UNMAPPED);
    m.phys.write8(0xffff0, 0);
    expect(m.phys.read8(0xffffff0)).toBe(0xff); // not mapped: 256 MiB is past RAM
    expect(m.phys.read8(0xfffffff0)).toBe(0x90);
  });
});

describe('MMIO regions', () => {
  it('a region larger than a page sends every page\'s accesses to its device, with offsets from its start', () => {
    const m = new PhysicalMemory(1 << 20);
    const seen: number[] = [];
    m.mapMmio(0xb8000, 0x8000, { read: (offset) => offset & 0xff, write: (offset) => void seen.push(offset) });
    m.write8(0xb8000 + 0x3001, 1);
    expect(seen).toEqual([0x3001]);
    expect(m.read8(0xbfffe)).toBe(0xfe);
  });
});
