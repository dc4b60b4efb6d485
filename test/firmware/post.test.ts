/** POST: the ROM's layout, the IVT, the BIOS data area, the EBDA, and the PICs as the boot sector finds them. */
import { describe, expect, it } from 'vitest';
import { BANNER, bios, boot, bootSector } from './harness.ts';

describe('the ROM', () => {
  it('is 64 KiB with a far jump to F000h at the reset vector F000:FFF0', () => {
    const image = bios();
    expect(image.length).toBe(65536);
    expect(image[0xfff0]).toBe(0xea); // JMP ptr16:16
    expect(image[0xfff3] | (image[0xfff4] << 8)).toBe(0xf000);
    expect(image[0xfffe]).toBe(0xfc); // model byte: AT
  });
});

describe('POST', () => {
  const { machine, text } = boot({ floppy: bootSector('  cli\n  hlt'), memoryBytes: 32 << 20 });
  const m = machine.phys;
  const word = (a: number) => m.read(a, 2);

  it('prints a one-line banner', () => {
    expect(text).toBe(BANNER);
  });

  it('fills the BIOS data area', () => {
    expect(word(0x400)).toBe(0x3f8); // COM1
    expect(word(0x40e)).toBe(0x9fc0); // EBDA segment
    expect(word(0x410)).toBe(0x0221); // one floppy, 80x25 colour, one serial port
    expect(word(0x413)).toBe(639);
    expect([word(0x41a), word(0x41c), word(0x480), word(0x482)]).toEqual([0x1e, 0x1e, 0x1e, 0x3e]);
    expect(m.read8(0x449)).toBe(3);
    expect(word(0x44a)).toBe(80);
    expect(word(0x463)).toBe(0x3d4);
    expect(m.read8(0x484)).toBe(24);
    expect(m.read8(0x475)).toBe(0); // no hard disk
    expect(m.read8(0x9fc00)).toBe(1); // the EBDA's size in KiB
  });

  it('points every vector into the ROM, and the diskette parameter table at INT 1Eh', () => {
    for (const vector of [0x00, 0x06, 0x08, 0x09, 0x10, 0x13, 0x15, 0x16, 0x19, 0x1a, 0x1c, 0x70, 0x77, 0xff]) {
      expect(word(vector * 4 + 2)).toBe(0xf000);
    }
    const dpt = 0xf0000 + word(0x1e * 4);
    expect(m.read8(dpt + 3)).toBe(2); // 512-byte sectors
  });

  it('leaves IRQ 0, 1 and 2 unmasked on the master PIC and the slave all masked', () => {
    expect(machine.io.read(0x21, 1)).toBe(0xf8);
    expect(machine.io.read(0xa1, 1)).toBe(0xff);
  });
});
