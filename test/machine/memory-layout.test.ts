/** Memory slots and the PC memory map: one configuration, the slots and the E820 map agree. */
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, PAGE_ROM, PAGE_UNMAPPED } from '../../src/cpu/physical-memory.ts';
import { E820_RESERVED, E820_USABLE, contiguousExtendedBytes, pcMemoryLayout } from '../../src/machine/pc-memory.ts';
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

  it('a machine maps its BIOS read-only below 1 MiB and below 4 GiB, and nothing in the VGA/option-ROM hole', () => {
    const bios = new Uint8Array(0x10000).fill(0x90);
    const m = new Machine({ memoryBytes: 4 << 20, bios });
    expect(m.phys.slotAt(0xf0000)?.label).toBe('BIOS ROM');
    expect(m.phys.slotAt(0xfffffff0)?.label).toMatch(/alias/);
    expect(m.phys.pages[0xc0000 >>> 12]).toBe(PAGE_UNMAPPED);
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
