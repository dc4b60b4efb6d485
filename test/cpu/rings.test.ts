/**
 * Privilege levels: ring 3 to ring 0 through interrupt and call gates with the TSS's stack,
 * back with IRET and RETF; privileged and IOPL-sensitive instructions faulting in ring 3 with
 * the faulting EIP saved; the I/O permission bitmap; data segments dropped on a return to an
 * outer ring; hardware task switches; virtual-8086 mode.
 */
import { describe, expect, it } from 'vitest';
import { CS, S_CPL, S_GDTR_BASE, S_SEG_BASE, S_SEG_SEL, SS, TR } from '../../src/cpu/state.ts';
import { runAsm } from '../helpers/run-asm.ts';
import { RING3_ENV } from '../helpers/rings-env.ts';

const record = (run: ReturnType<typeof runAsm>) => {
  const p = run.machine.phys;
  const dword = (a: number) => p.read(a, 4) >>> 0;
  return { vector: p.read8(0x600), error: dword(0x604) | 0, eip: dword(0x608), cs: dword(0x60c), eflags: dword(0x610), esp: dword(0x614), ss: dword(0x618), handlerEsp: dword(0x61c) };
};

/** The linear address of GDT entry `selector` in the GDT the run ended with. */
const gdtEntry = (run: ReturnType<typeof runAsm>, selector: number) => ((run.machine.cpu.st[S_GDTR_BASE] >>> 0) + (selector & 0xfff8));

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

  it('an exception raised while delivering an exception has EXT set in its error code; one raised by an INT n has not (SDM Vol. 3, 6.13)', () => {
    // #UD's gate not present: delivering the #UD raises #NP(IDT vector 6, EXT).
    const ud = record(ring3('ud2', 'and byte [idt + 6 * 8 + 5], 0x7f'));
    expect([ud.vector, ud.error]).toEqual([11, 6 * 8 + 2 + 1]);
    // INT 0x21's gate not present: the INT itself raises #NP(IDT vector 0x21), no EXT.
    const soft = record(ring3('int 0x21', 'mov word [idt + 0x21 * 8 + 4], 0x6e00'));
    expect([soft.vector, soft.error]).toEqual([11, 0x21 * 8 + 2]);
  });

  it('an inner stack whose SS in the TSS lies past the GDT limit is #TS(SS), not #GP (SDM: INT to an inner privilege level)', () => {
    // Every handler needs that stack too, so the run triple-faults: its fault chain says what came first.
    const run = ring3('int 0x80', 'mov dword [tss + 8], 0x220');
    expect(run.outcome.kind).toBe('shutdown');
    const first = run.machine.cpu.faultChain.events[0];
    expect([first.vector, first.errorCode]).toEqual([10, 0x220]);
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

  it('a call gate to an inner ring whose stack cannot hold the parameters, SS:ESP and return address is #SS(new SS), nothing pushed', () => {
    // The gate now leads to ring-1 code (0x38); ring 1's stack (SS1 = 0x41) is a 1 MiB segment, ESP1 8 bytes past its end.
    const r = record(runAsm(`${RING3_ENV}
      mov word [gdt_gate + 2], 0x38
      mov esi, gdt_full           ; the environment's GDT (0x00-0x30), then two ring-1 segments
      mov edi, gdt4
      mov ecx, 7 * 2
      rep movsd
      lgdt [gdt4_desc]
      mov dword [tss + 0x0c], 0x100008   ; ESP1
      mov dword [tss + 0x10], 0x41       ; SS1
      jmp enter_user
    syscall:
    gate_target:
      hlt
    user:
      mov esp, 0x7ff00
      push dword 0x1111
      push dword 0x2222
      call 0x33:0
      hlt
    align 8
    gdt4:
      times 7 dq 0            ; 0x00-0x30: copied
      dq 0x00cfba000000ffff   ; 0x38 ring-1 code
      dq 0x004fb2000000ffff   ; 0x40 ring-1 data: limit 0xFFFFF, byte-granular, 32-bit
    gdt4_desc:
      dw gdt4_desc - gdt4 - 1
      dd gdt4`));
    expect([r.vector, r.error]).toEqual([12, 0x40]);
    expect([r.cs, r.ss, r.esp]).toEqual([0x1b, 0x23, 0x7ff00 - 8]); // at the CALL, in ring 3, its stack as it was
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

/** A second TSS (selector 0x38) whose task starts at `task2` with its own stack. */
const SECOND_TASK = `
    ; descriptor 0x38: TSS2, base tss2, limit 0x67, type 9
    mov eax, tss2
    mov [gdt_tss2 + 2], ax
    shr eax, 16
    mov [gdt_tss2 + 4], al
    mov [gdt_tss2 + 7], ah
    mov dword [tss2 + 0x20], task2        ; EIP
    mov dword [tss2 + 0x24], 0x2          ; EFLAGS
    mov dword [tss2 + 0x38], 0x60000      ; ESP
    mov dword [tss2 + 0x48], 0x10         ; ES
    mov dword [tss2 + 0x4c], 0x08         ; CS
    mov dword [tss2 + 0x50], 0x10         ; SS
    mov dword [tss2 + 0x54], 0x10         ; DS
    mov dword [tss2 + 0x28], 0x2222       ; EAX
    lgdt [gdt2_desc]`;

/** The second GDT and TSS2; `extra` descriptors follow TSS2's, at selectors 0x40, 0x48, ... */
const secondTaskData = (extra: string[] = []) => `
align 8
gdt2:
    dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
    dq 0x00cffa000000ffff
    dq 0x00cff2000000ffff
    dq 0                    ; 0x28: copied from the first GDT below
    dq 0
gdt_tss2:
    dw 0x67, 0              ; 0x38 TSS2
    db 0, 0x89, 0, 0
    ${extra.map((d) => `dq ${d}`).join('\n    ')}
gdt2_desc:
    dw gdt2_desc - gdt2 - 1
    dd gdt2
align 16
tss2:
    times 0x68 db 0`;
const SECOND_TASK_DATA = secondTaskData();

describe('task switches', () => {
  it('CALL to a TSS runs the task with NT set and a back link; its IRET returns to the caller', () => {
    const run = runAsm(`${RING3_ENV}
      ; copy the current TSS descriptor (busy, 0x28) into the second GDT, then switch GDTs
      mov eax, [gdt_tss]
      mov [gdt2 + 0x28], eax
      mov eax, [gdt_tss + 4]
      mov [gdt2 + 0x2c], eax
      ${SECOND_TASK}
      mov eax, 0x1111
      call 0x38:0              ; task switch: the offset is ignored
      mov [0x760], eax         ; back in the first task: its EAX restored
      str bx
      mov [0x764], bx
      hlt
    task2:
      mov [0x750], eax         ; EAX from TSS2
      pushfd
      pop ebx
      mov [0x754], ebx         ; EFLAGS: NT set
      mov bx, [tss2]           ; the back link
      mov [0x758], bx
      str bx
      mov [0x75c], bx
      iretd                    ; NT: back to the task that called
    syscall:
    gate_target:
      hlt
    user:
    ${SECOND_TASK_DATA}`);
    const p = run.machine.phys;
    expect(run.outcome.kind).toBe('halted');
    expect(p.read(0x750, 4)).toBe(0x2222);
    expect(p.read(0x754, 4) & 0x4000).toBe(0x4000); // NT
    expect(p.read(0x758, 2)).toBe(0x28); // back link: the first task
    expect(p.read(0x75c, 2)).toBe(0x38); // TR while in task 2
    expect(p.read(0x760, 4)).toBe(0x1111); // the first task's EAX, saved and restored
    expect(p.read(0x764, 2)).toBe(0x28);
  });

  /**
   * A JMP to TSS2 after `setup` (which may spoil TSS2's fields), with descriptors 0x40 (code,
   * not present), 0x48 (data, not present), 0x50 (LDT, not present) and 0x58 (a TSS whose
   * limit, 0x50, is too small to save a task in) in the second GDT. Returns the exception
   * recorded (vector 0xFF: none) and whether TSS2's task ran.
   */
  function jumpToTask2(setup: string) {
    const run = runAsm(`${RING3_ENV}
      mov eax, [gdt_tss]
      mov [gdt2 + 0x28], eax
      mov eax, [gdt_tss + 4]
      mov [gdt2 + 0x2c], eax
      ${SECOND_TASK}
      mov eax, tss3
      mov [gdt2 + 0x58 + 2], ax
      shr eax, 16
      mov [gdt2 + 0x58 + 4], al
      mov [gdt2 + 0x58 + 7], ah
      mov dword [0x600], 0xff
      ${setup}
      jmp 0x38:0
      hlt
    task2:
      mov dword [0x770], 0x2222  ; TSS2's task ran
      hlt
    syscall:
    gate_target:
      hlt
    user:
    ${secondTaskData(['0x00cf1a000000ffff', '0x00cf12000000ffff', '0x0000020000000fff', '0x0000890000000050'])}
    align 16
    tss3:
      times 0x68 db 0`);
    return { run, ...record(run), task2Ran: run.machine.phys.read(0x770, 4) === 0x2222 };
  }

  it('the new task\'s CS, SS and data segments that may not be loaded are #TS(selector), not #GP', () => {
    // CS: a data segment, null, past the GDT limit.
    expect(jumpToTask2('mov dword [tss2 + 0x4c], 0x10')).toMatchObject({ vector: 10, error: 0x10 });
    expect(jumpToTask2('mov dword [tss2 + 0x4c], 0')).toMatchObject({ vector: 10, error: 0 });
    expect(jumpToTask2('mov dword [tss2 + 0x4c], 0x1f8')).toMatchObject({ vector: 10, error: 0x1f8 });
    // SS: code, null, DPL 3 in a ring-0 task.
    expect(jumpToTask2('mov dword [tss2 + 0x50], 0x08')).toMatchObject({ vector: 10, error: 0x08 });
    expect(jumpToTask2('mov dword [tss2 + 0x50], 0')).toMatchObject({ vector: 10, error: 0 });
    expect(jumpToTask2('mov dword [tss2 + 0x50], 0x23')).toMatchObject({ vector: 10, error: 0x20 });
    // DS past the GDT limit; ES naming a TSS descriptor.
    expect(jumpToTask2('mov dword [tss2 + 0x54], 0x1f8')).toMatchObject({ vector: 10, error: 0x1f8 });
    expect(jumpToTask2('mov dword [tss2 + 0x48], 0x38')).toMatchObject({ vector: 10, error: 0x38 });
  });

  it('a new task\'s segment that is not present is #NP(selector), #SS(selector) for SS', () => {
    expect(jumpToTask2('mov dword [tss2 + 0x4c], 0x40')).toMatchObject({ vector: 11, error: 0x40 });
    expect(jumpToTask2('mov dword [tss2 + 0x54], 0x48')).toMatchObject({ vector: 11, error: 0x48 });
    expect(jumpToTask2('mov dword [tss2 + 0x50], 0x48')).toMatchObject({ vector: 12, error: 0x48 });
  });

  it('the new task\'s LDT must be a present LDT descriptor in the GDT: #TS(selector) otherwise, not present included', () => {
    expect(jumpToTask2('mov dword [tss2 + 0x60], 0x10')).toMatchObject({ vector: 10, error: 0x10 }); // a data segment
    expect(jumpToTask2('mov dword [tss2 + 0x60], 0x50')).toMatchObject({ vector: 10, error: 0x50 }); // not present
    expect(jumpToTask2('mov dword [tss2 + 0x60], 0x1f8')).toMatchObject({ vector: 10, error: 0x1f8 }); // past the GDT limit
    const valid = jumpToTask2('');
    expect(valid).toMatchObject({ vector: 0xff, task2Ran: true });
  });

  it('an old TSS too small to hold the outgoing task is #TS(old TSS) before anything is saved or switched', () => {
    const r = jumpToTask2('mov ax, 0x58\n ltr ax');
    expect([r.vector, r.error, r.task2Ran]).toEqual([10, 0x58, false]);
    const cpu = r.run.machine.cpu;
    expect(cpu.st[S_SEG_SEL + TR] & 0xffff).toBe(0x58); // still the old task
    const p = r.run.machine.phys;
    const tss3 = cpu.st[S_SEG_BASE + TR] >>> 0;
    expect(p.read(tss3 + 0x20, 4)).toBe(0); // its EIP slot: nothing saved
    expect(p.read8(gdtEntry(r.run, 0x38) + 5) & 0x1f).toBe(0x09); // TSS2 still available, not busy
  });

  it('IRET to a back link in the LDT or past the GDT limit is #TS(back link)', () => {
    for (const backLink of [0x2c, 0x1f8]) {
      const r = record(runAsm(`${RING3_ENV}
        mov word [tss], ${backLink}
        pushfd
        or dword [esp], 0x4000    ; NT: IRET returns to the back link's task
        popfd
        iretd
      syscall:
      gate_target:
        hlt
      user:`));
      expect([r.vector, r.error]).toEqual([10, backLink & 0xfffc]);
    }
  });

  it('JMP to a busy TSS is #GP(selector)', () => {
    const r = record(runAsm(`${RING3_ENV}
      jmp 0x28:0               ; the current task: busy
    syscall:
    gate_target:
      hlt
    user:`));
    expect([r.vector, r.error]).toEqual([13, 0x28]);
  });
});

describe('virtual-8086 mode', () => {
  /** Enters V86 at 0x1000:0000 with the code `v86` there and IOPL from `iopl`. */
  function v86(code: string, iopl: number) {
    return runAsm(`${RING3_ENV}
      ; the V86 code at linear 0x10000 (segment 0x1000)
      mov esi, v86_code
      mov edi, 0x10000
      mov ecx, v86_end - v86_code
      rep movsb
      push dword 0             ; GS
      push dword 0             ; FS
      push dword 0x2000        ; DS
      push dword 0             ; ES
      push dword 0x3000        ; SS
      push dword 0xfffe        ; ESP
      push dword (1 << 17) | (${iopl} << 12) | 2   ; EFLAGS: VM
      push dword 0x1000        ; CS
      push dword 0             ; EIP
      iretd
    syscall:
    gate_target:
      hlt
    user:
    bits 16
    v86_code:
      ${code}
    v86_end:
    bits 32`);
  }

  it('runs real-mode code: segments are selector × 16, and INT n goes to the ring-0 handler with VM and the V86 segments saved', () => {
    const run = v86(`mov ax, 0x1234
      mov [0x10], ax           ; DS = 0x2000: linear 0x20010
      int 0x80                 ; IOPL 3: through the IDT to ring 0`, 3);
    const p = run.machine.phys;
    expect(p.read(0x20010, 2)).toBe(0x1234);
    // The int 0x80 gate is the test's syscall stub (it halts); check the frame on the ring-0 stack.
    const esp = run.machine.cpu.reg[4] >>> 0;
    const frame = (i: number) => p.read(esp + 4 * i, 4) >>> 0;
    expect(frame(0)).toBe(8); // IP after the INT: mov ax (3 bytes) + mov [0x10], ax (3) + int (2)
    expect(frame(1)).toBe(0x1000); // CS
    expect(frame(2) & (1 << 17)).toBe(1 << 17); // EFLAGS with VM
    expect(frame(3)).toBe(0xfffe); // ESP
    expect(frame(4)).toBe(0x3000); // SS
    expect(frame(5)).toBe(0); // ES
    expect(frame(6)).toBe(0x2000); // DS
    expect(run.machine.cpu.segmentSelector(CS)).toBe(0x08);
    expect(run.machine.cpu.eflags & (1 << 17)).toBe(0); // out of V86 mode
  });

  it('with IOPL below 3, CLI, INT n, PUSHF, POPF and IRET are #GP(0) from V86 mode', () => {
    for (const instruction of ['cli', 'int 0x21', 'pushf', 'popf', 'iret']) {
      const r = record(v86(instruction, 0));
      expect([r.vector, r.error]).toEqual([13, 0]);
      expect(r.cs).toBe(0x1000);
      expect(r.eflags & (1 << 17)).toBe(1 << 17);
    }
  });

  it('IN in V86 mode follows the I/O bitmap, not IOPL', () => {
    const denied = record(v86('in al, 0x60', 3));
    expect([denied.vector, denied.error]).toEqual([13, 0]);
    const allowed = v86('in al, 0x61\n int 0x80', 3);
    expect(allowed.machine.phys.read8(0x600)).toBe(0); // no exception recorded
    expect(allowed.machine.cpu.segmentSelector(CS)).toBe(0x08); // reached the int 0x80 handler
  });
});
