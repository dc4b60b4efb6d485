/**
 * The debugger's execution control, in the test process: breakpoints and steps stop at the
 * exact instruction whether the block runs compiled or interpreted, next steps over calls,
 * interrupts and REP instructions, finish returns, until, watchpoints and catchpoints fire on
 * the instruction that did it, and a debugged run ends exactly as an undebugged one.
 */
import { describe, expect, it } from 'vitest';
import { CS, ECX, EDX, EDI, S_EIP, S_SEG_BASE } from '../../src/cpu/state.ts';
import { debugAsm, type TestSession } from '../helpers/debug-session.ts';
import { ENTER_FLAT_PM, realModeWithHandler, runAsm, startTimer } from '../helpers/run-asm.ts';

/**
 * Real mode: a loop run twice (so that its block is compiled before the second pass), a call,
 * a REP STOSB, a write to a variable, INT 0x30 to a handler, then the exit port.
 */
const GUEST = `
  ${realModeWithHandler(0x30, 'handler')}
  mov si, 2
pass:
  mov cx, 1000
  xor dx, dx
hot:
  add ax, cx
  xor bx, ax
inside:
  inc dx
  dec cx
  jnz hot
  dec si
  jnz pass
  call func
after_call:
  mov di, buffer
  mov cx, 8
  mov al, 0x5a
  rep stosb
after_rep:
  mov word [variable], 0x1234
after_write:
  mov ax, [variable]
  int 0x30
after_int:
  mov al, 'E'
  out 0xe9, al
  mov al, 0
  out 0xf4, al
  hlt
func:
  push ax
  mov ax, 7
  call inner
  pop ax
  ret
inner:
  inc ax
  ret
handler:
  mov al, 'H'
  out 0xe9, al
  iret
variable: dw 0
buffer: times 16 db 0
`;

const eip = (t: TestSession) => (t.machine.cpu.st[S_SEG_BASE + CS] + t.machine.cpu.st[S_EIP]) >>> 0;

describe.each(['bare', 'ept', 'shadow'] as const)('the debugger runs the guest exactly (--mode %s)', (mode) => {
  it('a breakpoint inside a compiled loop stops at its instruction, on the iteration its condition names', async () => {
    const t = debugAsm(GUEST, { mode });
    // The first pass runs with no breakpoint there: the loop's block is compiled.
    await t.run('until pass');
    await t.run(`tbreak ${t.at('pass')} if si == 1`, 'continue');
    expect(t.machine.cpu.blocks.compiledCount).toBeGreaterThan(0);
    const out = await t.run('break inside if cx == 300', 'continue');
    expect(out).toMatch(/^Breakpoint 2, 0x[0-9A-F]+ <inside>/m);
    expect(eip(t)).toBe(t.at('inside'));
    expect(t.machine.cpu.reg[ECX] & 0xffff).toBe(300);
    expect(t.machine.cpu.reg[EDX] & 0xffff).toBe(700); // 700 increments done in this pass
  });

  it('step goes one instruction at a time inside a compiled block; step N lands where N steps do', async () => {
    const a = debugAsm(GUEST, { mode });
    await a.run(`tbreak ${a.at('pass')} if si == 1`, 'continue', `tbreak ${a.at('hot')}`, 'continue');
    expect(eip(a)).toBe(a.at('hot'));
    await a.run('step', 'step');
    expect(eip(a)).toBe(a.at('inside'));
    const b = debugAsm(GUEST, { mode });
    await b.run(`tbreak ${b.at('pass')} if si == 1`, 'continue', `tbreak ${b.at('hot')}`, 'continue');
    await b.run('step 2', 'step 23');
    // (A breakpoint on the way would have stopped step 23 early, as gdb's stepi stops.)
    for (let i = 0; i < 23; i++) await a.run('step');
    expect(eip(b)).toBe(eip(a));
    expect([...b.machine.cpu.reg]).toEqual([...a.machine.cpu.reg]);
    expect(b.machine.cpu.retired).toBe(a.machine.cpu.retired);
  });

  it('next steps over a CALL (nested calls run whole), a REP instruction and an INT; step goes into them', async () => {
    const t = debugAsm(GUEST, { mode });
    await t.run(`break ${t.at('after_call') - 3}`, 'continue'); // the CALL
    await t.run('next');
    expect(eip(t)).toBe(t.at('after_call'));
    await t.run('next 3');
    expect(eip(t)).toBe(t.at('after_rep') - 2); // at the REP STOSB
    await t.run('step', 'step', 'step');
    expect(t.machine.cpu.reg[ECX] & 0xffff).toBe(5); // a step is one iteration
    expect(eip(t)).toBe(t.at('after_rep') - 2);
    await t.run('next');
    expect(eip(t)).toBe(t.at('after_rep'));
    expect(t.machine.cpu.reg[ECX] & 0xffff).toBe(0);
    expect(t.machine.cpu.reg[EDI] & 0xffff).toBe(t.at('buffer') + 8);
    await t.run('next 2');
    expect(eip(t)).toBe(t.at('after_int') - 2); // at INT 0x30
    const into = await t.run('step');
    expect(eip(t)).toBe(t.at('handler'));
    expect(into).toContain('int 0x30 at 0000:');
    await t.run(`break ${t.at('after_int') - 2}`); // no stop at the resume point itself
  });

  it('next over an INT runs the handler whole', async () => {
    const t = debugAsm(GUEST, { mode });
    await t.run(`until ${t.at('after_int') - 2}`, 'next');
    expect(eip(t)).toBe(t.at('after_int'));
    expect(t.guest).toBe('H');
  });

  it('finish runs until the procedure returns, over the calls it makes; from a handler, until its IRET', async () => {
    const t = debugAsm(GUEST, { mode });
    await t.run(`until ${t.at('func') + 1}`); // inside func, after its PUSH
    const out = await t.run('finish');
    expect(out).toContain('Run till exit: returned to');
    expect(eip(t)).toBe(t.at('after_call'));
    await t.run(`until ${t.at('handler')}`, 'finish');
    expect(eip(t)).toBe(t.at('after_int'));
  });

  it('watch stops after the instruction that changes the value, and names it; rwatch after one that reads it', async () => {
    const t = debugAsm(GUEST, { mode });
    const out = await t.run(`watch ${t.at('variable')} 2`, 'continue');
    expect(out).toContain(`Watchpoint 1: word [0x0000${t.at('variable').toString(16).toUpperCase()}] <variable> written by the instruction at 0000:${t.at('after_rep').toString(16).toUpperCase()} <after_rep>`);
    expect(out).toContain('old 0x0000');
    expect(out).toContain('new 0x1234');
    expect(eip(t)).toBe(t.at('after_write'));
    const read = await t.run('delete', `rwatch ${t.at('variable')} 2`, 'continue');
    expect(read).toContain('read by the instruction at');
    expect(eip(t)).toBe(t.at('after_write') + 3);
  });

  it('catch interrupt stops at the handler of that vector; catch exception at the handler of a fault', async () => {
    const t = debugAsm(GUEST, { mode });
    const out = await t.run('catch interrupt 0x30', 'continue');
    expect(out).toMatch(/Catchpoint 1: interrupt int 0x30 at 0000:[0-9A-F]+, CPL 0; stopped at its handler\./);
    expect(eip(t)).toBe(t.at('handler'));
    const div = debugAsm(`${realModeWithHandler(0, 'de')}
      xor cx, cx
      div cx
      hlt
    de:
      hlt`, { mode });
    const caught = await div.run('catch exception 0', 'continue');
    expect(caught).toContain('Catchpoint 1: exception #DE at 0000:');
    expect(eip(div)).toBe(div.at('de'));
  });

  it('a debugged run ends as an undebugged one: same output, registers and instruction count', async () => {
    const t = debugAsm(GUEST, { mode });
    await t.run('break 0x12345', `watch ${t.at('buffer') + 12}`, 'continue');
    const plain = runAsm(GUEST, { mode });
    expect(t.guest).toBe('HE');
    expect(plain.output).toBe('HE');
    expect([...t.machine.cpu.reg]).toEqual([...plain.machine.cpu.reg]);
    expect(t.machine.cpu.instructions).toBe(plain.machine.cpu.instructions);
  });

  it('a stop between STI and the HLT it shields keeps the shield: a pending interrupt still comes after the HLT, as undebugged', async () => {
    // The timer ticks while interrupts are off (the busy loop is longer than its period), so
    // an interrupt is pending at each STI; the HLT after it must still start before it is taken.
    const guest = `
      ${realModeWithHandler(8, 'tick')}
      ${startTimer(8, 1000)}
    again:
      cli
      inc word [loops]
      mov cx, 60000
    busy1:
      loop busy1
      mov cx, 60000
    busy2:
      loop busy2
      sti
    idle:
      hlt
      cmp word [ticks], 20
      jb again
      mov al, 0
      out 0xf4, al
    tick:
      inc word [ticks]
      push ax
      mov al, 0x20
      out 0x20, al
      pop ax
      iret
    loops: dw 0
    ticks: dw 0`;
    const plain = runAsm(guest, { mode, maxInstructions: 10_000_000 });
    const t = debugAsm(guest, { mode });
    await t.run('break idle');
    let stops = 0;
    while (t.session.ended === null && stops < 100) {
      await t.run('continue');
      stops++;
    }
    expect(stops).toBe(21); // 20 at the HLT, then the end
    expect(t.machine.phys.read(t.at('loops'), 2)).toBe(plain.machine.phys.read(t.at('loops'), 2));
    expect(t.machine.phys.read(t.at('loops'), 2)).toBe(20);
    expect(t.machine.cpu.instructions).toBe(plain.machine.cpu.instructions);
  });

  it('a breakpoint at the head of a compiled loop that branches to itself stops on every round, and on the round its condition names', async () => {
    const loop = `
      mov cx, 1000
      xor dx, dx
    head:
      inc dx
      dec cx
      jnz head
      mov al, 0
      out 0xf4, al
      hlt`;
    const t = debugAsm(loop, { mode });
    await t.run('break head if dx == 500', 'continue');
    expect(t.machine.cpu.reg[EDX] & 0xffff).toBe(500);
    const u = debugAsm(loop, { mode });
    await u.run('break head');
    for (let i = 0; i < 300; i++) await u.run('continue');
    expect(u.machine.cpu.reg[EDX] & 0xffff).toBe(299);
    expect(eip(u)).toBe(u.at('head'));
    const v = debugAsm(loop, { mode });
    await v.run('until head', 'step', 'until head');
    expect(v.machine.cpu.reg[EDX] & 0xffff).toBe(1); // once round, not run away
  });

  it('a breakpoint on a REP instruction stops once, not after every chunk of it', async () => {
    const t = debugAsm(`
      xor ax, ax
      mov es, ax
      mov di, 0x1000
      mov cx, 10000
      cld
    fill:
      rep stosb
      mov al, 0
      out 0xf4, al
      hlt`, { mode });
    const out = await t.run('break fill', 'continue', 'continue');
    expect(out.match(/Breakpoint 1, /g)).toHaveLength(1);
    expect(out).toContain('The guest wrote to the exit port');
  });

  it('a guest single-stepping itself (TF) gets its traps as undebugged, across debugger stops', async () => {
    const traced = `
      ${realModeWithHandler(1, 'trap')}
      xor bx, bx
      pushf
      pop ax
      or ax, 0x100
      push ax
      popf
      nop
      nop
    here:
      nop
      nop
      pushf
      pop ax
      and ax, 0xfeff
      push ax
      popf
      mov ax, bx
      out 0xe9, al
      mov al, 0
      out 0xf4, al
      hlt
    trap:
      inc bx
      iret`;
    const plain = runAsm(traced, { mode });
    for (const commands of [['break here', 'continue', 'continue', 'continue'], ['break here', 'continue', 'step', 'step', 'step', 'delete', 'continue']]) {
      const t = debugAsm(traced, { mode });
      await t.run(...commands);
      expect(t.session.ended).not.toBeNull();
      expect(t.guest).toBe(plain.output);
    }
  });

  it('finish counts a CALL and a RET that sit in the last bytes of a page (no decoded block there)', async () => {
    const t = debugAsm(`
      mov sp, 0x7000
      call outer
    after_outer:
      mov al, 0
      out 0xf4, al
      hlt
    outer:
      mov bx, 5
      jmp near tail
      times 0x7ff0 - 0x7c00 - ($ - $$) db 0x90
    tail:
      call inner
      ret
      times 0x8100 - 0x7c00 - ($ - $$) db 0x90
    inner:
      inc ax
      ret`, { mode });
    const out = await t.run('break outer', 'continue', 'finish');
    expect(out).toContain('Run till exit: returned to');
    expect(eip(t)).toBe(t.at('after_outer'));
  });

  it('a watchpoint on memory nothing touched yet fires once, after the write (no EPT violation or shadow fault counts as one)', async () => {
    const t = debugAsm(`
      ${ENTER_FLAT_PM}
      mov dword [0x200000], 0x11223344
    after_first:
      mov dword [0x200000], 0x55667788
    after_second:
      mov al, 0
      out 0xf4, al
      hlt`, { mode });
    const first = await t.run('awatch 0x200000', 'continue');
    expect(first.match(/ written by the instruction at /g)).toHaveLength(1);
    expect(first).toContain('new 0x11223344');
    expect(eip(t)).toBe(t.at('after_first'));
    const second = await t.run('continue');
    expect(second).toContain('old 0x11223344');
    expect(second).toContain('new 0x55667788');
    expect(eip(t)).toBe(t.at('after_second'));
  });

  it('a watchpoint inside what a REP instruction writes stops after the very iteration that wrote it', async () => {
    const t = debugAsm(`
      xor ax, ax
      mov es, ax
      mov di, 0x1000
      mov cx, 0x800
      mov eax, 0x01020304
      cld
      rep stosd
      mov al, 0
      out 0xf4, al
      hlt`, { mode });
    const out = await t.run('awatch 0x1008', 'continue');
    expect(out).toContain('new 0x01020304');
    expect(t.machine.cpu.reg[EDI] & 0xffff).toBe(0x100c);
    expect(t.machine.cpu.reg[ECX] & 0xffff).toBe(0x800 - 3);
  });

  it('a watched page never enters the TLB, and leaves it watched no more', async () => {
    const t = debugAsm(GUEST, { mode });
    const page = t.at('variable') >>> 12;
    await t.run(`watch ${t.at('variable')} 2`, 'continue');
    expect(t.machine.cpu.tlb[page]).toBe(0);
    expect(t.machine.cpu.tlbEntries().some((e) => e.page === page)).toBe(false);
    await t.run('delete', 'continue');
    expect(t.session.ended).not.toBeNull();
  });

  it('counts out of range are refused with a message, and the session goes on', async () => {
    const t = debugAsm(GUEST, { mode });
    const out = await t.run('x/99999999x 0', 'disas 0 100000000', 'step -1', 'step 0', 'exits 0', 'print 1');
    expect(out).toContain('error: x: /99999999x: show 1 to 4096 units at a time');
    expect(out).toContain('error: disas: 100000000 is too many: at most 1000 at a time');
    expect(out).toContain("error: step: '-1' is not a count of 1 or more");
    expect(out).toContain("error: step: '0' is not a count of 1 or more");
    expect(out).toContain('= 0x00000001 (1)');
    expect(t.session.failures).toBe(mode === 'bare' ? 4 : 5);
  });

  it('a chain that ends in a triple fault stops at the instruction that began it; continuing lets it shut down', async () => {
    const t = debugAsm(`
      lidt [idt]
      mov eax, cr0
      or al, 1
      mov cr0, eax
    fault:
      int 3
      hlt
    idt: dw 0, 0, 0`, { mode });
    const out = await t.run('continue');
    expect(out).toContain('The next instruction triple-faults');
    expect(eip(t)).toBe(t.at('fault'));
    const fault = await t.run('info fault');
    expect(fault).toContain('The last delivery ended in a triple fault');
    expect(fault).toContain('past the IDT\'s limit');
    const end = await t.run('continue');
    expect(end).toContain('The guest shut down: a triple fault');
    expect(t.session.ended).not.toBeNull();
  });
});
