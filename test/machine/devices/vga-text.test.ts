import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../../src/cpu/physical-memory.ts';
import { CP437_TO_UNICODE } from '../../../src/machine/devices/cp437.ts';
import { VGA_TEXT_BASE, VGA_TEXT_SIZE, VgaText } from '../../../src/machine/devices/vga-text.ts';

function screen() {
  let notified = 0;
  const vga = new VgaText(() => notified++);
  const phys = new PhysicalMemory(1024 * 1024);
  phys.mapMmio(VGA_TEXT_BASE, VGA_TEXT_SIZE, vga);
  const setCrtc = (index: number, value: number) => {
    vga.ports.write(0x3d4, 1, index);
    vga.ports.write(0x3d5, 1, value);
  };
  return { vga, phys, setCrtc, notified: () => notified };
}

describe('VGA text mode', () => {
  it('starts blank: spaces, grey on black', () => {
    const { vga, phys } = screen();
    expect(vga.lines()).toEqual(Array(25).fill(' '.repeat(80)));
    expect(phys.read(VGA_TEXT_BASE, 2)).toBe(0x0720);
  });

  it('shows characters written through MMIO, byte or word at a time, with their attributes', () => {
    const { vga, phys } = screen();
    phys.write(VGA_TEXT_BASE, 2, 0x1f48); // 'H', white on blue
    phys.write8(VGA_TEXT_BASE + 2, 0x69); // 'i'
    phys.write(VGA_TEXT_BASE + 160 * 24 + 2 * 79, 2, 0x0721); // '!' in the bottom-right corner
    const lines = vga.lines();
    expect(lines[0].startsWith('Hi ')).toBe(true);
    expect(lines[24].endsWith('!')).toBe(true);
    expect(vga.attributeAt(0, 0)).toBe(0x1f);
    expect(phys.read(VGA_TEXT_BASE, 4)).toBe(0x07691f48);
  });

  it('maps CP437 box drawing and symbols to Unicode', () => {
    const { vga, phys } = screen();
    [0xc9, 0xcd, 0xbb, 0xb0, 0x01, 0xe1, 0x9c].forEach((byte, i) => phys.write8(VGA_TEXT_BASE + 2 * i, byte));
    expect(vga.lines()[0].slice(0, 7)).toBe('╔═╗░☺ß£');
    expect(CP437_TO_UNICODE.length).toBe(256);
    expect(CP437_TO_UNICODE[0x41]).toBe('A');
    expect(CP437_TO_UNICODE[0xdb]).toBe('█');
  });

  it('moves the cursor with CRTC registers 0x0E/0x0F, and reads them back', () => {
    const { vga, setCrtc } = screen();
    expect(vga.cursor()).toEqual({ row: 0, col: 0 });
    const position = 3 * 80 + 7;
    setCrtc(0x0f, position & 0xff);
    setCrtc(0x0e, position >> 8);
    expect(vga.cursor()).toEqual({ row: 3, col: 7 });
    vga.ports.write(0x3d4, 1, 0x0f);
    expect(vga.ports.read(0x3d5, 1)).toBe(position & 0xff);
    // A 16-bit OUT writes index and data at once, as many kernels do.
    vga.ports.write(0x3d4, 2, ((position + 1) & 0xff) << 8 | 0x0f);
    expect(vga.cursor()).toEqual({ row: 3, col: 8 });
  });

  it('hides the cursor with register 0x0A bit 5', () => {
    const { vga, setCrtc } = screen();
    expect(vga.cursorVisible()).toBe(true);
    setCrtc(0x0a, 0x20);
    expect(vga.cursorVisible()).toBe(false);
  });

  it('scrolls the display with the start address', () => {
    const { vga, phys, setCrtc } = screen();
    phys.write8(VGA_TEXT_BASE + 160, 0x42); // row 1
    setCrtc(0x0c, 0);
    setCrtc(0x0d, 80); // start at row 1
    expect(vga.lines()[0][0]).toBe('B');
    setCrtc(0x0e, 0);
    setCrtc(0x0f, 85);
    expect(vga.cursor()).toEqual({ row: 0, col: 5 });
  });

  it('counts changes the screen shows, and only those', () => {
    const { vga, phys, setCrtc, notified } = screen();
    const before = vga.changes;
    phys.write8(VGA_TEXT_BASE, 0x20); // the same byte again: nothing changed
    expect(vga.changes).toBe(before);
    phys.write8(VGA_TEXT_BASE, 0x41);
    setCrtc(0x0f, 1);
    expect(vga.changes).toBe(before + 2);
    expect(notified()).toBe(2);
  });

  it('flips the retrace bits of 0x3DA so that retrace waits end', () => {
    const { vga } = screen();
    let reads = 0;
    while ((vga.ports.read(0x3da, 1) & 0x08) === 0) reads++; // wait for retrace
    while ((vga.ports.read(0x3da, 1) & 0x08) !== 0) reads++; // wait for its end
    expect(reads).toBeLessThan(4);
  });
});
