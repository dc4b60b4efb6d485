/**
 * A REP string instruction runs in chunks (Cpu.repChunk iterations) and can be split by VM exits;
 * it is fetched once, as hardware fetches it, and traced iteration by iteration under TF.
 */
import { describe, expect, it } from 'vitest';
import { ENTER_FLAT_PM, identityMap4M, realModeWithHandler, runAsm } from '../helpers/run-asm.ts';

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

describe('REP STOS and MOVS in 32-bit code, a page at a time', () => {
  // Paging on, the first 4 MiB mapped but for page 0x203000; a #PF handler records ECX, EDI and CR2.
  const guest = `
${ENTER_FLAT_PM}
${identityMap4M(3)}
  mov dword [0x21000 + 0x203 * 4], 0
  mov eax, 0x20000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  mov eax, page_fault
  mov [0x40000 + 14 * 8], ax
  mov word [0x40000 + 14 * 8 + 2], 0x08
  mov word [0x40000 + 14 * 8 + 4], 0x8e00
  shr eax, 16
  mov [0x40000 + 14 * 8 + 6], ax
  lidt [idtr]
  cld
  mov edi, 0x200ffe                     ; unaligned, across two page boundaries
  mov eax, 0x11223344
  mov ecx, 0x500
  rep stosd
  mov byte [0x210000], 0x5a             ; a destination one byte above its source: the byte repeats
  mov esi, 0x210000
  mov edi, 0x210001
  mov ecx, 300
  rep movsb
  mov esi, 0x200ffe                     ; the pattern, copied elsewhere
  mov edi, 0x220002
  mov ecx, 0x500
  rep movsd
  mov esi, 0x220002                     ; a copy onto itself shifted down by two bytes
  mov edi, 0x220000
  mov ecx, 0x1400
  rep movsb
  mov edi, 0x202ff0                     ; into the page that is not there
  mov al, 0x77
  mov ecx, 0x100
  rep stosb
  hlt
page_fault:
  mov [0x7000], ecx
  mov [0x7004], edi
  mov eax, cr2
  mov [0x7008], eax
  mov al, 0
  out 0xf4, al
idtr:
  dw 15 * 8 - 1
  dd 0x40000`;

  it.each(['bare', 'ept', 'shadow'] as const)('leave memory and registers as element by element, and fault at the first element of a missing page, under %s', (mode) => {
    const run = runAsm(guest, { mode });
    expect(run.outcome).toEqual({ kind: 'exit', status: 1 });
    const p = run.machine.phys;
    const pattern = [0x44, 0x33, 0x22, 0x11];
    const stored = Array.from(p.dump(0x200ffe, 0x1400));
    expect(stored.every((b, i) => b === pattern[i & 3])).toBe(true);
    expect([p.read(0x200ffd, 1), p.read(0x2023fe, 1)]).toEqual([0, 0]);
    expect(Array.from(p.dump(0x210000, 301)).every((b) => b === 0x5a)).toBe(true);
    expect(p.read(0x21012d, 1)).toBe(0);
    const moved = Array.from(p.dump(0x220000, 0x1400));
    expect(moved.every((b, i) => b === pattern[i & 3])).toBe(true);
    expect([p.read(0x7000, 4), p.read(0x7004, 4), p.read(0x7008, 4)]).toEqual([0x100 - 0x10, 0x203000, 0x203000]);
    expect(p.read(0x202fff, 1)).toBe(0x77);
  });
});
