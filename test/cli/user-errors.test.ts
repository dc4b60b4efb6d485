/**
 * Mistakes in what the user asked for (a port a device already has, a path that cannot be
 * written, a directory given as a file, a memory range past the end of RAM) end the command
 * with a message that says what is wrong, exit status 2, and no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileUserError, uncaughtFileError } from '../../src/cli/files.ts';
import { UserError } from '../../src/cli/user-error.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'test', 'fixtures', 'guests', 'debugcon-hello.asm');

function minivisor(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'minivisor-errors-'));
}

/** A raw image that writes 'A' to port 0xE9 and 2 to port 0xF4. */
function rawImage(): string {
  const image = join(tempDir(), 'prog.bin');
  writeFileSync(image, Uint8Array.of(0xb0, 0x41, 0xe6, 0xe9, 0xb0, 0x02, 0xe6, 0xf4));
  return image;
}

/** The run ended as a user error: status 2, `message` on stderr, no stack trace, no "internal error". */
function expectUserError(r: ReturnType<typeof minivisor>, message: RegExp | string): void {
  expect(r.stderr).toMatch(/^minivisor: /);
  if (typeof message === 'string') expect(r.stderr).toContain(message);
  else expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^ {4}at /m);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.status).toBe(2);
}

describe('ports given to --debugcon and --exit-port', () => {
  it('--exit-port on COM1 names the device that has the port', () => {
    const r = minivisor('run', HELLO, '--exit-port', '0x3f8');
    expectUserError(r, /--exit-port 0x3f8: port 0x03F8 is taken by COM1.*16550 UART.*ports 0x03F8-0x03FF.*choose a free port/);
  });

  it('--debugcon on the PIC names the device that has the port', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0x20');
    expectUserError(r, /--debugcon 0x20: port 0x0020 is taken by the interrupt controllers \(8259 PIC pair\).*choose a free port/);
  });

  it('--debugcon and --exit-port on the same port', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--exit-port', '0xe9');
    expectUserError(r, /--exit-port 0xe9: port 0x00E9 is already given to --debugcon 0xe9: give each .* a port of its own/);
  });

  it('--debugcon on the IDE channel names it', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0x1f0');
    expectUserError(r, /--debugcon 0x1f0: port 0x01F0 is taken by the primary IDE channel/);
  });

  it('--smp out of range, or with a mode that runs one processor', () => {
    expectUserError(minivisor('run', HELLO, '--smp', '9'), '--smp 9: give how many processors, 1 to 8');
    expectUserError(minivisor('run', HELLO, '--smp', '2', '--mode', 'pv'), /--smp 2 with --mode pv: .*--mode ept, shadow or bare/);
  });

  it('two debug consoles on one port', () => {
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--debugcon', '0xe9=' + join(tempDir(), 'out.txt'));
    expectUserError(r, /port 0x00E9 is already given to --debugcon 0xe9/);
  });

  it('a port past 0xFFFF is refused, not silently accepted', () => {
    expectUserError(minivisor('run', HELLO, '--exit-port', '0x12345'), /--exit-port: port 0x12345 is past 0xFFFF/);
    expectUserError(minivisor('run', HELLO, '--debugcon', '0x10000'), /--debugcon 0x10000: port 0x10000 is past 0xFFFF/);
  });
});

describe('output files are checked before the guest runs', () => {
  it('--debugcon PORT=FILE in a directory that does not exist', () => {
    const file = join(tempDir(), 'missing', 'console.txt');
    const r = minivisor('run', HELLO, '--debugcon', `0xe9=${file}`, '--exit-port', '0xf4');
    expectUserError(r, `--debugcon 0xe9=${file}: cannot create ${file}: there is no directory`);
    expect(r.stdout).toBe(''); // the guest never started
  });

  it('--dump-mem into a directory that does not exist is refused before the run, not after it', () => {
    const file = join(tempDir(), 'missing', 'dump.bin');
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--exit-port', '0xf4', '--dump-mem', `0:16=${file}`);
    expectUserError(r, `--dump-mem 0:16=${file}: cannot create ${file}: there is no directory`);
    expect(r.stdout).toBe('');
  });

  it('--dump-mem into a directory', () => {
    const dir = tempDir();
    const r = minivisor('run', HELLO, '--exit-port', '0xf4', '--dump-mem', `0:16=${dir}`);
    expectUserError(r, `${dir} is a directory`);
  });

  it('asm -o in a directory that does not exist writes nothing', () => {
    const dir = tempDir();
    const listing = join(dir, 'hello.lst');
    const output = join(dir, 'missing', 'x.bin');
    const r = minivisor('asm', HELLO, '-o', output, '--listing', listing);
    expectUserError(r, `-o: cannot create ${output}: there is no directory ${join(dir, 'missing')}`);
    expect(existsSync(listing)).toBe(false);
  });

  it('asm --listing naming a directory', () => {
    const dir = tempDir();
    const r = minivisor('asm', HELLO, '-o', join(dir, 'x.bin'), '--listing', dir);
    expectUserError(r, `--listing: ${dir} is a directory`);
    expect(existsSync(join(dir, 'x.bin'))).toBe(false);
  });
});

describe('input files', () => {
  it('a directory as the guest FILE of run', () => {
    const dir = tempDir();
    expectUserError(minivisor('run', dir), `${dir} is a directory, not a file`);
  });

  it('a directory given to --load', () => {
    const dir = tempDir();
    const r = minivisor('run', '--load', `${dir}@0x20000`, '--entry', '2000:0000');
    expectUserError(r, `--load ${dir}@0x20000: ${dir} is a directory, not a file`);
  });

  it('a directory given to asm and to disasm', () => {
    const dir = tempDir();
    expectUserError(minivisor('asm', dir), `${dir} is a directory`);
    expectUserError(minivisor('disasm', dir), `${dir} is a directory`);
  });

  it('a path that goes through a file (ENOTDIR) names the file in the way', () => {
    const image = rawImage();
    const r = minivisor('run', '--load', `${join(image, 'inner.bin')}@0x20000`, '--entry', '2000:0000');
    expectUserError(r, `${image} is a file, not a directory`);
  });

  it('a file without read permission (EACCES) is named, with what went wrong', () => {
    // Made up rather than chmod-ed: tests may run as root, whom permissions do not stop.
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const error = fileUserError(denied, '/data/prog.bin', 'read');
    expect(error).toBeInstanceOf(UserError);
    expect(error!.message).toBe('cannot read /data/prog.bin: permission denied (check the permissions of the file and its directory)');
  });
});

describe('--dump-mem ranges', () => {
  it('a range past the end of memory is refused at once, naming the range and the memory size', () => {
    const r = minivisor('run', HELLO, '--exit-port', '0xf4', '--dump-mem', `0:4G=${join(tempDir(), 'all.bin')}`);
    expectUserError(r, /--dump-mem 0:4G=.*: 0x00000000-0xFFFFFFFF \(4 GiB\) goes past the end of the guest's memory, 32 MiB .*--mem/);
  });

  it('a range that starts inside memory and ends past it', () => {
    const r = minivisor('run', HELLO, '--mem', '2M', '--dump-mem', `0x1ff000:8K=${join(tempDir(), 'end.bin')}`);
    expectUserError(r, /0x001FF000-0x00200FFF \(8 KiB\) goes past the end of the guest's memory, 2 MiB/);
  });

  it('the whole of memory is dumped, RAM, the VGA text buffer and the BIOS alike', () => {
    const dump = join(tempDir(), 'all.bin');
    const r = minivisor('run', HELLO, '--debugcon', '0xe9', '--exit-port', '0xf4', '--dump-mem', `0:32M=${dump}`);
    expect(r.status).toBe(33);
    const bytes = readFileSync(dump);
    expect(bytes.length).toBe(32 << 20);
    expect(bytes[0x7c00]).toBe(0xfc); // the guest's first byte: CLD
    expect(bytes.subarray(0xffff0, 0xffff1)[0]).toBe(0xea); // the BIOS's reset vector: JMP FAR
  });
});

describe('debug console files', () => {
  it('a file given where a directory is wanted, in a debug console path', () => {
    const image = rawImage();
    const file = join(image, 'console.txt');
    const r = minivisor('run', '--load', `${image}@0x20000`, '--entry', '2000:0000', '--debugcon', `0xe9=${file}`, '--exit-port', '0xf4');
    expectUserError(r, `${image} is a file, not a directory`);
  });

  it('an output directory that exists is fine', () => {
    const dir = join(tempDir(), 'out');
    mkdirSync(dir);
    const r = minivisor('run', '--load', `${rawImage()}@0x20000`, '--entry', '2000:0000', '--debugcon', `0xe9=${join(dir, 'console.txt')}`, '--exit-port', '0xf4');
    expect(r.status).toBe(5);
    expect(readFileSync(join(dir, 'console.txt'), 'utf8')).toBe('A');
  });
});

describe('the CLI boundary', () => {
  it('turns a file-system error that escaped into a user error naming the path', () => {
    const dir = tempDir();
    const caught = (action: () => unknown): unknown => {
      try {
        action();
      } catch (e) {
        return e;
      }
      throw new Error('expected a throw');
    };
    const missing = uncaughtFileError(caught(() => readFileSync(join(dir, 'nope.bin'))));
    expect(missing).toBeInstanceOf(UserError);
    expect(missing?.message).toBe(`${join(dir, 'nope.bin')}: no such file`);
    expect(missing?.exitCode).toBe(2);
    expect(uncaughtFileError(caught(() => writeFileSync(dir, 'x')))?.message).toContain(`${dir} is a directory`);
    expect(uncaughtFileError(new Error('not a file-system error'))).toBeUndefined();
    expect(uncaughtFileError(new TypeError('x'))).toBeUndefined();
  });
});

describe('--reserve ranges', () => {
  it('two ranges that overlap are refused, naming both', () => {
    const r = minivisor('run', HELLO, '--reserve', '0x900000:1M', '--reserve', '0x800000:2M');
    expectUserError(r, /--reserve 0x800000:2M \(0x00800000-0x009FFFFF\) and --reserve 0x900000:1M \(0x00900000-0x009FFFFF\) overlap/);
  });

  it('a range beyond RAM, or running past its end, is refused', () => {
    expectUserError(minivisor('run', HELLO, '--mem', '16M', '--reserve', '0x1000000:1M'), /--reserve 0x1000000:1M \(0x01000000-0x010FFFFF\) is not inside RAM, which ends at 0x01000000 \(16 MiB\)/);
    expectUserError(minivisor('run', HELLO, '--mem', '16M', '--reserve', '0xF00000:2M'), /--reserve 0xF00000:2M \(0x00F00000-0x010FFFFF\) is not inside RAM/);
    expectUserError(minivisor('run', HELLO, '--reserve', '0xFFFFF000:8K'), /--reserve 0xFFFFF000:8K .* is not inside RAM/);
  });

  it('a range below 1 MiB, or not page-aligned, is refused', () => {
    expectUserError(minivisor('run', HELLO, '--reserve', '0x9000:4K'), /--reserve 0x9000:4K \(0x00009000-0x00009FFF\) starts below 1 MiB/);
    expectUserError(minivisor('run', HELLO, '--reserve', '0x800800:4K'), /--reserve 0x800800:4K .*page-aligned/);
    expectUserError(minivisor('run', HELLO, '--reserve', '0x800000:0'), /--reserve 0x800000:0 is empty/);
  });

  it('ranges that touch are fine: the guest sees a sorted map without overlaps', () => {
    const r = minivisor('run', join(ROOT, 'guests', 'e820', 'e820.asm'), '--mem', '16M', '--reserve', '0x900000:1M', '--reserve', '0x800000:1M');
    expect(r.status).toBe(0);
    expect(r.stdout.replace(/\r\n/g, '\n')).toContain(
      [
        '0000000000100000 0000000000700000 1',
        '0000000000800000 0000000000100000 2',
        '0000000000900000 0000000000100000 2',
        '0000000000A00000 0000000000600000 1',
      ].join('\n'),
    );
  });
});
