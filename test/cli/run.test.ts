/** `minivisor run` end to end, through the real command, as a user or a grader runs it. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'test', 'fixtures', 'guests', 'debugcon-hello.asm');

function minivisor(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sourceFile(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-run-'));
  const file = join(dir, 'guest.asm');
  writeFileSync(file, source);
  return file;
}

/** A boot sector from `source`: the BIOS boots it from a floppy, so it carries the 55AA signature. */
function guestFile(source: string): string {
  return sourceFile(`${source}\ntimes 510 - ($ - $$) db 0\ndw 0xaa55\n`);
}

/** What the guest printed, without the BIOS's banner line. */
function guestOutput(stdout: string): string {
  return stdout.replace(/^minivisor BIOS[^\n]*\n/, '');
}

describe('minivisor run', () => {
  it('with stdin from /dev/null or a file, a run repeats exactly: the toy SMP kernel prints its golden output', () => {
    // (No terminal and no pipe: no key can come later, so a halted guest does not wait in real time.)
    const args = [join(ROOT, 'bin', 'minivisor.js'), 'run', join(ROOT, 'guests/kernel-smp/kernel-smp.asm'), '--hda', join(ROOT, 'guests/kernel-smp/disk.asm'), '--exit-port', '0xf4', '--smp', '2'];
    const r = spawnSync(process.execPath, args, { encoding: 'latin1', cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'guests/kernel-smp/kernel-smp.smp2.expected'), 'latin1'));
  });

  it('runs the toy SMP kernel as its README says, with --smp 2: the counts per processor in --stats', () => {
    const r = minivisor('run', join(ROOT, 'guests/kernel-smp/kernel-smp.asm'), '--hda', join(ROOT, 'guests/kernel-smp/disk.asm'), '--exit-port', '0xf4', '--smp', '2', '--stats');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('mp: 2 processor(s), IOAPIC 2\ncpu 1: up\n');
    expect(r.stdout).toContain('disk (IRQ 14 on cpu 1): hello from sector 1 of the IDE disk');
    expect(r.stdout).toMatch(/counter: 9000 \(expected 9000\)\n$/);
    expect(r.stderr).toMatch(/minivisor: 2 processors: cpu 0 \d+, cpu 1 \d+ instructions/);
  });

  it('boots a .asm guest through the BIOS: debugcon bytes reach stdout, the exit port sets the status', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--exit-port', '0xf4');
    expect(guestOutput(r.stdout)).toBe('Hello from a guest\n');
    expect(r.status).toBe(33);
  });

  it('sends debugcon output to a file, and dumps memory at the end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-run-'));
    const out = join(dir, 'console.txt');
    const dump = join(dir, 'sector.bin');
    const r = minivisor('run', HELLO, '--debugcon', `0xe9=${out}`, '--exit-port', '0xf4', '--dump-mem', `0x7c00:16=${dump}`);
    expect(r.status).toBe(33);
    expect(readFileSync(out, 'utf8')).toBe('Hello from a guest\n');
    expect(readFileSync(dump)[0]).toBe(0xfc); // the guest's first byte: CLD
  });

  it('--load and --entry start a raw image anywhere in RAM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-run-'));
    const image = join(dir, 'prog.bin');
    writeFileSync(image, Uint8Array.of(0xb0, 0x41, 0xe6, 0xe9, 0xb0, 0x02, 0xe6, 0xf4)); // mov al,'A'; out 0xe9,al; mov al,2; out 0xf4,al
    const r = minivisor('run', '--load', `${image}@0x20000`, '--entry', '2000:0000', '--debugcon', '0xe9', '--exit-port', '0xf4');
    expect(r.stdout).toBe('A');
    expect(r.status).toBe(5);
  });

  it('boots firmware given with --bios from the reset vector F000:FFF0 through the alias below 4 GiB', () => {
    const bios = sourceFile(`
        org 0
        bits 16
start:  mov al, 'B'
        out 0xe9, al
        xor al, al
        out 0xf4, al
        times 0xfff0 - ($ - $$) db 0xf4
        jmp 0xf000:start
        times 0x10000 - ($ - $$) db 0`);
    const r = minivisor('run', '--bios', bios, '--debugcon', '0xe9', '--exit-port', '0xf4');
    expect(r.stdout).toBe('B');
    expect(r.status).toBe(1);
  });

  it('HLT with interrupts disabled ends the run with status 0 and says so', () => {
    const r = minivisor('run', guestFile('cli\nhlt\n'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/HLT with interrupts disabled/);
  });

  it('--max-instructions stops a guest that never ends and says where it was', () => {
    const r = minivisor('run', guestFile('org 0x7c00\nspin: jmp spin\n'), '--max-instructions', '2000000');
    expect(r.status).toBe(12);
    expect(r.stderr).toMatch(/after 2000000 instructions.*0000:7C00/);
  });

  it('a triple fault is a reported shutdown, never a host crash', () => {
    const r = minivisor('run', guestFile('org 0x7c00\nlidt [idt]\nint3\nidt: dw 0\ndd 0\n'));
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/triple fault/);
    expect(r.stderr).toMatch(/EAX=/);
    expect(r.stderr).not.toMatch(/internal error|\s+at .*\.ts:\d+/);
  });

  it('--stats reports instructions and MIPS', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--exit-port', '0xf4', '--stats');
    expect(r.stderr).toMatch(/\d+ instructions in [\d.]+ s, [\d.]+ MIPS/);
  });

  it('--trace-jit shows each compiled block and region: its guest instructions and the function they became', () => {
    const loop = guestFile('org 0x7c00\nmov cx, 500\nagain: add ax, cx\nxor bx, ax\nloop again\ncli\nhlt\n');
    const r = minivisor('run', loop, '--mode', 'bare', '--trace-jit');
    expect(r.status).toBe(0);
    // The guest's loop at 0000:7C03, disassembled, and its function (it loops within itself).
    expect(r.stderr).toMatch(/jit: block_00007c03_16: 3 instructions at 0000:7C03/);
    expect(r.stderr).toMatch(/00007C03 {2}01C8 +add ax, cx\n {4}00007C05 {2}31C3 +xor bx, ax\n {4}00007C07 {2}E2FA +loop 0x7c03/);
    expect(r.stderr).toMatch(/function block_00007c03_16\(cpu, st, budget, retiredBefore\) \{[^]*for \(;;\)/);
    // The BRANCH loop (an if inside) is one region of three blocks, each of them shown.
    const region = minivisor('run', join(ROOT, 'guests', 'bench', 'loop.asm'), '-D', 'ITERS=1000', '-D', 'BRANCH=1', '--exit-port', '0xf4', '--trace-jit');
    expect(region.status).toBe(1);
    expect(region.stdout).toMatch(/SE0534BFDC/);
    expect(region.stderr).toMatch(/jit: region_[0-9a-f]{8}_32: 11 instructions in 3 blocks at 0008:/);
    expect(region.stderr).toMatch(/je short[^]*\n {4}--\n[^]*jne short[^]*\n {4}--\n[^]*add eax, edx/);
    expect(region.stderr).toMatch(/function region_[0-9a-f]{8}_32\(cpu, st, budget, retiredBefore\) \{[^]*switch \(j\)/);
    const refused = minivisor('run', loop, '--trace-jit', '--no-jit');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--trace-jit .* --no-jit/);
  });

  it('--no-jit runs the interpreter alone, to the same end; --stats says which ran', () => {
    const loop = guestFile('org 0x7c00\nmov cx, 5000\nagain: add ax, cx\nloop again\nmov dx, 0xe9\nadd al, 0x40\nand al, 0x3f\nadd al, 0x40\nout dx, al\ncli\nhlt\n');
    const jit = minivisor('run', loop, '--debugcon', '0xe9', '--stats');
    const interpreter = minivisor('run', loop, '--debugcon', '0xe9', '--stats', '--no-jit');
    expect(jit.stderr).toMatch(/translation cache: [1-9]\d* blocks compiled/);
    expect(interpreter.stderr).toMatch(/translation cache: off \(--no-jit\)/);
    expect(interpreter.stdout).toBe(jit.stdout);
    expect(interpreter.status).toBe(0);
    expect(jit.status).toBe(0);
  });

  describe('bad input gets a clear message and a non-zero status, no stack trace', () => {
    it('a missing file', () => {
      const r = minivisor('run', 'no-such-guest.img');
      expect(r.status).toBe(2);
      expect(r.stderr).toBe('minivisor: no-such-guest.img: no such file\n');
    });

    it('an assembly error names file:line:column', () => {
      const file = guestFile('mov ax, bx\nmvo ax, 1\n');
      const r = minivisor('run', file);
      expect(r.status).toBe(14); // not 1: that is the exit port's status for a write of 0
      expect(r.stderr).toContain(`${file}:2:1: error`);
    });

    it('an unknown option, a bad number, nothing to run', () => {
      expect(minivisor('run', HELLO, '--frobnicate').stderr).toMatch(/unknown option '--frobnicate'/);
      expect(minivisor('run', HELLO, '--exit-port', 'banana').stderr).toMatch(/--exit-port: 'banana' is not a number/);
      expect(minivisor('run').stderr).toMatch(/nothing to run/);
      expect(minivisor('run', HELLO, '--mem', '12').stderr).toMatch(/--mem: 12 is not usable/);
    });

    it('an image that does not fit in RAM', () => {
      const dir = mkdtempSync(join(tmpdir(), 'minivisor-run-'));
      const image = join(dir, 'big.bin');
      writeFileSync(image, new Uint8Array(2 << 20));
      const r = minivisor('run', '--load', `${image}@0x100000`, '--entry', '0:0', '--mem', '2M');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/do not fit in 2 MiB of RAM \(use --mem\)/);
    });
  });
});

describe('minivisor compare', () => {
  it('runs one guest under each mode and prints a row per mode, saying they all printed the same', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'compare', 'guests/hello/hello.asm', '--modes', 'bare,ept,shadow'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Hello, world!');
    const rows = r.stdout.split('\n').filter((l) => /^(bare|ept|shadow)\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['bare', 'ept', 'shadow']);
    expect(rows[1]).toMatch(/EPT violations/);
    expect(rows[2]).toMatch(/filled, \d+ injected, \d+ wp traps, cache \d+\/\d+ hits/);
    expect(r.stdout).toContain('every mode printed the same');
  });

  it('refuses an unknown mode and --mode, with a message and status 2', () => {
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'compare', 'guests/hello/hello.asm', '--modes', 'ept,fast'], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--modes: no mode 'fast'");
    const mode = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'compare', 'guests/hello/hello.asm', '--mode', 'ept'], { cwd: ROOT, encoding: 'utf8' });
    expect(mode.status).toBe(2);
    expect(mode.stderr).toContain('use --modes');
  });
});
