/**
 * Reverse execution (src/debugger/timeline.ts, reverse.ts) as a student uses it in the REPL: the
 * toy kernel run to its end, then back to the instruction that wrote a process's data; back
 * from the kernel's int 0x80 stub into ring 3; back over a call whole; typed keys and `set`
 * given back when the run is replayed; named snapshots; and the end of the history reached
 * again, in the very state it had.
 */
import { describe, expect, it } from 'vitest';
import { assembleFile } from '../../src/asm/node-files.ts';
import { DebugSession, type DebugHost } from '../../src/debugger/session.ts';
import { SymbolTable } from '../../src/debugger/symbols.ts';
import { readRegister } from '../../src/debugger/registers.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { guestStateHash } from '../../src/machine/input-log.ts';
import { Machine, type MemoryMode } from '../../src/machine/machine.ts';
import { bios, ROOT } from '../firmware/harness.ts';
import { debugAsm } from '../helpers/debug-session.ts';
import { join } from 'node:path';

/** A REPL session on a guest booted through the BIOS from guests/NAME/NAME.asm. */
function bootSession(name: string, mode: MemoryMode) {
  const assembled = assembleFile(join(ROOT, 'guests', name, `${name}.asm`));
  if (!assembled.ok) throw new Error(`${name} did not assemble`);
  let serial = '';
  const machine = new Machine({
    memoryBytes: 32 << 20,
    mode,
    exitPort: 0xf4,
    bios: bios(),
    disks: new Map([[0, DiskImage.from(assembled.bytes, 'floppy', `${name}.img`)]]),
    serial: (b) => (serial += String.fromCharCode(b)),
  });
  const symbols = new SymbolTable();
  symbols.add({ symbols: new Map([...assembled.symbols].filter(([n]) => assembled.labels.has(n))), constants: new Map(), lineMap: assembled.lineMap });
  let printed: string[] = [];
  const host: DebugHost = { print: (t) => printed.push(t), flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
  const session = new DebugSession(machine, symbols, host);
  return {
    session,
    machine,
    symbols,
    get serial() {
      return serial;
    },
    set serial(text: string) {
      serial = text;
    },
    async run(...commands: string[]): Promise<string> {
      printed = [];
      for (const c of commands) await session.execute(c);
      return printed.join('\n');
    },
  };
}

describe.each(['ept', 'shadow', 'bare'] as const)('reverse execution on the toy kernel (--mode %s)', (mode) => {
  it('reverse-continue from the end goes back to the instruction that wrote a process\'s data, before it ran', async () => {
    const k = bootSession('kernel', mode);
    expect(await k.run('continue')).toContain('The guest wrote to the exit port: exit status 1.');
    const end = { at: k.machine.instructions, hash: guestStateHash(k.machine), serial: k.serial };
    // The heap process fills its sbrk'd memory (at 0x50000000) with 0, 1, 2...: word 0x40 is written once.
    await k.run('watch 0x50000100');
    const back = await k.run('reverse-continue');
    expect(back).toMatch(/Watchpoint 1: dword \[0x50000100\] written \(going back: before that instruction ran\) by the instruction at 001B:40000160 <heap\.fill>\n {2}old 0x00000000\n {2}new 0x00000040/);
    expect(back).toMatch(/=> 001B:40000160 <heap\.fill> +89 04 86 +mov \[esi\+eax\*4\], eax/);
    expect(readRegister(k.session.processor, 'eax')).toBe(0x40);
    expect(readRegister(k.session.processor, 'cpl')).toBe(3);
    expect(await k.run('x/1xw 0x50000100')).toContain('0x00000000');
    // Forward again: the same write, now seen as it happens.
    expect(await k.run('continue')).toMatch(/Watchpoint 1: dword \[0x50000100\] written by the instruction at 001B:40000160 <heap\.fill>\n {2}old 0x00000000\n {2}new 0x00000040\n=> 001B:40000163/);
    // And to the end of the history: the very state the run ended in.
    await k.run('delete', 'goto end');
    expect(k.machine.instructions).toBe(end.at);
    expect(guestStateHash(k.machine)).toBe(end.hash);
    // What the guest printed was printed once: replays of history print nothing again.
    expect(k.serial).toBe(end.serial);
    expect(await k.run('info history')).toMatch(/History: instructions 0 to \d+; the machine is at \d+ \(at its end/);
  });
});

describe('reverse-step and reverse-next', () => {
  it('reverse-step from the kernel\'s int 0x80 stub lands on the int 0x80 in ring 3', async () => {
    const k = bootSession('kernel', 'ept');
    await k.run('break isr_0x80', 'continue');
    expect(readRegister(k.session.processor, 'cpl')).toBe(0);
    const back = await k.run('reverse-step');
    expect(back).toMatch(/^=> 001B:[0-9A-F]{8} .* int 0x80/m);
    expect(readRegister(k.session.processor, 'cpl')).toBe(3);
    // Going on again: back at the stub, as before.
    expect(await k.run('step')).toMatch(/=> 0008:[0-9A-F]{8} <isr_0x80>/);
  });

  it('reverse-next steps back over a call whole; reverse-step goes into it, to its RET', async () => {
    const t = debugAsm(`
      mov ebx, 7
      call add_some
    after:
      mov eax, ebx
      out 0xf4, al
    add_some:
      mov ecx, 50
    .again:
      add ebx, 2
      loop .again
      ret
    `);
    await t.run('break after', 'continue');
    expect(t.session.cpu.reg[3]).toBe(107);
    expect(await t.run("reverse-next")).toMatch(/^=> 0000:7C06 .*call/m);
    expect(t.session.cpu.reg[3]).toBe(7);
    await t.run('step 153');
    expect(t.session.linearEip).toBe(t.at('after'));
    expect(await t.run('reverse-step')).toMatch(/^=> .*ret/m);
    expect(await t.run('reverse-step 2')).toMatch(/^=> 0000:7C14 <add_some.again> .*add ebx/m);
    expect(t.session.cpu.reg[1]).toBe(1);
  });

  it('goto says where the history ends, for a count outside it', async () => {
    const t = debugAsm('mov eax, 1\nhlt');
    await t.run('step');
    expect(await t.run('goto 99999999')).toContain('error: goto: instruction 99999999 is outside the history: it runs from 0 to 1 (info history)');
    expect(await t.run('reverse-step', 'reverse-step')).toContain('No more reverse-execution history: this is where the history begins (instruction 0).');
  });
});

describe('what came from outside, given back', () => {
  it('keys typed for the guest are typed again at the same instructions when the run is replayed', async () => {
    const k = bootSession('keyboard', 'bare');
    await k.run('tbreak *0x7c00', 'continue', 'type hello\\n', 'continue');
    const first = k.serial;
    expect(first).toContain('you typed "hello"');
    const ended = { at: k.machine.instructions, hash: guestStateHash(k.machine) };
    await k.run('goto start');
    expect(await k.run('continue')).toContain('The guest halted');
    // The same run to the same end, the keys read again; what it printed is not printed twice.
    expect(k.machine.instructions).toBe(ended.at);
    expect(guestStateHash(k.machine)).toBe(ended.hash);
    expect(k.serial).toBe(first);
    expect(await k.run('info history')).toMatch(/\d+ inputs? from outside/);
  });

  it('what was typed at the end of the history is still there after going back and to the end again', async () => {
    const k = bootSession('keyboard', 'bare');
    await k.run('tbreak *0x7c00', 'continue', 'type a', 'goto start', 'goto end', 'type b\\n', 'continue');
    expect(k.serial).toContain('you typed "ab"');
  });

  it('a register set by hand is set again when a replay passes that point', async () => {
    const t = debugAsm(`
      mov eax, 1
    here:
      add eax, 1
      out 0xe9, al
      hlt
    `);
    await t.run('break here', 'continue', 'set eax = 0x40', 'continue');
    expect(t.guest).toBe('A');
    expect(t.session.cpu.reg[0]).toBe(0x41);
    await t.run('goto start', 'delete');
    expect(t.session.cpu.reg[0]).not.toBe(0x41);
    await t.run('continue');
    expect(t.session.cpu.reg[0]).toBe(0x41);
    expect(t.guest).toBe('A'); // (printed once, when it first ran)
  });
});

describe('snapshots by name', () => {
  it('saves the machine, goes on, and loads it back; info snapshots lists them', async () => {
    const t = debugAsm(`
      xor ecx, ecx
    again:
      inc ecx
      jmp again
    `);
    await t.run('step 5');
    expect(await t.run('snapshot save early')).toMatch(/^Snapshot 'early': the machine at instruction 5, 0000:7C/);
    const saved = guestStateHash(t.machine);
    await t.run('step 100');
    expect(t.session.cpu.reg[1]).not.toBe(2);
    expect(await t.run('info snapshots')).toMatch(/1 snapshot .*\n {2}early +instruction 5 /);
    expect(await t.run('snapshot load early')).toContain("Snapshot 'early' loaded: the machine at instruction 5, as it was saved (the history starts again here).");
    expect(guestStateHash(t.machine)).toBe(saved);
    expect(await t.run('snapshot load late')).toContain("error: snapshot: no snapshot 'late': there are early");
    expect(await t.run('snapshot delete early', 'info snapshots')).toContain("No snapshots: 'snapshot save NAME' takes one.");
  });
});

describe('reverse-step with two processors', () => {
  it("steps back the focused processor's own instructions, the other rewound to where it was then", async () => {
    // The toy SMP kernel, both processors running: the focus on the bootstrap processor, just after the other started.
    const dir = join(ROOT, 'guests', 'kernel-smp');
    const kernel = assembleFile(join(dir, 'kernel-smp.asm'));
    const disk = assembleFile(join(dir, 'disk.asm'));
    if (!kernel.ok || !disk.ok) throw new Error('the SMP kernel did not assemble');
    const machine = new Machine({ mode: 'ept', cpus: 2, memoryBytes: 32 << 20, bios: bios(), exitPort: 0xf4, disks: new Map([[0x80, DiskImage.from(disk.bytes, 'hard-disk', 'disk.img')]]) });
    machine.loadMultiboot(kernel.bytes, 'kernel-smp');
    const symbols = new SymbolTable();
    symbols.add({ symbols: new Map([...kernel.symbols].filter(([n]) => kernel.labels.has(n))), constants: new Map(), lineMap: kernel.lineMap });
    const host: DebugHost = { print: () => {}, flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
    const session = new DebugSession(machine, symbols, host);
    for (const c of ['break ap_entry', 'continue', 'delete', 'step 50', 'cpu 0']) await session.execute(c); // (the AP ran last)
    const [bsp, ap] = machine.processors.map((p) => p.cpu);
    const ran = (cpu: typeof bsp) => cpu.instructions - cpu.idleInstructions;
    expect(ran(ap)).toBeGreaterThan(0);
    const before = { bsp: ran(bsp), eip: session.linearEip };
    await session.execute('reverse-step 3');
    expect(ran(bsp)).toBe(before.bsp - 3);
    await session.execute('step 3');
    expect(ran(bsp)).toBe(before.bsp);
    expect(session.linearEip).toBe(before.eip);
  });
});

describe('goto under random code', () => {
  it('lands every random guest, in every memory mode, in the state a run to that count ends in', async () => {
    const { fuzzGuest, MODES } = await import('../helpers/vmm-fuzz.ts');
    const { gotoPosition } = await import('../../src/debugger/reverse.ts');
    const quiet: DebugHost = { print: () => {}, flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
    const problems: string[] = [];
    let compared = 0;
    let snapshots = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const guest = fuzzGuest(seed);
      for (const mode of MODES.filter((m) => m.jit && !(m.mode === 'pv' && guest.kind === 'paged'))) {
        const machine = guest.build(mode);
        const session = new DebugSession(machine, new SymbolTable(), quiet, { maxInstructions: guest.budget });
        // Run in pieces of 1,000 instructions with a snapshot after each two: goto loads them into the machine as it stands.
        session.timeline.interval = 2000;
        session.timeline.adapts = false;
        for (let left = guest.budget; left > 0; ) {
          const before = machine.instructions;
          if (session.timeline.run(Math.min(1000, left)).kind !== 'limit') break;
          left -= machine.instructions - before;
        }
        const end = machine.instructions;
        for (const fraction of [0.9, 0.1, 0.5, 1]) {
          const target = Math.floor(end * fraction);
          const reached = gotoPosition(session, target);
          const fresh = guest.build(mode);
          fresh.run(reached);
          if (fresh.instructions !== reached || guestStateHash(fresh) !== guestStateHash(machine)) problems.push(`seed ${seed} ${mode.mode}: goto ${target} (reached ${reached}) is not the run to ${fresh.instructions}`);
          snapshots = Math.max(snapshots, session.timeline.snapshotCount);
          compared++;
          fresh.dispose();
        }
      }
    }
    expect(problems).toEqual([]);
    expect(compared).toBeGreaterThan(150);
    expect(snapshots).toBeGreaterThan(3);
  }, 120_000);
});

describe('reverse-next over a long call', () => {
  it("goes back over a call of 600,000 instructions to the CALL (the second round, whose return address is the first round's), then one further", async () => {
    const t = debugAsm(`
      mov esi, 3
    round:
      call busy
    after:
      dec esi
      jnz round
      hlt
    busy:
      mov ecx, 300000
    .spin:
      dec ecx
      jnz .spin
      ret
    `);
    await t.run('break after', 'continue', 'continue');
    expect(t.session.cpu.reg[6]).toBe(2); // (the second round: the same return address as the first's)
    const back = await t.run('reverse-next');
    expect(back).toMatch(/^=> 0000:7C06 .*call/m);
    expect(t.session.cpu.reg[6]).toBe(2);
    expect(t.machine.instructions).toBeGreaterThan(600_000); // (the second call, not the first)
    expect(await t.run('reverse-next')).toMatch(/^=> 0000:7C03 .*jnz|^=> .*jne/m);
  });
});
