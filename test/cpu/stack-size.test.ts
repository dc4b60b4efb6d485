/**
 * The stack's address size (SS's B bit) against the operand size, and instructions that change
 * SS or touch the stack beyond their pushes: POP SS steps the stack pointer by the old SS's
 * size; ENTER's frame pointer is all of ESP on a 16-bit stack with a 32-bit operand, and a
 * write at its final stack pointer must be possible (#PF otherwise, with nothing changed);
 * PUSHA that faults part-way leaves ESP as it was.
 */
import { describe, expect, it } from 'vitest';
import { EBP, ESP, S_CR2 } from '../../src/cpu/state.ts';
import { identityMap4M, runAsm } from '../helpers/run-asm.ts';
import { gdtWith, RING3_ENV } from '../helpers/rings-env.ts';

/** GDT entry 0x40: writable data, base 0, limit 4 GiB (G), B = 0: a 16-bit stack. */
const STACK16 = '0x008f92000000ffff';

/**
 * Runs `kernel` in ring 0 after the ring-3 environment (exceptions recorded at 0x600...), and
 * `user` at `user:` when the kernel jumps to `enter_user`. With `paging`, the first 4 MiB are
 * identity-mapped (user, writable; tables at 0x20000/0x21000) and `paging` runs before CR0.PG
 * is set, to change page table entries. `descriptors` go in a GDT from selector 0x40.
 */
function guest(kernel: string, options: { user?: string; paging?: string; descriptors?: string[] } = {}) {
  const { user = '', paging, descriptors } = options;
  const pagingSetup = paging === undefined ? '' : `
      ${identityMap4M(7)}
      ${paging}
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax`;
  const run = runAsm(`${RING3_ENV}
      mov byte [0x600], 0xff        ; no exception yet
      ${descriptors ? 'lgdt [gdt3_desc]' : ''}
      ${pagingSetup}
      ${kernel}
      hlt
    syscall:
    gate_target:
      hlt
    user:
      ${user}
      int 0x80
    ${gdtWith(descriptors ?? [])}`);
  const p = run.machine.phys;
  const dword = (a: number) => p.read(a, 4) >>> 0;
  return {
    run,
    dword,
    vector: p.read8(0x600),
    error: dword(0x604) | 0,
    savedEsp: dword(0x614),
    handlerEsp: dword(0x61c),
  };
}

describe('POP SS: the stack pointer steps by the old stack\'s size', () => {
  it('o32 pop ss from a 16-bit stack to a 32-bit one wraps SP only', () => {
    const g = guest(`
      mov ax, 0x40
      mov ss, ax                 ; 16-bit stack
      mov esp, 0x0002fffc
      mov dword [0xfffc], 0x10
      pop ss                     ; 32-bit operand: SP 0xFFFC + 4 wraps to 0
      mov [0x700], esp`, { descriptors: [STACK16] });
    expect(g.vector).toBe(0xff);
    expect(g.dword(0x700)).toBe(0x00020000);
  });

  it('o16 pop ss from a 16-bit stack to a 32-bit one, and from a 32-bit stack to a 16-bit one', () => {
    const g = guest(`
      mov ax, 0x40
      mov ss, ax                 ; 16-bit stack
      mov esp, 0x0002fffe
      mov word [0xfffe], 0x10
      o16 pop ss                 ; SP 0xFFFE + 2 wraps to 0; now a 32-bit stack
      mov [0x700], esp
      mov esp, 0x0001fffe
      mov word [0x1fffe], 0x40
      o16 pop ss                 ; ESP + 2 (32-bit); now a 16-bit stack
      mov [0x704], esp`, { descriptors: [STACK16] });
    expect(g.vector).toBe(0xff);
    expect(g.dword(0x700)).toBe(0x00020000);
    expect(g.dword(0x704)).toBe(0x00020000);
  });
});

describe('ENTER', () => {
  it('o32 enter on a 16-bit stack: the frame pointer is all of ESP (its upper half kept), nested pointers read at BP', () => {
    const run = runAsm(`
      cli
      xor ax, ax
      mov ds, ax
      mov ax, 0x2000
      mov ss, ax
      mov esp, 0x00010000        ; SP = 0: the first push wraps
      mov ebp, 0x00031000        ; BP = 0x1000
      mov dword [ss:0x0ffc], 0x11111111
      mov dword [ss:0x0ff8], 0x22222222
      mov dword [ss:0x0ff4], 0x33333333
      o32 enter 8, 4
      mov [0x700], ebp
      mov [0x704], esp
      hlt`);
    const p = run.machine.phys;
    const stack = (offset: number) => p.read(0x20000 + offset, 4) >>> 0;
    expect(run.outcome.kind).toBe('halted');
    expect(p.read(0x700, 4) >>> 0).toBe(0x0001fffc);
    expect(p.read(0x704, 4) >>> 0).toBe(0x0001ffe4); // 0x1FFEC - 8, SP only
    expect(stack(0xfffc)).toBe(0x00031000); // the old EBP
    expect([stack(0xfff8), stack(0xfff4), stack(0xfff0)]).toEqual([0x11111111, 0x22222222, 0x33333333]);
    expect(stack(0xffec)).toBe(0x0001fffc); // the frame pointer pushed
  });

  it('a 16-bit enter on a 32-bit stack makes BP the low half of ESP', () => {
    const g = guest(`
      mov esp, 0x00091234
      mov ebp, 0xabcd5678
      o16 enter 0x10, 1
      mov [0x700], ebp
      mov [0x704], esp
      mov eax, [0x91230]
      mov [0x708], eax`);
    expect(g.vector).toBe(0xff);
    expect(g.dword(0x700)).toBe(0xabcd1232);
    expect(g.dword(0x704)).toBe(0x00091230 - 0x10);
    expect(g.dword(0x708)).toBe(0x56781232); // the pushed BP 0x5678 over the frame pointer 0x1232
  });

  it('a write at the final stack pointer that would page-fault is #PF(W), nothing changed, though the pushes succeed', () => {
    const g = guest(`
      mov esp, 0x80100
      mov ebp, 0x1234
      enter 0x120, 0             ; pushes at 0x800FC; the frame ends at 0x7FFDC, not present
      mov byte [0x780], 1`, { paging: 'mov dword [0x21000 + 0x7f*4], 0' });
    expect(g.vector).toBe(14);
    expect(g.error).toBe(2);
    expect(g.run.machine.cpu.st[S_CR2] >>> 0).toBe(0x7ffdc); // the final stack pointer
    expect(g.handlerEsp).toBe(0x80100 - 16); // error code, EIP, CS, EFLAGS below the ESP ENTER began with
    expect(g.run.machine.cpu.reg[EBP]).toBe(0x1234);
    expect(g.dword(0x780)).toBe(0);
  });

  it('from ring 3, a read-only page at the final stack pointer is #PF(P|W|U) with ESP and EBP as they were', () => {
    const g = guest('jmp enter_user', {
      paging: 'mov dword [0x21000 + 0x7e*4], 0x7e005   ; 0x7E000: present, user, read-only',
      user: `
      mov ebp, 0x1234
      enter 0x1000, 0            ; push at 0x7FFFC; the frame ends at 0x7EFFC`,
    });
    expect(g.vector).toBe(14);
    expect(g.error).toBe(7);
    // The final stack pointer (Cpu.probeWrite, which ENTER's check shares with read-modify-write
    // instructions, reported its page's first byte in CR2).
    expect(g.run.machine.cpu.st[S_CR2] >>> 0).toBe(0x7effc);
    expect(g.savedEsp).toBe(0x80000);
    expect(g.run.machine.cpu.reg[EBP]).toBe(0x1234);
  });

  it('an ENTER whose final stack pointer is writable runs under paging', () => {
    const g = guest(`
      mov esp, 0x80010
      mov ebp, 0x1234
      enter 0x20, 0
      mov [0x700], esp
      mov [0x704], ebp`, { paging: '' });
    expect(g.vector).toBe(0xff);
    expect(g.dword(0x700)).toBe(0x7ffec);
    expect(g.dword(0x704)).toBe(0x8000c);
    expect(g.run.machine.cpu.reg[ESP]).toBe(0x7ffec);
  });
});

describe('PUSHA', () => {
  it('a push that faults part-way leaves ESP as it was (restartable)', () => {
    // SS 0x43: ring-3 writable data, base 0, limit 1 MiB (byte granular), 32-bit.
    const g = guest('jmp enter_user', {
      descriptors: ['0x004ff2000000ffff'],
      user: `
      mov ax, 0x43
      mov ss, ax
      mov esp, 0x10
      pushad                     ; four pushes fit, the fifth wraps to 0xFFFFFFFC: #SS(0)`,
    });
    expect(g.vector).toBe(12);
    expect(g.error).toBe(0);
    expect(g.savedEsp).toBe(0x10);
    expect(g.dword(0x618)).toBe(0x43);
  });
});
