/**
 * The gdb stub's protocol, packet by packet, without gdb or a socket: framing and checksums,
 * acknowledgements, registers, memory, points, and what it answers to input gdb would never
 * send (malformed packets get an error reply; nothing throws).
 */
import { describe, expect, it } from 'vitest';
import { framePacket, PacketReader } from '../../src/debugger/gdb/packets.ts';
import { GDB_REGISTERS, targetDescription } from '../../src/debugger/gdb/registers.ts';
import { GdbStub } from '../../src/debugger/gdb/stub.ts';
import { DebugSession, type DebugHost } from '../../src/debugger/session.ts';
import { SymbolTable } from '../../src/debugger/symbols.ts';
import { runAsm } from '../helpers/run-asm.ts';
import { S_EIP } from '../../src/cpu/state.ts';

describe('packet framing', () => {
  it('checks checksums, undoes escapes, and tells interrupts and acknowledgements apart', () => {
    const reader = new PacketReader();
    expect(reader.push('+$g#67\x03-')).toEqual([{ kind: 'ack' }, { kind: 'packet', data: 'g' }, { kind: 'interrupt' }, { kind: 'nack' }]);
    expect(reader.push('$g#00')).toEqual([{ kind: 'corrupt', data: 'g' }]);
    // A packet split across reads, with an escaped '#' in it (} then # ^ 0x20).
    expect(reader.push('$X0,1:}')).toEqual([]);
    expect(reader.push('\x03#' + framePacket('X0,1:#').slice(-2))).toEqual([{ kind: 'packet', data: 'X0,1:#' }]);
  });

  it('escapes $ # } * in what it sends', () => {
    expect(framePacket('a$b')).toBe('$a}\x04b#' + ((0x61 + 0x7d + 0x04 + 0x62) & 0xff).toString(16));
  });
});

/** A stub on a small guest stopped before its first instruction, and what it sent. */
function stubOn(source: string) {
  const { machine } = runAsm(source, { maxInstructions: 0 });
  const host: DebugHost = { print: () => {}, flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
  const session = new DebugSession(machine, new SymbolTable(), host);
  const sent: string[] = [];
  const ended: string[] = [];
  const stub: GdbStub = new GdbStub(session, { send: (b) => sent.push(b), close: () => {} }, { detached: () => ended.push('detached'), killed: () => ended.push('killed'), ended: () => ended.push('ended'), exitStatus: () => 1 });
  /** Sends one packet; resolves with the packets the stub answered (acknowledgements left out). */
  const ask = async (payload: string): Promise<string[]> => {
    sent.length = 0;
    stub.receive(framePacket(payload));
    await stub.idle();
    return sent.filter((s) => s !== '+').map((s) => new PacketReader().push(s).map((i) => (i.kind === 'packet' ? i.data : `?${i.kind}`))[0]);
  };
  return { machine, session, stub, ask, sent, ended };
}

describe('the stub', () => {
  it('answers registers in the order of its target description, and sets them', async () => {
    const { machine, ask } = stubOn('mov eax, 0x12345678\nhlt');
    const [g] = await ask('g');
    expect(g.length).toBe(GDB_REGISTERS.reduce((n, r) => n + r.bits / 4, 0));
    const eip = GDB_REGISTERS.findIndex((r) => r.name === 'eip');
    expect(await ask(`p${eip.toString(16)}`)).toEqual([(machine.cpu.st[S_EIP] >>> 0).toString(16).padStart(8, '0').match(/../g)!.reverse().join('')]);
    expect(await ask('P0=efbeadde')).toEqual(['OK']);
    expect(machine.cpu.reg[0] >>> 0).toBe(0xdeadbeef);
    const cs = GDB_REGISTERS.findIndex((r) => r.name === 'cs');
    // A selector is the guest's to load: refused with an error reply and nothing else (gdb
    // would take a console packet sent now for the answer).
    expect(await ask(`P${cs.toString(16)}=08000000`)).toEqual(['E01']);
    expect(await ask('g')).toEqual([expect.stringMatching(/^[0-9a-f]+$/)]);
    const xml = targetDescription();
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('<reg name="cr3" bitsize="32" type="int32"');
  });

  it('steps, continues to a breakpoint, and reports a watchpoint with its address', async () => {
    const { machine, ask } = stubOn('mov eax, 1\nmov [0x600], eax\nnop\nnop\nhere: nop\nhlt');
    expect((await ask('qSupported:multiprocess+;swbreak+;hwbreak+'))[0]).toMatch(/PacketSize=4000;.*swbreak\+/);
    expect(await ask('vCont?')).toEqual(['vCont;c;C;s;S']);
    expect(await ask('vCont;s:1')).toEqual(['T05thread:1;']);
    expect(machine.cpu.reg[0]).toBe(1);
    expect(await ask('Z2,600,4')).toEqual(['OK']);
    expect(await ask('c')).toEqual(['T05watch:600;thread:1;']);
    expect(await ask('z2,600,4')).toEqual(['OK']);
    const here = (0x7c00 + 6 + 4 + 2).toString(16); // mov eax, 1 (66 B8 imm32) and mov [0x600], eax (66 A3 disp16) in 16-bit code
    expect(await ask(`Z0,${here},1`)).toEqual(['OK']);
    expect(await ask('c'), 'the breakpoint').toEqual(['T05swbreak:;thread:1;']);
    expect((machine.cpu.st[S_EIP] >>> 0).toString(16)).toBe(here);
  });

  it('ignores a Ctrl-C that comes while the guest is stopped (it would stop the next continue at once)', async () => {
    const { machine, stub, ask } = stubOn('nop\nnop\nhlt');
    stub.receive('\x03');
    expect(await ask('vCont;s:1')).toEqual(['T05thread:1;']);
    expect(machine.cpu.st[S_EIP]).toBe(0x7c01);
  });

  it('reads and writes memory at linear addresses; an unmapped read is E14', async () => {
    const { machine, ask } = stubOn('hlt');
    expect(await ask('M600,2:abcd')).toEqual(['OK']);
    expect(machine.phys.read8(0x601)).toBe(0xcd);
    expect(await ask('X602,1:#')).toEqual(['OK']); // sent escaped: } then # ^ 0x20
    expect(await ask('m600,3')).toEqual(['abcd23']);
    expect(await ask('mfffff000,4')).toEqual(['E14']);
  });

  it('answers malformed and unknown packets with an error or an empty reply, and keeps going', async () => {
    const { ask } = stubOn('hlt');
    for (const bad of ['m', 'mzz,1', 'M600,2:abc', 'P', 'Pzz=1', 'Z9,0,0', 'Z2,600,0', 'qXfer:features:read:other.xml:0,10', 'qRcmd,zz', 'vCont;x']) {
      const [reply] = await ask(bad);
      expect(reply === '' || /^E/.test(reply), `${bad} -> ${reply}`).toBe(true);
    }
    expect(await ask('vMustReplyEmpty')).toEqual(['']);
    expect(await ask('qAttached')).toEqual(['1']);
  });

  it('runs the REPL\'s looking commands for monitor, and refuses the ones that run the guest', async () => {
    const { ask } = stubOn('hlt');
    const hex = (t: string) => Buffer.from(t).toString('hex');
    const text = (replies: string[]) => replies.filter((r) => r.startsWith('O')).map((r) => Buffer.from(r.slice(1), 'hex').toString()).join('');
    const translate = await ask(`qRcmd,${hex('translate 0x7c00')}`);
    expect(translate.at(-1)).toBe('OK');
    expect(text(translate)).toMatch(/GVA 0x00007C00/);
    expect(text(await ask(`qRcmd,${hex('continue')}`))).toMatch(/gdb runs the guest here/);
  });

  it('asks for a packet again when its checksum is wrong, and sends again when asked', async () => {
    const { stub, sent } = stubOn('hlt');
    stub.receive('$g#00');
    expect(sent).toEqual(['-']);
    stub.receive(framePacket('qAttached'));
    await stub.idle();
    sent.length = 0;
    stub.receive('-');
    expect(sent).toEqual([framePacket('1')]);
  });
});
