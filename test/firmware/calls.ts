/**
 * Focused BIOS tests: a boot sector makes BIOS calls and records the registers after each one
 * at 0000:0600 (16 bytes per call); the test reads them back from guest memory.
 */
import type { Machine } from '../../src/machine/machine.ts';

/** A NASM macro for the guest: RECORD n stores AX, BX, CX, DX, FLAGS, ES, DI, SI after call n. DS must be 0. */
export const RECORD_MACRO = `
%macro RECORD 1
  pushf
  mov [0x600 + %1*16 + 0], ax
  mov [0x600 + %1*16 + 2], bx
  mov [0x600 + %1*16 + 4], cx
  mov [0x600 + %1*16 + 6], dx
  pop word [0x600 + %1*16 + 8]
  mov [0x600 + %1*16 + 10], es
  mov [0x600 + %1*16 + 12], di
  mov [0x600 + %1*16 + 14], si
%endmacro
  xor ax, ax
  mov ds, ax
  mov es, ax
`;

/** Ends a test guest. */
export const HALT = `
.halt:
  cli
  hlt
  jmp .halt
`;

export interface Recorded {
  ax: number; ah: number; al: number; bx: number; bh: number; bl: number;
  cx: number; ch: number; cl: number; dx: number; dh: number; dl: number;
  flags: number; cf: boolean; zf: boolean; es: number; di: number; si: number;
}

/** The registers the guest recorded after call `n`. */
export function recorded(machine: Machine, n: number): Recorded {
  const at = 0x600 + n * 16;
  const w = (o: number) => machine.phys.read(at + o, 2);
  const ax = w(0), bx = w(2), cx = w(4), dx = w(6), flags = w(8);
  return {
    ax, ah: ax >> 8, al: ax & 0xff, bx, bh: bx >> 8, bl: bx & 0xff, cx, ch: cx >> 8, cl: cx & 0xff,
    dx, dh: dx >> 8, dl: dx & 0xff, flags, cf: (flags & 1) !== 0, zf: (flags & 0x40) !== 0, es: w(10), di: w(12), si: w(14),
  };
}
