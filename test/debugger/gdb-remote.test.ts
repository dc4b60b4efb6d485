/**
 * minivisor's gdb stub with real gdb (Debian's `gdb`; .ci/run installs it): `minivisor run -S
 * --gdb PORT` on the toy kernel, driven by `gdb -batch`, as a student would: attach, look at
 * the registers (the same values the REPL shows), disassemble, break in a ring-3 process, step,
 * watch a kernel variable, set a register, ask the REPL through `monitor`, detach and let the
 * guest finish. Under ept and shadow paging, with the translation cache on and off. Then
 * Ctrl-C from gdb on a guest that never stops, and what a second client or a taken port get.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSymbolMap } from '../../src/asm/symbol-map.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const KERNEL = join(ROOT, 'guests', 'kernel', 'kernel.asm');

/** A TCP port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Minivisor {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `minivisor run ARGS`; resolves once its stub listens (or it has ended). */
async function minivisor(args: string[]): Promise<Minivisor> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'run', ...args], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('gdb stub on')) resolve();
    });
    void exit.then(() => resolve());
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/**
 * Runs gdb in batch mode with these commands; `interruptAfterMs`: Ctrl-C (SIGINT) to gdb so
 * long after it has attached (and gone on to the next command).
 */
function gdb(port: number, commands: string[], interruptAfterMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const args = ['-batch', '-nx', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`, ...commands.flatMap((c) => ['-ex', c])];
    const child = spawn('gdb', args, { cwd: ROOT });
    let out = '';
    let armed = interruptAfterMs !== undefined;
    const take = (d: Buffer) => {
      out += d.toString();
      if (armed && /in \?\? \(\)/.test(out)) {
        armed = false;
        setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // A stub that stopped answering must fail the test with what gdb said, well before vitest's timeout.
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('close', () => clearTimeout(timer));
    child.on('close', () => resolve(out));
  });
}

/** gdb's `info registers` lines as name → value. */
function gdbRegisters(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const m of text.matchAll(/^(\w+)\s+(0x[0-9a-f]+)\s/gm)) values.set(m[1], Number(m[2]));
  return values;
}

/** How guests/c-kernel/README.md builds the kernel: 32-bit, for a 386, no C library, loaded at 1 MiB, with debug information. */
const C_KERNEL_FLAGS = ['-m32', '-march=i386', '-ffreestanding', '-fno-pie', '-fno-stack-protector', '-nostdlib', '-static', '-no-pie', '-g', '-O1', '-Wl,-N,-Ttext=0x100000,--build-id=none,--no-warn-rwx-segments'];

let symbols: Map<string, number>;

beforeAll(() => {
  expect(spawnSync('gdb', ['--version']).status, "these tests need gdb (apt-get install gdb; .ci/run installs it)").toBe(0);
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-gdb-'));
  const made = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'asm', KERNEL, '-o', join(dir, 'kernel.img'), '--symbols', join(dir, 'kernel.sym')], { cwd: ROOT });
  expect(made.status, made.stderr.toString()).toBe(0);
  symbols = parseSymbolMap(readFileSync(join(dir, 'kernel.sym'), 'utf8')).symbols;
});

describe.each([
  ['ept', []],
  ['ept', ['--no-jit']],
  ['shadow', []],
  ['shadow', ['--no-jit']],
] as const)('gdb on the toy kernel (--mode %s %s)', (mode, extra) => {
  it('attaches, breaks in ring 3, steps, watches, sets a register, asks the REPL, and detaches', async () => {
    const port = await freePort();
    const vm = await minivisor([KERNEL, '--mode', mode, ...extra, '--exit-port', '0xf4', '-S', '--gdb', String(port)]);
    const uprint = symbols.get('uprint')!; // the first instruction of the user programs' library, in ring 3
    const ticks = symbols.get('ticks')!; // the kernel's timer-interrupt count
    const out = await gdb(port, [
      'echo [start]\\n', 'info registers eip cs', 'x/4i $pc',
      `break *${uprint}`, 'continue', 'echo [ring3]\\n', 'info registers', 'monitor registers',
      'stepi', 'stepi', 'stepi', 'echo [stepped]\\n', 'info registers eip',
      'delete', `watch *(int*)${ticks}`, 'continue', 'delete',
      'set $eax = 0x5eed', 'echo [set]\\n', 'monitor print eax',
      `monitor translate ${uprint}`,
      'echo [detach]\\n', 'detach',
    ]);
    const status = await vm.exit;
    const part = (from: string, to: string) => out.slice(out.indexOf(from), to ? out.indexOf(to) : undefined);

    // Stopped before the first instruction: the reset vector, F000:FFF0.
    const start = gdbRegisters(part('[start]', '[ring3]'));
    expect(start.get('eip')).toBe(0xfff0);
    expect(start.get('cs')).toBe(0xf000);
    expect(out).toMatch(/=> 0xfff0:/);

    // The breakpoint in the ring-3 library: CS's RPL is 3, and gdb's registers are the CPU's.
    expect(out).toMatch(new RegExp(`Breakpoint 1, 0x${uprint.toString(16).padStart(8, '0')} in`));
    const ring3 = part('[ring3]', '[stepped]');
    const seen = gdbRegisters(ring3);
    expect(seen.get('eip')).toBe(uprint);
    expect(seen.get('cs')! & 3).toBe(3);
    expect(seen.get('cpl')).toBe(3);
    for (const name of ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eflags', 'cr0', 'cr3']) {
      // The REPL's `registers` line: "eax 0x00000004  ecx ...", "cr0 0x80000011 [ ... ]  cr2 ...".
      const repl = new RegExp(`\\b${name} (0x[0-9A-F]{8})`).exec(ring3);
      expect(repl, `${name} in the REPL's registers`).not.toBeNull();
      expect(seen.get(name), name).toBe(Number(repl![1]));
    }

    // stepi x3: pushad (1 byte), mov esi, [esp + 32] (4), mov edi, esi (2).
    expect(gdbRegisters(part('[stepped]', 'Hardware watchpoint')).get('eip')).toBe(uprint + 7);

    // The watchpoint on the tick count fires with the old and the new value.
    const watch = /Old value = (\d+)\s+New value = (\d+)/.exec(out);
    expect(watch, out).not.toBeNull();
    expect(Number(watch![2])).toBe(Number(watch![1]) + 1);

    // set $eax took effect (the REPL sees it), and monitor translate walked the user page.
    expect(part('[set]', '[detach]')).toMatch(/= 0x00005eed/i);
    expect(out).toMatch(new RegExp(`GVA 0x${uprint.toString(16).toUpperCase().padStart(8, '0')}`));
    expect(out).toMatch(/GPA 0x[0-9A-F]+/);

    // Detached, the guest ran to its end: the kernel's summary and exit status 1 (all went well).
    expect(out).toMatch(/detached/);
    expect(vm.stdout()).toMatch(/kernel: powering off/);
    expect(status).toBe(1);
  });
});

describe('gdb going back (reverse-stepi, reverse-continue: the bs and bc packets)', () => {
  it("walks back from the kernel's int 0x80 stub into ring 3, and back to the instruction that wrote a watched word", async () => {
    const port = await freePort();
    const vm = await minivisor([KERNEL, '--mode', 'ept', '--exit-port', '0xf4', '-S', '--gdb', String(port)]);
    const stub = symbols.get('isr_0x80')!;
    const fill = symbols.get('heap.fill')!; // the heap process's loop: mov [esi+eax*4], eax
    const out = await gdb(port, [
      `break *${stub}`, 'continue', 'echo [kernel]\\n', 'info registers eip cs',
      'reverse-stepi', 'echo [back]\\n', 'info registers eip cs', 'x/i $pc',
      'stepi', 'echo [again]\\n', 'info registers eip cs',
      'delete', 'watch *(int*)0x50000100', 'continue', 'echo [forward]\\n', 'reverse-continue', 'echo [reversed]\\n', 'info registers eip eax', 'x/1xw 0x50000100',
      'kill',
    ]);
    await vm.exit;
    const part = (from: string, to?: string) => out.slice(out.indexOf(from), to ? out.indexOf(to) : undefined);
    expect(gdbRegisters(part('[kernel]', '[back]')).get('eip')).toBe(stub);
    // One instruction back from the stub's first: the int 0x80 in the process, in ring 3.
    const back = part('[back]', '[again]');
    expect(gdbRegisters(back).get('cs')! & 3).toBe(3);
    expect(back).toMatch(/=> 0x[0-9a-f]+:\s+int\s+\$0x80/);
    expect(gdbRegisters(part('[again]', '[forward]')).get('eip')).toBe(stub);
    // The watchpoint: forward it stops after the write; reverse-continue stands at the write, before it ran.
    expect(part('[forward]', '[reversed]')).toMatch(/Old value = 64\s+New value = 0/);
    const reversed = gdbRegisters(part('[reversed]'));
    expect(reversed.get('eip')).toBe(fill);
    expect(reversed.get('eax')).toBe(0x40);
    expect(part('[reversed]')).toMatch(/0x50000100:\s+0x00000000/);
  });
});

describe('gdb on the toy SMP kernel (--smp 2)', () => {
  it('lists the processors as threads, stops in the AP that hits a breakpoint, and switches threads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-gdb-'));
    const source = join(ROOT, 'guests/kernel-smp/kernel-smp.asm');
    const made = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'asm', source, '-o', join(dir, 'k.bin'), '--symbols', join(dir, 'k.sym')], { cwd: ROOT });
    expect(made.status, made.stderr.toString()).toBe(0);
    const apEntry = parseSymbolMap(readFileSync(join(dir, 'k.sym'), 'utf8')).symbols.get('ap_entry')!; // where an AP enters 32-bit code
    const port = await freePort();
    const vm = await minivisor([source, '--hda', join(ROOT, 'guests/kernel-smp/disk.asm'), '--smp', '2', '--exit-port', '0xf4', '-S', '--gdb', String(port)]);
    const out = await gdb(port, [
      'echo [threads]\\n', 'info threads',
      `break *${apEntry}`, 'continue', 'echo [ap]\\n', 'info registers eip cs', 'info threads',
      'thread 1', 'echo [bsp]\\n', 'info registers eip cs',
      'delete', 'echo [detach]\\n', 'detach',
    ]);
    const status = await vm.exit;
    const part = (from: string, to: string) => out.slice(out.indexOf(from), out.indexOf(to));
    // Before anything ran: two threads, the second a processor waiting for its STARTUP IPI.
    expect(part('[threads]', 'Breakpoint 1')).toMatch(/\* 1\s+Thread 1 \(cpu 0, APIC ID 0, running\)/);
    expect(part('[threads]', 'Breakpoint 1')).toMatch(/2\s+Thread 2 \(cpu 1, APIC ID 1, waiting for a STARTUP IPI\)/);
    // The AP comes through its trampoline into the kernel's 32-bit code: gdb stops in thread 2 there.
    expect(out).toMatch(new RegExp(`Thread 2 .*hit Breakpoint 1, 0x${apEntry.toString(16).padStart(8, '0')}`));
    const ap = gdbRegisters(part('[ap]', '[bsp]'));
    expect(ap.get('eip')).toBe(apEntry);
    expect(ap.get('cs')).toBe(0x08);
    expect(part('[ap]', '[bsp]')).toMatch(/\* 2\s+Thread 2 \(cpu 1, APIC ID 1, running\)/);
    // Thread 1 is the BSP, elsewhere (it waits for the AP to say it is up).
    expect(gdbRegisters(part('[bsp]', '[detach]')).get('eip')).not.toBe(apEntry);
    expect(status).toBe(1);
    expect(vm.stdout()).toMatch(/counter: 9000 \(expected 9000\)/);
  });
});

describe('gdb with symbols: an ELF Multiboot kernel written in C', () => {
  it('builds with gcc, stops at kmain by name, shows source lines and a backtrace, and runs to its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-gdb-'));
    const elf = join(dir, 'kernel.elf');
    const source = join(ROOT, 'guests', 'c-kernel');
    // The command guests/c-kernel/README.md gives.
    const built = spawnSync('gcc', [...C_KERNEL_FLAGS, '-o', elf, join(source, 'boot.S'), join(source, 'kernel.c')]);
    expect(built.status, `gcc (apt-get install gcc): ${built.stderr}`).toBe(0);
    const port = await freePort();
    const vm = await minivisor([elf, '--exit-port', '0xf4', '-S', '--gdb', String(port)]);
    const out = await gdb(port, [`symbol-file ${elf}`, 'break kmain', 'continue', 'bt', 'next', 'next', 'watch ticks', 'continue', 'delete', 'break fib if n == 19', 'continue', 'bt 2', 'delete', 'continue']);
    expect(await vm.exit).toBe(1);
    expect(out).toMatch(/Breakpoint 1, kmain \(magic=732803074, info=0x[0-9a-f]+\) at .*kernel\.c:\d+/); // 0x2BADB002
    expect(out).toMatch(/#1 .* in _start \(\) at .*boot\.S:\d+/);
    expect(out).toMatch(/for \(ticks = 0; ticks < 10; ticks\+\+\) fib\(ticks\);/);
    expect(out).toMatch(/Old value = 0\s+New value = 1/);
    expect(out).toMatch(/Breakpoint 3, fib \(n=n@entry=19\)[\s\S]*#1 .* in fib \(n=n@entry=20\)/);
    expect(out).toMatch(/exited with code 01/);
    expect(vm.stdout()).toMatch(/c-kernel: fib\(20\) = 6765/);
  });
});

describe('gdb next to the REPL (minivisor debug --gdb)', () => {
  it('shares the breakpoints; while gdb is attached it runs the guest and the REPL only looks', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'debug', KERNEL, '--exit-port', '0xf4', '--gdb', String(port)], { cwd: ROOT });
    let stdout = '';
    const waiters: { text: string; resolve: () => void }[] = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
      for (const w of waiters.filter((w) => stdout.includes(w.text))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const seen = (text: string) => new Promise<void>((resolve) => (stdout.includes(text) ? resolve() : waiters.push({ text, resolve })));
    const type = (line: string) => child.stdin.write(`${line}\n`);

    await seen('gdb stub on');
    type('break uprint');
    await seen('Breakpoint 1 at 0x40000000');
    // gdb continues to the REPL's breakpoint (a stop gdb did not ask for: SIGTRAP, with the
    // REPL's words), waits while the REPL tries to run the guest, and detaches.
    const session = gdb(port, ['continue', 'p/x $eip', 'shell sleep 1', 'detach']);
    await seen('gdb runs the guest now');
    await new Promise((resolve) => setTimeout(resolve, 300));
    type('continue');
    const out = await session;
    await seen('the REPL runs the guest again');
    type('delete');
    type('continue');
    type('quit');
    const status = await exit;
    expect(out).toMatch(/Breakpoint 1, 0x40000000 <uprint>/);
    expect(out).toMatch(/Program received signal SIGTRAP/);
    expect(out).toMatch(/\$1 = 0x40000000/);
    expect(stdout).toMatch(/error: continue: gdb is attached and runs the guest/);
    expect(stdout).toMatch(/kernel: powering off/);
    expect(status).toBe(1); // the refused continue counts as a failed command
  });
});

describe('gdb and a guest that never stops', () => {
  it('Ctrl-C in gdb stops the running guest, and kill ends the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-gdb-'));
    const spin = join(dir, 'spin.asm');
    writeFileSync(spin, 'org 0x7c00\ncli\nspin: inc eax\njmp spin\ntimes 510 - ($ - $$) db 0\ndw 0xaa55\n');
    const port = await freePort();
    const vm = await minivisor([spin, '-S', '--gdb', String(port)]);
    const out = await gdb(port, ['continue', 'echo [stopped]\\n', 'info registers eax eip', 'kill'], 1000);
    const status = await vm.exit;
    expect(out).toMatch(/Program received signal SIGINT/);
    const regs = gdbRegisters(out.slice(out.indexOf('[stopped]')));
    expect(regs.get('eax')).toBeGreaterThan(1000);
    expect([0x7c01, 0x7c03]).toContain(regs.get('eip'));
    expect(vm.stderr()).toMatch(/gdb killed the guest/);
    expect(status).toBe(16);
  });
});

describe('what the stub refuses', () => {
  it('a port in use is a clear error before the guest starts', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    try {
      const vm = await minivisor([join(ROOT, 'guests', 'hello', 'hello.asm'), '--gdb', String(port)]);
      expect(await vm.exit).toBe(2);
      expect(vm.stderr()).toMatch(new RegExp(`--gdb: port ${port} is in use`));
      expect(vm.stdout()).toBe('');
    } finally {
      server.close();
    }
  });

  it('a second gdb while one is attached is told why, and refused; the first is still served', async () => {
    const port = await freePort();
    const vm = await minivisor([join(ROOT, 'guests', 'hello', 'hello.asm'), '-S', '--gdb', String(port)]);
    const first = connect(port, '127.0.0.1');
    let replies = '';
    first.on('data', (d) => (replies += d.toString('latin1')));
    await new Promise((resolve) => first.on('connect', resolve));
    const answered = async (text: string) => {
      while (!replies.includes(text)) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    first.write('$qAttached#' + checksum('qAttached'));
    await answered('$1#31'); // attached and served
    const second = await gdb(port, []);
    expect(second).toMatch(/minivisor has a gdb attached already: one client at a time/);
    // The first client is still served: a malformed packet gets an error reply, a good one its answer.
    replies = '';
    first.write('$mzz,1#' + checksum('mzz,1') + '$qAttached#' + checksum('qAttached'));
    await answered('$1#31');
    // Each packet acknowledged ('+', as it arrives), then answered in order.
    expect(replies.replace(/\+/g, '')).toBe('$E01#a6$1#31');
    first.write('$k#6b');
    expect(await vm.exit).toBe(16);
    expect(vm.stderr()).toMatch(/refused a second gdb/);
  });
});

function checksum(text: string): string {
  let sum = 0;
  for (const c of text) sum = (sum + c.charCodeAt(0)) & 0xff;
  return sum.toString(16).padStart(2, '0');
}
