/** Descriptor checks when loading segment registers and entering handlers, each with its exception and error code. */
import { describe, expect, it } from 'vitest';
import { runAsm } from '../helpers/run-asm.ts';
import { gdtWith, RING3_ENV } from '../helpers/rings-env.ts';

/** Runs ring-0 `code` after the environment, with extra GDT entries at selectors 0x40, 0x48, ... */
function ring0(code: string, descriptors: string[] = []) {
  const run = runAsm(`${RING3_ENV}
      lgdt [gdt3_desc]
      ${code}
      hlt
    syscall:
    gate_target:
      hlt
    user:
    ${gdtWith(descriptors)}`);
  const p = run.machine.phys;
  return { run, vector: p.read8(0x600), error: p.read(0x604, 4) | 0 };
}

describe('descriptor checks', () => {
  it('a not-present data segment is #NP(selector); a not-present stack segment is #SS(selector)', () => {
    expect(ring0('mov ax, 0x40\n mov ds, ax', ['0x00cf12000000ffff'])).toMatchObject({ vector: 11, error: 0x40 });
    expect(ring0('mov ax, 0x40\n mov ss, ax', ['0x00cf12000000ffff'])).toMatchObject({ vector: 12, error: 0x40 });
  });

  it('SS must be a writable data segment with RPL = DPL = CPL: #GP(selector) otherwise', () => {
    expect(ring0('mov ax, 0x40\n mov ss, ax', ['0x00cf90000000ffff'])).toMatchObject({ vector: 13, error: 0x40 }); // read-only
    expect(ring0('mov ax, 0x23\n mov ss, ax')).toMatchObject({ vector: 13, error: 0x20 }); // DPL 3 at CPL 0
    expect(ring0('mov ax, 0x08\n mov ss, ax')).toMatchObject({ vector: 13, error: 0x08 }); // code
  });

  it('an execute-only code segment cannot be loaded into DS; a readable one can', () => {
    expect(ring0('mov ax, 0x40\n mov ds, ax', ['0x00cf98000000ffff'])).toMatchObject({ vector: 13, error: 0x40 });
    expect(ring0('mov ax, 0x40\n mov ds, ax', ['0x00cf9a000000ffff'])).toMatchObject({ vector: 0 });
  });

  it('code in an execute-only segment runs, but reading through CS is #GP(0); with R set it reads', () => {
    const readCs = 'jmp 0x40:.here\n .here:\n mov eax, [cs:0x7c00]\n mov [0x780], eax';
    expect(ring0(readCs, ['0x00cf98000000ffff'])).toMatchObject({ vector: 13, error: 0 });
    const readable = ring0(readCs, ['0x00cf9a000000ffff']);
    expect(readable.vector).toBe(0);
    expect(readable.run.machine.phys.read(0x780, 4)).toBe(readable.run.machine.phys.read(0x7c00, 4));
  });

  it('expand-down: offsets above the limit are valid, at or below it #GP(0)', () => {
    // base 0, limit 0x0FFF, expand-down, 32-bit (B): valid offsets 0x1000-0xFFFFFFFF
    const descriptor = '0x0040960000000fff';
    expect(ring0('mov ax, 0x40\n mov es, ax\n mov eax, [es:0x2000]', [descriptor])).toMatchObject({ vector: 0 });
    expect(ring0('mov ax, 0x40\n mov es, ax\n mov eax, [es:0x0ff0]', [descriptor])).toMatchObject({ vector: 13, error: 0 });
  });

  it('a far jump to a conforming code segment with a lower DPL keeps the CPL; to a non-conforming one of another DPL is #GP', () => {
    const conforming = ring0('jmp 0x40:.here\n .here:\n mov ax, cs\n mov [0x780], ax', ['0x00cf9e000000ffff']);
    expect(conforming.vector).toBe(0);
    expect(conforming.run.machine.phys.read(0x780, 2)).toBe(0x40);
    expect(ring0('jmp 0x18:0')).toMatchObject({ vector: 13, error: 0x18 }); // ring-3 code from ring 0
  });

  it('a far jump past the new segment\'s limit is #GP(0) with the old CS saved: nothing changed before the check', () => {
    const jump = ring0('jmp 0x40:0x12345', ['0x00409a000000ffff']); // 32-bit code, limit 0xFFFF
    expect(jump).toMatchObject({ vector: 13, error: 0 });
    expect(jump.run.machine.phys.read(0x60c, 4)).toBe(0x08);
  });

  it('a near JMP, CALL or RET past the CS limit is #GP(0) at the branch, nothing changed', () => {
    // CS 0x40: 32-bit code, base 0, limit 0xFFFF (the code is at 0x7C00).
    for (const branch of ['jmp dword 0x12345', 'call dword 0x12345', 'push dword 0x12345\n ret']) {
      const near = ring0(`jmp 0x40:.here
      .here:
        mov esp, 0x90000
        ${branch}`, ['0x00409a000000ffff']);
      expect(near).toMatchObject({ vector: 13, error: 0 });
      const p = near.run.machine.phys;
      expect(p.read(0x60c, 4)).toBe(0x40);
      expect([0xe9, 0xe8, 0xc3]).toContain(p.read8(p.read(0x608, 4))); // the saved EIP: the branch itself
      const espAtBranch = branch.startsWith('push') ? 0x90000 - 4 : 0x90000; // CALL pushed nothing
      expect(p.read(0x61c, 4)).toBe(espAtBranch - 16); // below the error code, EIP, CS, EFLAGS
    }
  });

  it('ENTER whose frame falls outside SS is #SS(0) with ESP and EBP as before (restartable)', () => {
    // SS 0x40: writable data, base 0, limit 1 MiB (4 KiB granularity, 32-bit).
    const enter = ring0('mov ax, 0x40\n mov ss, ax\n mov esp, 0x1000\n mov ebp, 0x1234\n enter 0x2000, 0', ['0x00c09200000000ff']);
    expect(enter).toMatchObject({ vector: 12, error: 0 });
    expect(enter.run.machine.phys.read(0x61c, 4)).toBe(0x1000 - 16); // error code, EIP, CS, EFLAGS below the untouched ESP
    expect(enter.run.machine.cpu.reg[5]).toBe(0x1234);
  });

  it('a selector past the GDT limit is #GP(selector), also with RPL bits', () => {
    expect(ring0('mov ax, 0x1f3\n mov ds, ax')).toMatchObject({ vector: 13, error: 0x1f0 });
  });
});

describe('gate types', () => {
  it('an interrupt gate clears IF; a trap gate leaves it set', () => {
    const run = runAsm(`${RING3_ENV}
      ; vector 0x50: trap gate to trap_handler; vector 0x51: interrupt gate to int_handler
      mov eax, trap_handler
      mov [idt + 0x50*8], ax
      mov word [idt + 0x50*8 + 2], 0x08
      mov word [idt + 0x50*8 + 4], 0x8f00
      shr eax, 16
      mov [idt + 0x50*8 + 6], ax
      mov eax, int_handler
      mov [idt + 0x51*8], ax
      mov word [idt + 0x51*8 + 2], 0x08
      mov word [idt + 0x51*8 + 4], 0x8e00
      shr eax, 16
      mov [idt + 0x51*8 + 6], ax
      sti
      int 0x50
      int 0x51
      hlt
    trap_handler:
      pushfd
      pop dword [0x790]
      iretd
    int_handler:
      pushfd
      pop dword [0x794]
      iretd
    syscall:
    gate_target:
      hlt
    user:`);
    const p = run.machine.phys;
    expect(p.read(0x790, 4) & 0x200).toBe(0x200);
    expect(p.read(0x794, 4) & 0x200).toBe(0);
  });
});

describe('double fault', () => {
  it('#NP while delivering #GP (both contributory) becomes #DF, delivered with error code 0', () => {
    const run = runAsm(`${RING3_ENV}
      and byte [idt + 13*8 + 5], 0x7f   ; the #GP gate: not present
      mov ax, 0x1234
      mov ds, ax                        ; past the GDT limit: #GP, whose delivery raises #NP
      hlt
    syscall:
    gate_target:
      hlt
    user:`);
    const p = run.machine.phys;
    expect(run.outcome.kind).toBe('halted');
    expect(p.read8(0x600)).toBe(8);
    expect(p.read(0x604, 4)).toBe(0);
  });
});
