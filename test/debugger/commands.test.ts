/**
 * The debugger's commands as a user types them: expressions with C's types, addresses in every
 * form and the mistakes they are checked for, catchpoints by exception name, memory writes that
 * say what they could not do, gdb's abbreviations and ranges, and typed keys for the guest.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, type EvaluationContext } from '../../src/debugger/expression.ts';
import { debugAsm } from '../helpers/debug-session.ts';
import { ENTER_FLAT_PM } from '../helpers/run-asm.ts';

const registers: Record<string, number> = { eax: 0xffffffff, ebx: 7, esp: 0xfffffff0, cr3: 0x123000 };
const context: EvaluationContext = {
  register: (name) => registers[name],
  symbol: (name) => (name === 'kernel_top' ? 0xc0000000 : name === 'COUNT' ? 3 : undefined),
  memory: (address, bytes) => (address === 0x1000 ? [0x12, 0x1234, 0, 0xdeadbeef][bytes - 1] : 0),
};
const value = (text: string) => evaluate(text, context);

describe('expressions', () => {
  it('type values as C does: small literals and general registers are signed, addresses unsigned', () => {
    expect(value('-7/2') | 0).toBe(-3);
    expect(value('-7 % 3') | 0).toBe(-1);
    expect(value('eax < 0')).toBe(1); // eax is -1
    expect(value('esp < 0')).toBe(0); // an address
    expect(value('kernel_top / 4096')).toBe(0xc0000);
    expect(value('eax >> 4')).toBe(0xffffffff); // arithmetic for a signed int
    expect(value('esp >> 4')).toBe(0x0fffffff);
    expect(value('1 << 32')).toBe(0);
    expect(value('(ebx + COUNT) * 2 == 20 && !0')).toBe(1);
  });

  it('read memory as NASM writes it and as gdb does', () => {
    expect(value('byte [0x1000]')).toBe(0x12);
    expect(value('word [0x1000]')).toBe(0x1234);
    expect(value('[0x1000]')).toBe(0xdeadbeef);
    expect(value('*0x1000')).toBe(0xdeadbeef);
  });

  it('refuse what cannot be a 32-bit value, with what is wrong', () => {
    expect(() => value('0x100000000')).toThrow('0x100000000 does not fit in 32 bits');
    expect(() => value('5 / (ebx - 7)')).toThrow('division by zero');
    expect(() => value('nosuch + 1')).toThrow("'nosuch' is not a register or a symbol");
    expect(() => value('(1 + 2')).toThrow("')' expected");
  });
});

describe('commands', () => {
  it('SEG:OFF is read in the mode the CPU is in, and refused when it cannot name anything there', async () => {
    const t = debugAsm(`
      ${ENTER_FLAT_PM}
    flat:
      hlt`);
    expect(await t.run('break 0x1b:0x21')).toBe('Breakpoint 1 at 0x000001D1');
    expect(await t.run('break 0x1b:0x40000021')).toContain("error: break: '0x1b:0x40000021': in real mode an offset is at most 0xFFFF");
    await t.run(`until ${t.at('flat')}`);
    expect(await t.run('break 0x08:0x1234')).toContain('Breakpoint 2 at 0x00001234');
    expect(await t.run('break 0x99:0')).toContain("error: break: selector 0x0099 is past the GDT's limit (0x0017)");
    expect(await t.run('break 0:5')).toContain('error: break: selector 0x0000 is the null selector');
    expect(await t.run('break cs:0x10')).toContain('Breakpoint 3 at 0x00000010');
    expect(t.session.failures).toBe(3);
  });

  it("gdb's break *ADDR is a breakpoint at ADDR, not at the dword stored there", async () => {
    const t = debugAsm(`
      ${ENTER_FLAT_PM}
    flat:
      hlt`);
    expect(await t.run('break *0x7c10')).toMatch(/^Breakpoint 1 at 0x00007C10 /);
    expect(await t.run(`tbreak * ${t.at('flat')} if eax == 0`)).toMatch(/^Temporary breakpoint 2 at 0x0000[0-9A-F]{4} <flat>.*, if eax == 0$/);
  });

  it('catch exit takes a reason or a family of them, as --trace-exits does', async () => {
    const t = debugAsm('hlt', { mode: 'ept' });
    expect(await t.run('catch exit apic 30')).toBe('Catchpoint 1 (exit apic 30)');
    expect(await t.run('catch exit apic-writes')).toContain('or a family: cr, dr, msr, ept, irq, window, apic');
  });

  it('catch exception takes exception names, not flags; break if is no address', async () => {
    const t = debugAsm('hlt');
    expect(await t.run('catch exception pf #GP de')).toBe('Catchpoint 1 (exception pf #GP de)');
    expect(t.session.debugger.points.get(1)).toMatchObject({ filter: [14, 13, 0] });
    expect(await t.run('catch exception zf')).toContain("'zf' is no vector");
    expect(await t.run('break if')).toContain('error: break: where?');
    expect(await t.run('info idt 256')).toContain('vectors go from 0 to 255');
  });

  it('set on memory writes RAM, and says why it wrote nothing to ROM or where nothing is', async () => {
    const t = debugAsm('hlt');
    expect(await t.run('set word [0x500] = 0xbeef', 'x/1xh 0x500')).toBe('word [0x00000500] = 0xbeef\n0x00000500:  0xbeef');
    expect(await t.run('set dword [0x3ffffe] = 1')).toContain('error: set: nothing written: physical 0x00400000 has no memory behind it');
  });

  it("gdb's abbreviations, ranges and habits: del 2-3, dis, en, tb, reg, watch *ADDR; a word too many is refused", async () => {
    const t = debugAsm('nop\nnop\nnop\nhlt');
    await t.run('b 0x7c00', 'tb 0x7c01', 'b 0x7c02', 'wa *0x500');
    expect(t.session.debugger.points.get(4)).toMatchObject({ type: 'watch', address: 0x500 });
    expect(await t.run('dis 1-2')).toBe('');
    expect(t.session.debugger.points.all.map((p) => p.enabled)).toEqual([false, false, true, true]);
    expect(await t.run('en', 'del 2-3')).toBe('Deleted numbers 2, 3.');
    expect(await t.run('reg')).toContain('cpl 0  mode real');
    expect(await t.run('disas')).toContain('nop');
    expect(await t.run('disa')).toContain("'disa' could be disable, disas");
    expect(await t.run('continue 3')).toContain("error: continue: continue takes no arguments ('3' was given)");
    expect(await t.run('finish now')).toContain('finish takes no arguments');
  });

  it('type queues keys for the guest, which reads them as it runs', async () => {
    // The guest reads COM1, which the keys reach as they reach the keyboard.
    const t = debugAsm(`
    wait:
      mov dx, 0x3fd
      in al, dx
      test al, 1
      jz wait
      mov dx, 0x3f8
      in al, dx
      out 0xe9, al
      hlt`);
    expect(await t.run('type a')).toBe('1 key queued for the guest: it reads them as it runs');
    await t.run('continue');
    expect(t.guest).toBe('a');
  });

  it('a breakpoint inside the bytes of an instruction is taken, with a note that it is probably not what was meant', async () => {
    const t = debugAsm('mov eax, 0x12345678\nhlt');
    expect(await t.run('break 0x7c02')).toContain('note: that is 2 bytes into what guest.asm:2 assembled (from 0x00007C00)');
  });

  it('info gdt sums up empty entries (a real-mode GDTR covers 8192 of them)', async () => {
    const t = debugAsm('hlt');
    const out = await t.run('info gdt');
    expect(out).toMatch(/\(\d{4} more entries are null\)/);
    expect(out.split('\n').length).toBeLessThan(40);
  });
});

/** The BSP sends INIT and STARTUP to the AP and spins; the AP (at 0x8000, real mode) sets AX and BX, then halts with interrupts off. */
const TWO_PROCESSORS = `${ENTER_FLAT_PM}
      mov dword [0xfee00300], 0x000c4500
      mov dword [0xfee00300], 0x000c4608
    spin:
      jmp spin
      times 0x8000 - 0x7c00 - ($ - $$) db 0
      bits 16
    ap_start:
      mov ax, 0x1234
      mov bx, 0x5678
      cli
      hlt`;

describe('several processors', () => {
  it('info cpus lists each: the BSP running, an AP waiting for its STARTUP IPI, then halted after it', async () => {
    const t = debugAsm(TWO_PROCESSORS, { cpus: 2 });
    const before = await t.run('info cpus');
    expect(before).toMatch(/^\* cpu 0  APIC ID 0  bootstrap processor, running  at 0000:7C00/m);
    expect(before).toMatch(/^  cpu 1  APIC ID 1  application processor, waiting for a STARTUP IPI, 0 instructions/m);
    t.machine.run(100_000); // the BSP's turns, and the AP's: it runs its three instructions and halts
    const after = await t.run('info cpus');
    expect(after).toMatch(/^  cpu 1  APIC ID 1  application processor, halted with interrupts off  at 0800:0008/m);
  });

  it('a breakpoint an AP hits stops the guest there and makes it the current processor; step follows it; cpu N switches', async () => {
    const t = debugAsm(TWO_PROCESSORS, { cpus: 2 });
    const stop = await t.run('break ap_start', 'continue');
    expect(stop).toContain('[Switching to cpu 1]');
    expect(stop).toMatch(/Breakpoint 1, 0x00008000 <ap_start>/);
    expect(stop).toMatch(/=> 0800:0000 <ap_start>/);
    expect(await t.run('info cpus')).toMatch(/^\* cpu 1 /m);
    const stepped = await t.run('step', 'print ax');
    expect(stepped).toMatch(/=> 0800:0003/);
    expect(stepped).toMatch(/= 0x0*1234 /);
    expect(await t.run('cpu 0')).toMatch(/^Current processor: cpu 0 \(APIC ID 0\)\n=> 0008:/);
    expect(await t.run('print eip')).toMatch(/= 0x0*7c/);
    expect(await t.run('cpu 2')).toMatch(/error: cpu: there is no cpu 2: this machine has 2 processors, cpu 0 to cpu 1/);
  });
});

