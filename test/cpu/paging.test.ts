/**
 * Paging as a 386 does it: two-level tables, 4 MiB pages, permissions with CR0.WP, accessed
 * and dirty bits, #PF with CR2 and the error code, and the TLB against CR3 loads and INVLPG.
 * Each test is a guest in flat 32-bit protected mode that builds its own tables.
 */
import { describe, expect, it } from 'vitest';
import { S_CR2 } from '../../src/cpu/state.ts';
import { ENTER_FLAT_PM, identityMap4M, runAsm } from '../helpers/run-asm.ts';

/**
 * Page directory at 0x20000, one page table at 0x21000 identity-mapping the first 4 MiB
 * (supervisor, writable), paging on; a #PF handler records CR2 and the error code at
 * 0x600/0x604 and stops. `body` runs with paging on.
 */
function pagedGuest(body: string, setup = ''): string {
  return `${ENTER_FLAT_PM}
    ; identity-map 0-4 MiB: present, writable, supervisor
    ${identityMap4M(3)}
    ; #PF handler (vector 14) in an IDT at 0x30000
    mov eax, pf_handler
    mov [0x30000 + 14*8], ax
    mov word [0x30000 + 14*8 + 2], 0x08
    mov word [0x30000 + 14*8 + 4], 0x8e00
    shr eax, 16
    mov [0x30000 + 14*8 + 6], ax
    lidt [idt_desc]
    ${setup}
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ${body}
    hlt
  pf_handler:
    mov eax, cr2
    mov [0x600], eax
    pop eax                 ; the error code
    mov [0x604], eax
    hlt
  align 4
  idt_desc:
    dw 256*8-1
    dd 0x30000`;
}

/** 0x100000 cached as 0x5000, then its PTE changed to 0x6000 without INVLPG, then read again into EAX. */
const CHANGE_A_CACHED_PTE = `
      mov dword [0x5000], 0x55555555
      mov dword [0x6000], 0x66666666
      mov dword [0x21000 + 0x100*4], 0x5003
      mov eax, [0x100000]                     ; caches 0x100000 -> 0x5000
      mov dword [0x21000 + 0x100*4], 0x6003   ; change the PTE, no INVLPG
      mov eax, [0x100000]`;

describe('paging', () => {
  it('maps a virtual page to another physical page', () => {
    const run = runAsm(pagedGuest(`
      mov dword [0x5000], 0xdeadbeef      ; physical 0x5000
      mov dword [0x21000 + 0x100*4], 0x5003 ; virtual 0x100000 -> physical 0x5000
      mov eax, [0x100000]
      mov [0x700], eax`));
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x700, 4) >>> 0).toBe(0xdeadbeef);
  });

  it('a not-present page is #PF with CR2 = the address and error code 0 (read) or 2 (write)', () => {
    const read = runAsm(pagedGuest(`mov eax, [0x500123]`));
    expect(read.machine.phys.read(0x600, 4)).toBe(0x500123);
    expect(read.machine.phys.read(0x604, 4)).toBe(0);
    expect(read.machine.cpu.st[S_CR2]).toBe(0x500123);
    const write = runAsm(pagedGuest(`mov dword [0x21000 + 0x200*4], 0  ; unmap 0x200000
      invlpg [0x200000]
      mov byte [0x200010], 1`));
    expect(write.machine.phys.read(0x600, 4)).toBe(0x200010);
    expect(write.machine.phys.read(0x604, 4)).toBe(2);
  });

  it('a read-only page: a supervisor write faults with CR0.WP set (error 3), succeeds with it clear', () => {
    const readOnly = `mov dword [0x21000 + 0x80*4], 0x80001   ; 0x80000 present, read-only`;
    const wp = runAsm(pagedGuest(`mov eax, cr0
      or eax, 1 << 16
      mov cr0, eax
      mov byte [0x80000], 7`, readOnly));
    expect(wp.machine.phys.read(0x604, 4)).toBe(3);
    expect(wp.machine.phys.read8(0x80000)).toBe(0);
    const noWp = runAsm(pagedGuest(`mov byte [0x80000], 7`, readOnly));
    expect(noWp.machine.phys.read8(0x80000)).toBe(7);
  });

  it('sets accessed bits on reads and the dirty bit on the first write, in the PTE and the PDE', () => {
    const run = runAsm(pagedGuest(`
      mov eax, [0x3000]       ; read page 3
      mov byte [0x4000], 1    ; write page 4
      mov eax, [0x21000 + 3*4]
      mov [0x700], eax
      mov eax, [0x21000 + 4*4]
      mov [0x704], eax
      mov eax, [0x20000]
      mov [0x708], eax`));
    const pte3 = run.machine.phys.read(0x700, 4);
    const pte4 = run.machine.phys.read(0x704, 4);
    expect(pte3 & 0x60).toBe(0x20); // accessed, clean
    expect(pte4 & 0x60).toBe(0x60); // accessed and dirty
    expect(run.machine.phys.read(0x708, 4) & 0x20).toBe(0x20); // the PDE was walked through
  });

  it('4 MiB pages with CR4.PSE', () => {
    const run = runAsm(pagedGuest(`
      mov dword [0x10010], 0x12345678           ; physical 0x10010, through the identity map
      mov eax, [0x810010]                       ; virtual 8 MiB + 0x10010 -> physical 0x10010
      mov [0x700], eax
      mov eax, [0x20000 + 2*4]
      mov [0x704], eax`, `
      mov dword [0x20000 + 2*4], 0x000083       ; virtual 8 MiB: a 4 MiB page at physical 0
      mov eax, cr4
      or eax, 1 << 4
      mov cr4, eax`));
    expect(run.machine.phys.read(0x700, 4)).toBe(0x12345678);
    expect(run.machine.phys.read(0x704, 4) & 0x20).toBe(0x20); // the large page's entry is accessed
  });

  it('the TLB keeps a translation until INVLPG or a CR3 load; global pages survive CR3 loads with CR4.PGE', () => {
    const run = runAsm(pagedGuest(`${CHANGE_A_CACHED_PTE}
      mov [0x700], eax                        ; stale: 0x55555555
      invlpg [0x100000]
      mov eax, [0x100000]
      mov [0x704], eax                        ; fresh: 0x66666666
      ; a global page: CR3 reload keeps it
      mov eax, cr4
      or eax, 1 << 7
      mov cr4, eax
      mov dword [0x21000 + 0x101*4], 0x5103   ; 0x101000 -> 0x5000, global
      mov eax, [0x101000]
      mov dword [0x21000 + 0x101*4], 0x6103
      mov eax, cr3
      mov cr3, eax
      mov eax, [0x101000]
      mov [0x708], eax                        ; still 0x55555555: global
      mov eax, [0x100000]                     ; not global: reloaded
      mov [0x70c], eax`));
    const p = run.machine.phys;
    expect(p.read(0x700, 4)).toBe(0x55555555);
    expect(p.read(0x704, 4)).toBe(0x66666666);
    expect(p.read(0x708, 4)).toBe(0x55555555);
    expect(p.read(0x70c, 4)).toBe(0x66666666);
  });

  it('a write to a page holding decoded code goes through the translation the TLB holds, as any write does', () => {
    // Writes to code pages take the slow path (the decoded blocks must hear of them); that path
    // must not walk the tables again, or a changed PTE would take effect without INVLPG there only.
    const run = runAsm(pagedGuest(`
      mov dword [0x21000 + 0x100*4], 0x7043   ; 0x100000 -> 0x7000 (the frame this code runs in), dirty
      mov eax, [0x100000]                     ; caches it
      mov dword [0x21000 + 0x100*4], 0x6003   ; change the PTE, no INVLPG
      mov dword [0x100ff0], 0x12345678        ; through the cached translation: 0x7ff0`));
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x7ff0, 4)).toBe(0x12345678);
    expect(run.machine.phys.read(0x6ff0, 4)).toBe(0);
  });

  it.each([true, false])('instruction fetch goes through the translation the TLB holds, as the decoded blocks do (decoded blocks: %s)', (blocks) => {
    // A fetch that starts afresh (after a far jump) must not walk the tables again while the TLB
    // holds the code page: else a PTE changed without INVLPG took effect where the CPU happened to
    // single-step (a budget's end, an exit) and not in a decoded block, and runs differed by budget.
    const run = runAsm(pagedGuest(`
      mov edi, 0x6000
      mov ecx, 1024
      mov eax, 0xf4f4f4f4
      rep stosd                               ; frame 0x6000: all HLT
      mov ebx, next
      shr ebx, 12
      mov dword [0x21000 + ebx*4], 0x6003     ; this code's page now maps to it, no INVLPG
      jmp 0x08:next                           ; a far jump: the fetch starts afresh
  next:
      mov dword [0x700], 0x11111111           ; fetched through the TLB's translation`), { prepare: (m) => (m.cpu.useDecodedBlocks = blocks) });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x700, 4)).toBe(0x11111111);
  });

  it('with a data breakpoint armed (every access takes the slow path) a read still goes through the translation the TLB holds', () => {
    const run = runAsm(pagedGuest(`
      mov eax, 0x800
      mov dr0, eax
      mov eax, 0xf0001                        ; DR0: 4 bytes, reads and writes, enabled (elsewhere: it never fires)
      mov dr7, eax
      ${CHANGE_A_CACHED_PTE}
      mov [0x700], eax                        ; stale: 0x55555555, as without the breakpoint`));
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x700, 4)).toBe(0x55555555);
  });

  it('a TLB that snoops table writes (the fuzz\'s second reference) drops the translation once the writing instruction ends', () => {
    const run = runAsm(pagedGuest(`${CHANGE_A_CACHED_PTE}
      mov [0x700], eax                        ; fresh: 0x66666666`), { prepare: (m) => m.cpu.snoopPagingStructureWrites() });
    expect(run.machine.phys.read(0x700, 4)).toBe(0x66666666);
  });

  it.each(['bare', 'ept', 'shadow'] as const)('with the A20 gate closed the page tables\' physical addresses lose bit 20, under %s', (mode) => {
    const run = runAsm(pagedGuest(`
      mov dword [0x22000], 0x21003            ; a second directory with the same table
      mov eax, 0x22000
      mov cr3, eax
      mov eax, [0x100000]
      mov eax, 0x20000
      mov cr3, eax                            ; (two roots in the shadow cache when the gate moves)
      in al, 0x92
      and al, ~2
      out 0x92, al                            ; A20 closed
      mov dword [0x100800], 0x1234            ; identity-mapped: physical 0x100800, through the gate 0x800`), { mode });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x800, 4)).toBe(0x1234);
    expect(run.machine.phys.read(0x100800, 4)).toBe(0);
  });

  it('a read-modify-write to a read-only page faults before it changes anything', () => {
    const run = runAsm(pagedGuest(`
      mov byte [0x80000], 5
      mov eax, cr0
      or eax, 1 << 16
      mov cr0, eax
      mov dword [0x21000 + 0x80*4], 0x80021   ; read-only now
      invlpg [0x80000]
      stc
      add byte [0x80000], 1`));
    expect(run.machine.phys.read(0x604, 4)).toBe(3);
    expect(run.machine.phys.read8(0x80000)).toBe(5);
  });
});
