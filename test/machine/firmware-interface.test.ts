/** The firmware configuration ports and the virtual disk, as the BIOS uses them (docs/firmware-interface.md). */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { FW_BOOT, FW_DRIVES, FW_E820 } from '../../src/machine/devices/fw-cfg.ts';

function readItem(m: Machine, item: number, length: number): number[] {
  m.io.write(0x510, 2, item);
  return Array.from({ length }, () => m.io.read(0x511, 1));
}

describe('firmware configuration', () => {
  it('carries the signature, the E820 map, the drives and the boot drive', () => {
    const floppy = DiskImage.from(new Uint8Array(1_474_560), 'floppy', 'a.img');
    const m = new Machine({ memoryBytes: 8 << 20, disks: new Map([[0, floppy]]) });
    expect(String.fromCharCode(...readItem(m, 0, 4))).toBe('MVFW');
    const e820 = readItem(m, FW_E820, 4 + 5 * 20);
    expect(e820[0]).toBe(5);
    const view = new DataView(Uint8Array.from(e820).buffer);
    expect(view.getUint32(4 + 3 * 20, true)).toBe(0x100000); // the fourth entry: extended RAM at 1 MiB
    expect(view.getUint32(4 + 3 * 20 + 8, true)).toBe((8 << 20) - 0x100000);
    expect(readItem(m, FW_DRIVES, 17)).toEqual([1, 0x00, 1, 80, 0, 2, 18, 4, 0, 0x40, 0x0b, 0, 0, 0, 0, 0, 0]);
    expect(readItem(m, FW_BOOT, 1)).toEqual([0x00]);
  });
});

describe('virtual disk', () => {
  function request(m: Machine, at: number, fields: { drive: number; command: number; count: number; lba: number; buffer: number }) {
    const p = m.phys;
    p.write8(at, fields.drive);
    p.write8(at + 1, fields.command);
    p.write(at + 4, 2, fields.count);
    p.write(at + 8, 4, fields.lba);
    p.write(at + 12, 4, 0);
    p.write(at + 16, 4, fields.buffer);
    m.io.write(0x518, 4, at);
    return p.read8(at + 2);
  }

  it('reads sectors into guest memory, writes them back to the image, and refuses what is past the end', () => {
    const bytes = new Uint8Array(1_474_560);
    bytes[512 * 5] = 0xab;
    const disk = DiskImage.from(bytes, 'floppy', 'a.img');
    const m = new Machine({ memoryBytes: 4 << 20, disks: new Map([[0, disk]]) });
    expect(request(m, 0x500, { drive: 0, command: 1, count: 2, lba: 5, buffer: 0x10000 })).toBe(0);
    expect(m.phys.read8(0x10000)).toBe(0xab);
    m.phys.write8(0x20000, 0xcd);
    expect(request(m, 0x500, { drive: 0, command: 2, count: 1, lba: 7, buffer: 0x20000 })).toBe(0);
    expect(disk.bytes[512 * 7]).toBe(0xcd);
    expect(request(m, 0x500, { drive: 0, command: 1, count: 1, lba: 2880, buffer: 0x10000 })).toBe(0x04);
    expect(request(m, 0x500, { drive: 0x80, command: 1, count: 1, lba: 0, buffer: 0x10000 })).toBe(0x80);
  });
});

describe('disk images', () => {
  it('take the geometry of their size, and say what is wrong with one that fits no drive', () => {
    expect(DiskImage.from(new Uint8Array(1_474_560), 'floppy', 'f.img').geometry).toMatchObject({ cylinders: 80, heads: 2, sectorsPerTrack: 18 });
    expect(DiskImage.from(new Uint8Array(512), 'floppy', 'boot.bin').bytes.length).toBe(368_640);
    expect(() => DiskImage.from(new Uint8Array(3_000_000), 'floppy', 'big.img')).toThrow(/larger than the largest floppy.*--hda/);
    expect(() => DiskImage.from(new Uint8Array(0), 'hard-disk', 'empty.img')).toThrow(/is empty/);
    const hd = DiskImage.from(new Uint8Array(64 << 20), 'hard-disk', 'hd.img');
    expect(hd.geometry).toMatchObject({ heads: 16, sectorsPerTrack: 63, cylinders: 130 });
  });
});
