/**
 * A REP string instruction runs in chunks (Cpu.repChunk iterations) and can be split by VM exits;
 * it is fetched once, as hardware fetches it, and traced iteration by iteration under TF.
 */
import { describe, expect, it } from 'vitest';
import { realModeWithHandler, runAsm } from '../helpers/run-asm.ts';

describe('REP string instructions stopped part-way', () => {
  it.each(['bare', 'ept', 'shadow'] as const)('a REP STOSB that overwrites its own bytes runs to its end, fetched once, under %s', (mode) => {
    // Downwards from its own last byte, 0x3000 NOPs: its bytes are gone in the first chunk, so
    // the chunks after it would decode a NOP if the instruction were fetched again at each.
    const run = runAsm(`
      xor ax, ax
      mov es, ax
      std
      mov di, here + 1
      mov cx, 0x3000
      mov al, 0x90
    here:
      rep stosb
      cld
      mov [0x600], cx
      mov [0x602], di
      mov word [0x604], here
      hlt`, { mode });
    expect(run.outcome.kind).toBe('halted');
    const p = run.machine.phys;
    expect(p.read(0x600, 2)).toBe(0);
    expect(p.read(0x602, 2)).toBe(p.read(0x604, 2) + 1 - 0x3000);
  });

  it.each(['bare', 'ept', 'shadow'] as const)('with TF set, #DB comes after each iteration, EIP on the instruction until the last, under %s', (mode) => {
    const run = runAsm(`
      ${realModeWithHandler(1, 'db')}
      mov di, 0x800
      mov cx, 3
      pushf
      mov bp, sp
      or word [bp], 0x100
      popf                                    ; TF from the next instruction on
      nop
    rep_at:
      rep stosb
      pushf
      mov bp, sp
      and word [bp], ~0x100
      popf
      hlt
    db:
      push bp
      mov bp, sp
      cmp word [bp + 2], rep_at
      jne .other
      inc word [0x600]                        ; a trap with IP still on the REP
      mov [0x602], cx
    .other:
      pop bp
      iret`, { mode });
    expect(run.outcome.kind).toBe('halted');
    const p = run.machine.phys;
    expect(p.read(0x600, 2)).toBe(3); // after the NOP, and after iterations 1 and 2 (the third ends it: IP past)
    expect(p.read(0x602, 2)).toBe(1); // CX at the second
    expect(run.machine.cpu.reg[7] & 0xffff).toBe(0x803);
  });
});
