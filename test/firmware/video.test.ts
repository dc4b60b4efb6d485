/** INT 10h on the VGA text screen: teletype, cursor, scrolling, character and string writes. */
import { describe, expect, it } from 'vitest';
import { HALT, RECORD_MACRO, recorded } from './calls.ts';
import { boot, bootSector, guestImage } from './harness.ts';

describe('INT 10h', () => {
  it('prints the banner and the teletype output on the screen, with the hardware cursor after it', () => {
    const { machine } = boot({ floppy: guestImage('hello') });
    const lines = machine.vga.lines();
    expect(lines[0].trimEnd()).toBe('minivisor BIOS');
    expect(lines[1].trimEnd()).toBe('Hello, world!');
    expect(lines[2].trim()).toBe('');
    expect(machine.vga.cursor()).toEqual({ row: 2, col: 0 });
    expect(machine.vga.attributeAt(1, 0)).toBe(0x07);
    expect(machine.phys.read(0x450, 2)).toBe(0x0200); // row 2, column 0 in the BDA
  });

  it('sets and gets the cursor (AH=02h/03h), moves the CRTC cursor, and reports the mode (AH=0Fh)', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x02
  xor bh, bh
  mov dx, 0x0a05      ; row 10, column 5
  int 0x10
  mov ah, 0x03
  xor bh, bh
  int 0x10
  RECORD 0
  mov ah, 0x0f
  int 0x10
  RECORD 1
  mov ah, 0x01
  mov cx, 0x2000      ; hide the cursor
  int 0x10
  mov ah, 0x03
  int 0x10
  RECORD 2
${HALT}`),
    });
    expect(recorded(machine, 0)).toMatchObject({ dx: 0x0a05, cx: 0x0607 });
    expect(recorded(machine, 1)).toMatchObject({ al: 3, ah: 80, bh: 0 });
    expect(recorded(machine, 2).cx).toBe(0x2000);
    expect(machine.vga.cursor()).toEqual({ row: 10, col: 5 });
    expect(machine.vga.cursorVisible()).toBe(false);
  });

  it('writes characters with and without attributes (AH=09h/0Ah) and reads them back (AH=08h)', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x02
  xor bh, bh
  mov dx, 0x0500
  int 0x10
  mov ax, 0x0941      ; 'A', attribute 1Eh, 5 times
  mov bx, 0x001e
  mov cx, 5
  int 0x10
  mov ax, 0x0a42      ; 'B' 2 times, attributes kept
  mov cx, 2
  int 0x10
  mov ah, 0x08
  int 0x10
  RECORD 0
${HALT}`),
    });
    expect(machine.vga.lines()[5].trimEnd()).toBe('BBAAA');
    expect(machine.vga.attributeAt(5, 0)).toBe(0x1e);
    expect(machine.vga.attributeAt(5, 4)).toBe(0x1e);
    expect(machine.vga.attributeAt(5, 5)).toBe(0x07);
    expect(recorded(machine, 0).ax).toBe(0x1e42);
    expect(machine.vga.cursor()).toEqual({ row: 5, col: 0 }); // 09h/0Ah do not move it
  });

  it('writes strings in all four modes of AH=13h', () => {
    const { machine, text } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov bp, plain
  mov ax, 0x1300      ; mode 0: attribute in BL, cursor stays
  mov bx, 0x0017
  mov cx, 3
  mov dx, 0x0300
  int 0x10
  mov ah, 0x03
  int 0x10
  RECORD 0
  mov bp, plain
  mov ax, 0x1301      ; mode 1: attribute in BL, cursor moves
  mov bx, 0x0070
  mov cx, 3
  mov dx, 0x0400
  int 0x10
  mov ah, 0x03
  int 0x10
  RECORD 1
  mov bp, pairs
  mov ax, 0x1302      ; mode 2: character, attribute pairs, cursor stays
  mov cx, 2
  mov dx, 0x0600
  int 0x10
  mov bp, pairs
  mov ax, 0x1303      ; mode 3: pairs, cursor moves
  mov cx, 2
  mov dx, 0x0700
  int 0x10
  mov ah, 0x03
  int 0x10
  RECORD 2
${HALT}
plain: db 'abc'
pairs: db 'X', 0x4f, 'Y', 0x2a`),
    });
    const lines = machine.vga.lines();
    expect(lines[3].trimEnd()).toBe('abc');
    expect(lines[4].trimEnd()).toBe('abc');
    expect(lines[6].trimEnd()).toBe('XY');
    expect(lines[7].trimEnd()).toBe('XY');
    expect(machine.vga.attributeAt(3, 0)).toBe(0x17);
    expect(machine.vga.attributeAt(4, 2)).toBe(0x70);
    expect([machine.vga.attributeAt(7, 0), machine.vga.attributeAt(7, 1)]).toEqual([0x4f, 0x2a]);
    expect(recorded(machine, 0).dx).toBe(0x0100); // back where it was, below the banner
    expect(recorded(machine, 1).dx).toBe(0x0403);
    expect(recorded(machine, 2).dx).toBe(0x0702);
    expect(text).toBe('minivisor BIOS\nabcabcXYXY');
  });

  it('scrolls the screen up at the bottom, and scrolls windows up and down (AH=06h/07h)', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov cx, 30
  mov bl, 'a'
.line:
  mov ah, 0x0e
  mov al, bl
  int 0x10
  mov al, 13
  int 0x10
  mov al, 10
  int 0x10
  inc bl
  loop .line
  ; window rows 2-5, columns 0-9: up 1 line, blank attribute 1Fh
  mov ax, 0x0601
  mov bh, 0x1f
  mov cx, 0x0200
  mov dx, 0x0509
  int 0x10
  ; window rows 10-12, columns 0-79: down 2 lines
  mov ax, 0x0702
  mov bh, 0x07
  mov cx, 0x0a00
  mov dx, 0x0c4f
  int 0x10
${HALT}`),
    });
    const lines = machine.vga.lines().map((l) => l.trimEnd());
    // 31 lines (banner + 30) and the empty line the cursor is on went through 25 rows: the top 7 scrolled off.
    expect(lines[0]).toBe('g');
    expect(lines[1]).toBe('h');
    expect(lines.slice(2, 6)).toEqual(['j', 'k', 'l', '']); // the window (i, j, k, l) moved up one
    expect(machine.vga.attributeAt(5, 0)).toBe(0x1f);
    expect(lines.slice(10, 13)).toEqual(['', '', 'q']); // the window (q, r, s) moved down two
    expect(lines[23]).toBe('~'); // the 30th character after 'a'
    expect(lines[24]).toBe('');
    expect(machine.vga.cursor()).toEqual({ row: 24, col: 0 });
  });
});
