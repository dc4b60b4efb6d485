/**
 * VGA text mode 3 (80×25, colour): the 32 KiB text window at 0xB8000 (each cell a character
 * byte then an attribute byte) and the CRT controller registers the text console uses, at
 * 0x3D4/0x3D5: cursor shape (0x0A/0x0B), display start (0x0C/0x0D) and cursor location
 * (0x0E/0x0F). Input status 1 at 0x3DA flips its retrace bits on every read, so that a loop
 * waiting for retrace to begin or end terminates. The terminal reads the screen as text.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';
import type { MmioHandler } from '../../cpu/physical-memory.ts';
import { CP437_TO_UNICODE } from './cp437.ts';

export const VGA_TEXT_BASE = 0xb8000;
export const VGA_TEXT_SIZE = 0x8000;
export const CRTC_INDEX = 0x3d4, CRTC_DATA = 0x3d5, INPUT_STATUS_1 = 0x3da;
export const COLUMNS = 80, ROWS = 25;

const CRTC_REGISTER_COUNT = 0x19;
const CURSOR_START = 0x0a, CURSOR_END = 0x0b;
const START_ADDRESS_HIGH = 0x0c, START_ADDRESS_LOW = 0x0d;
const CURSOR_LOCATION_HIGH = 0x0e, CURSOR_LOCATION_LOW = 0x0f;
const CURSOR_DISABLE = 0x20;
/** Display enable (bit 0) and vertical retrace (bit 3). */
const RETRACE_BITS = 0x09;
/** A blank cell: a space, light grey on black (what the BIOS clears the screen to). */
const BLANK_CHARACTER = 0x20, BLANK_ATTRIBUTE = 0x07;

/** The MMIO side is the class itself (map it at VGA_TEXT_BASE); the port side is `ports`. */
export class VgaText implements MmioHandler {
  /** The text window's bytes. */
  readonly memory = new Uint8Array(VGA_TEXT_SIZE);
  private readonly crtc = new Uint8Array(CRTC_REGISTER_COUNT);
  private crtcIndex = 0;
  private inputStatus = 0;
  /** Bumped by every change the screen shows: a terminal redraws when it differs from what it drew. */
  changes = 0;

  /** @param onChange called after each change the screen shows (optional; `changes` counts them too) */
  constructor(private readonly onChange: (() => void) | null = null) {
    for (let i = 0; i < VGA_TEXT_SIZE; i += 2) {
      this.memory[i] = BLANK_CHARACTER;
      this.memory[i + 1] = BLANK_ATTRIBUTE;
    }
    // The BIOS's underline cursor, at the top left.
    this.crtc[CURSOR_START] = 0x0d;
    this.crtc[CURSOR_END] = 0x0e;
  }

  private changed(): void {
    this.changes++;
    this.onChange?.();
  }

  // ---------------------------------------------------------------- MMIO: offsets into the window

  read(offset: number, size: 1 | 2 | 4): number {
    const m = this.memory;
    const i = offset & (VGA_TEXT_SIZE - 1);
    if (size === 1) return m[i];
    if (size === 2) return m[i] | (m[(i + 1) & (VGA_TEXT_SIZE - 1)] << 8);
    let value = 0;
    for (let k = 0; k < 4; k++) value |= m[(i + k) & (VGA_TEXT_SIZE - 1)] << (8 * k);
    return value;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    let differs = false;
    for (let k = 0; k < size; k++) {
      const i = (offset + k) & (VGA_TEXT_SIZE - 1);
      const byte = (value >>> (8 * k)) & 0xff;
      if (this.memory[i] !== byte) {
        this.memory[i] = byte;
        differs = true;
      }
    }
    if (differs) this.changed();
  }

  // ---------------------------------------------------------------- ports

  /** A read of 0x3D4, 0x3D5 or 0x3DA. */
  readPort(port: number): number {
    switch (port) {
      case CRTC_INDEX:
        return this.crtcIndex;
      case CRTC_DATA:
        return this.crtcIndex < CRTC_REGISTER_COUNT ? this.crtc[this.crtcIndex] : 0xff;
      case INPUT_STATUS_1:
        this.inputStatus ^= RETRACE_BITS;
        return this.inputStatus;
      default:
        return 0xff;
    }
  }

  writePort(port: number, value: number): void {
    if (port === CRTC_INDEX) {
      this.crtcIndex = value & 0x7f;
    } else if (port === CRTC_DATA && this.crtcIndex < CRTC_REGISTER_COUNT) {
      if (this.crtc[this.crtcIndex] === value) return;
      this.crtc[this.crtcIndex] = value;
      const index = this.crtcIndex;
      if (index >= CURSOR_START && index <= CURSOR_LOCATION_LOW) this.changed();
    }
  }

  /** The port side, for the I/O bus: `io.register(0x3d4, 2, vga.ports)` and `(0x3da, 1, vga.ports)`. */
  readonly ports: PortHandler = {
    read: (port, size) => (size === 1 ? this.readPort(port) : this.readPort(port) | (this.readPort(port + 1) << 8)),
    write: (port, size, value) => {
      this.writePort(port, value & 0xff);
      // OUT DX, AX to 0x3D4 writes the index then the data: the usual way to set a CRTC register.
      if (size !== 1) this.writePort(port + 1, (value >>> 8) & 0xff);
    },
  };

  // ---------------------------------------------------------------- for the terminal

  /** The byte offset in the window of the top-left cell (CRTC start address, in cells). */
  private startOffset(): number {
    return ((this.crtc[START_ADDRESS_HIGH] << 8) | this.crtc[START_ADDRESS_LOW]) * 2;
  }

  /** The 25 rows as text. */
  lines(): string[] {
    const rows: string[] = [];
    const start = this.startOffset();
    for (let row = 0; row < ROWS; row++) {
      let text = '';
      for (let col = 0; col < COLUMNS; col++) {
        text += CP437_TO_UNICODE[this.memory[(start + (row * COLUMNS + col) * 2) & (VGA_TEXT_SIZE - 1)]];
      }
      rows.push(text);
    }
    return rows;
  }

  /** The attribute byte of a cell on screen (colours: low nibble foreground, high background). */
  attributeAt(row: number, col: number): number {
    return this.memory[(this.startOffset() + (row * COLUMNS + col) * 2 + 1) & (VGA_TEXT_SIZE - 1)];
  }

  /** Where the cursor is on screen (it may be off screen: row ≥ 25). */
  cursor(): { row: number; col: number } {
    const location = (this.crtc[CURSOR_LOCATION_HIGH] << 8) | this.crtc[CURSOR_LOCATION_LOW];
    const cell = (location - this.startOffset() / 2 + 0x10000) & 0xffff;
    return { row: Math.floor(cell / COLUMNS), col: cell % COLUMNS };
  }

  /** Whether the cursor is shown (CRTC register 0x0A bit 5 clear). */
  cursorVisible(): boolean {
    return (this.crtc[CURSOR_START] & CURSOR_DISABLE) === 0;
  }
}
