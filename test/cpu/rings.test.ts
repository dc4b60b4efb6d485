/**
 * Privilege levels: ring 3 to ring 0 through interrupt and call gates with the TSS's stack,
 * back with IRET and RETF; privileged and IOPL-sensitive instructions faulting in ring 3 with
 * the faulting EIP saved; the I/O permission bitmap; data segments dropped on a return to an
 * outer ring; hardware task switches; virtual-8086 mode.
 */
import { describe, expect, it } from 'vitest';
import { CS, S_CPL, SS } from '../../src/cpu/state.ts';
import { runAsm } from '../helpers/run-asm.ts';
import { RING3_ENV } from '../helpers/rings-env.ts';

const record = (run: ReturnType<typeof runAsm>) => {
  const p = run.machine.phys;
  const dword = (a: number) => p.read(a, 4) >>> 0;
  return { vector: p.read8(0x600), error: dword(0x604) | 0, eip: dword(0x608), cs: dword(0x60c), eflags: dword(0x610), esp: dword(0x614), ss: dword(0x618), handlerEsp: dword(0x61c) };
};

/** Runs `user` in ring 3, with `kernel` code (ring 0) after the environment is built. */
function ring3(user: string, kernel = '', extra = '') {
  return runAsm(`${RING3_ENV}
    ${kernel}
    jmp enter_user
  syscall:
    ; int 0x80 from ring 3: record the frame (EIP, CS, EFLAGS, ESP, SS) and the CPL we run at
    push ds
    mov ax, 0x10
    mov ds, ax
    pop eax
    mov [0x738], eax        ; the caller's DS
    mov eax, [esp]
    mov [0x700], eax
    mov eax, [esp + 4]
    mov [0x704], eax
    mov eax, [esp + 12]
    mov [0x70c], eax
    mov eax, [esp + 16]
    mov [0x710], eax
    mov [0x714], esp
    mov ax, cs
    mov [0x718], ax
    inc dword [0x71c]        ; calls counted
    cmp dword [0x71c], 2
    je .stop
    mov ax, 0x23             ; give ring 3 its data segment back
    mov ds, ax
    iretd
  .stop:
    hlt
  gate_target:
    ; a call through the gate from ring 3: [esp] EIP, CS, param2, param1, ESP, SS
    mov ax, 0x10
    mov ds, ax
    mov eax, [esp + 8]
    mov [0x720], eax
    mov eax, [esp + 12]
    mov [0x724], eax
    mov ax, cs
    mov [0x728], ax
    mov ax, 0x23
    mov ds, ax
    retf 8
  ${extra}
  user:
    ${user}`);
}

describe('rings', () => {
  it('int 0x80 from ring 3 enters ring 0 on the TSS stack and IRET comes back with the user stack', () => {
    const run = ring3(`
      mov esp, 0x7fff0
      int 0x80                ; first call: returns
      mov [0x730], esp        ; (a ring-3 write to a ring-0-less page: identity, no paging)
      mov ax, cs
      mov [0x734], ax
      int 0x80                ; second call: the handler halts`);
    const p = run.machine.phys;
    expect(run.outcome.kind).toBe('halted');
    expect(p.read(0x718, 2)).toBe(0x08); // the handler ran in ring 0
    expect(p.read(0x704, 4)).toBe(0x1b); // saved CS: ring 3
    expect(p.read(0x710, 4)).toBe(0x23); // saved SS
    expect(p.read(0x70c, 4)).toBe(0x7fff0); // saved user ESP
    expect(p.read(0x714, 4)).toBe(0x70000 - 20); // the handler's ESP: ESP0 minus the frame
    expect(p.read(0x730, 4)).toBe(0x7fff0); // back in ring 3 with its own stack
    expect(p.read(0x734, 2)).toBe(0x1b);
  });

  it('CLI in ring 3 is #GP(0), saving the CLI\'s own address and the ring-3 frame', () => {
    const run = ring3(`
      nop
    fault_here:
      cli`);
    const r = record(run);
    expect(r.vector).toBe(13);
    expect(r.error).toBe(0);
    expect(r.cs).toBe(0x1b);
    expect(r.ss).toBe(0x23);
    expect(run.machine.phys.read8(r.eip)).toBe(0xfa); // the CLI
    expect(run.machine.cpu.st[S_CPL]).toBe(0);
  });

  it('privileged instructions in ring 3: HLT, MOV CR3, LGDT all #GP(0)', () => {
    for (const instruction of ['hlt', 'mov eax, cr3', 'lgdt [0x900]', 'mov cr0, eax']) {
      const r = record(ring3(instruction));
      expect([r.vector, r.error, r.cs]).toEqual([13, 0, 0x1b]);
    }
  });

  it('INT n to a gate with DPL 0 from ring 3 is #GP with the IDT error code', () => {
    const r = record(ring3('int 0x21'));
    expect(r.vector).toBe(13);
    expect(r.error).toBe(0x21 * 8 + 2);
  });

  it('loading a ring-0 data segment in ring 3 is #GP(selector)', () => {
    const r = record(ring3(`mov ax, 0x10
      mov ds, ax`));
    expect([r.vector, r.error]).toEqual([13, 0x10]);
  });

  it('a call gate takes ring 3 to ring 0 with its parameters copied; RETF 8 returns to ring 3 and its stack', () => {
    const run = ring3(`
      mov esp, 0x7ff00
      push dword 0x1111
      push dword 0x2222
      call 0x33:0             ; the gate (RPL 3); the offset is ignored
      mov [0x740], esp
      mov ax, cs
      mov [0x744], ax
      int 0x80
      int 0x80`);
    const p = run.machine.phys;
    expect(p.read(0x728, 2)).toBe(0x08); // in ring 0
    expect(p.read(0x724, 4)).toBe(0x1111); // parameters, in the caller's order
    expect(p.read(0x720, 4)).toBe(0x2222);
    expect(p.read(0x740, 4)).toBe(0x7ff00); // RETF 8 released the parameters from the user stack
    expect(p.read(0x744, 2)).toBe(0x1b);
  });

  it('the I/O permission bitmap: ring 3 may use a port whose bit is clear, not one whose bit is set', () => {
    const allowed = ring3(`in al, 0x61
      int 0x80
      int 0x80`);
    expect(allowed.machine.phys.read8(0x600)).toBe(0);
    const denied = record(ring3('in al, 0x60'));
    expect([denied.vector, denied.error]).toEqual([13, 0]);
  });

  it('IRET to ring 3 with DS holding a ring-0 segment leaves DS null: a later access faults', () => {
    const run = ring3(`mov eax, [0x800]      ; DS is null now: #GP(0)`, `mov ax, 0x10
      mov ds, ax
      jmp enter_user_keep_ds`);
    const r = record(run);
    expect([r.vector, r.error, r.cs]).toEqual([13, 0, 0x1b]);
    expect(run.machine.cpu.segmentSelector(CS)).toBe(0x08);
    expect(run.machine.cpu.segmentSelector(SS)).toBe(0x10);
  });
});
