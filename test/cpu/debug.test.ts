/** Debug registers, single-stepping, alignment checks, and a page fault from ring 3. */
import { describe, expect, it } from 'vitest';
import { ENTER_FLAT_PM, identityMap4M, runAsm } from '../helpers/run-asm.ts';
import { RING3_ENV } from '../helpers/rings-env.ts';

/** A guest in flat protected mode with a #DB handler (vector 1) that records EIP and DR6 and stops. */
function withDbHandler(body: string): string {
  return `${ENTER_FLAT_PM}
    mov eax, db_handler
    mov [0x30000 + 1*8], ax
    mov word [0x30000 + 1*8 + 2], 0x08
    mov word [0x30000 + 1*8 + 4], 0x8e00
    shr eax, 16
    mov [0x30000 + 1*8 + 6], ax
    lidt [idt_desc]
    ${body}
    hlt
  db_handler:
    mov eax, [esp]
    mov [0x600], eax          ; saved EIP
    mov eax, dr6
    mov [0x604], eax
    hlt
  align 4
  idt_desc:
    dw 256*8-1
    dd 0x30000`;
}

describe('debug registers', () => {
  it('an instruction breakpoint is a fault: #DB before the instruction, EIP on it, B0 in DR6', () => {
    const run = runAsm(withDbHandler(`
      mov eax, target
      mov dr0, eax
      mov eax, 1                ; L0, execute, 1 byte
      mov dr7, eax
      mov ebx, 1
    target:
      mov ebx, 2                ; must not run
      nop`));
    const p = run.machine.phys;
    expect(p.read8(p.read(0x600, 4))).toBe(0xbb); // saved EIP: the MOV EBX, 2
    expect(p.read(0x604, 4) & 1).toBe(1);
    expect(run.machine.cpu.reg[3]).toBe(1);
  });

  it('a data breakpoint is a trap: #DB after the write, with EIP past it', () => {
    const run = runAsm(withDbHandler(`
      mov eax, 0x5000
      mov dr1, eax
      mov eax, (1 << 2) | (0b11_01 << 20)   ; L1, writes, 4 bytes
      mov dr7, eax
      mov eax, [0x5000]         ; a read: no break
      mov dword [0x5002], 7     ; overlaps 0x5000-0x5003
    after:
      nop`));
    const p = run.machine.phys;
    expect(p.read(0x5002, 4)).toBe(7); // the write happened
    expect(p.read8(p.read(0x600, 4))).toBe(0x90); // saved EIP: after the write
    expect(p.read(0x604, 4) & 2).toBe(2); // B1
  });

  it('single-stepping (TF) sets DR6.BS and traps after the next instruction', () => {
    const run = runAsm(withDbHandler(`
      pushfd
      or dword [esp], 1 << 8
      popfd                     ; TF takes effect after the next instruction
      mov ecx, 5
      mov ecx, 6`));
    expect(run.machine.phys.read(0x604, 4) & (1 << 14)).toBe(1 << 14);
    expect(run.machine.cpu.reg[1]).toBe(5);
  });
});

describe('resuming after #DB, and single-stepping into a fault', () => {
  /** A flat guest with gates for #DB (1) and #UD (6), each handled by `handlers`. */
  const guest = (body: string, handlers: string) => `${ENTER_FLAT_PM}
    mov eax, db_handler
    mov [0x30000 + 1*8], ax
    mov word [0x30000 + 1*8 + 2], 0x08
    mov word [0x30000 + 1*8 + 4], 0x8e00
    shr eax, 16
    mov [0x30000 + 1*8 + 6], ax
    mov eax, ud_handler
    mov [0x30000 + 6*8], ax
    mov word [0x30000 + 6*8 + 2], 0x08
    mov word [0x30000 + 6*8 + 4], 0x8e00
    shr eax, 16
    mov [0x30000 + 6*8 + 6], ax
    lidt [idt_desc]
    ${body}
    ${handlers}
  align 4
  idt_desc:
    dw 256*8-1
    dd 0x30000`;

  it('IRET with RF set in the image runs the instruction at the breakpoint instead of breaking again', () => {
    const run = runAsm(guest(`
      mov eax, target
      mov dr0, eax
      mov eax, 1                      ; L0, execute
      mov dr7, eax
    target:
      inc dword [0x700]               ; runs once, after the handler resumes with RF
      hlt`, `
    db_handler:
      inc dword [0x704]               ; #DB count
      cmp dword [0x704], 5
      je .stuck
      or dword [esp+8], 1 << 16       ; RF in the saved EFLAGS
      iretd
    .stuck:
      hlt
    ud_handler:
      hlt`));
    const p = run.machine.phys;
    expect(p.read(0x704, 4)).toBe(1);
    expect(p.read(0x700, 4)).toBe(1);
  });

  it('a faulting instruction with TF set gets no single-step #DB: the fault handler runs first, with TF clear', () => {
    const run = runAsm(guest(`
      pushfd
      or dword [esp], 1 << 8          ; TF
      popfd
      nop                             ; the single-step trap after this one
      ud2`, `
    db_handler:
      inc dword [0x700]               ; #DB count (TF stays set in the image)
      iretd
    ud_handler:
      pushfd
      pop dword [0x704]               ; EFLAGS inside the #UD handler
      hlt`));
    const p = run.machine.phys;
    expect(p.read(0x700, 4)).toBe(1); // only the trap after the NOP
    expect(p.read(0x704, 4) & 0x100).toBe(0);
    expect(run.outcome.kind).toBe('halted');
  });
});

describe('alignment checks and ring-3 page faults', () => {
  it('#AC(0) for a misaligned access in ring 3 with CR0.AM and EFLAGS.AC; aligned ones pass', () => {
    const run = runAsm(`${RING3_ENV}
      mov eax, cr0
      or eax, 1 << 18            ; CR0.AM
      mov cr0, eax
      jmp enter_user
    syscall:
    gate_target:
      hlt
    user:
      pushfd
      or dword [esp], 1 << 18    ; EFLAGS.AC
      popfd
      mov eax, [0x900]           ; aligned: fine
      mov [0x904], eax
      mov eax, [0x901]           ; misaligned: #AC`);
    const p = run.machine.phys;
    expect(p.read8(0x600)).toBe(17);
    expect(p.read(0x604, 4)).toBe(0);
    expect(p.read(0x60c, 4)).toBe(0x1b);
  });

  it('a ring-3 write to a supervisor page is #PF with error code 7 (present, write, user)', () => {
    const run = runAsm(`${RING3_ENV}
      ; identity-map 4 MiB with user pages, except page 0x90 (supervisor)
      ${identityMap4M(7)}
      and dword [0x21000 + 0x90*4], ~4
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      jmp enter_user
    syscall:
    gate_target:
      hlt
    user:
      mov eax, [0x80000 - 4]     ; a user page: fine
      mov byte [0x90010], 1      ; supervisor page: #PF`);
    const p = run.machine.phys;
    expect(p.read8(0x600)).toBe(14);
    expect(p.read(0x604, 4)).toBe(7);
    expect(run.machine.cpu.st[57]).toBe(0x90010); // CR2
    expect(p.read8(0x90010)).toBe(0);
  });
});
