/** The `asm` and `disasm` commands: files written, errors reported, exit status. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { asmCommand, defaultOutputName } from '../../src/cli/asm-command.ts';
import { disasmCommand } from '../../src/cli/disasm-command.ts';
import { UserError } from '../../src/cli/user-error.ts';
import { parseSymbolMap } from '../../src/asm/symbol-map.ts';

const root = join(import.meta.dirname, '../..');
const loop = join(root, 'guests/bench/loop.asm');
let dir: string;
let stderr: string;
let stdout: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minivisor-asm-'));
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('minivisor asm', () => {
  it('assembles loop.asm with -D into the named output, with a listing and a symbol map', async () => {
    const out = join(dir, 'loop.bin');
    const status = await asmCommand.run([loop, '-o', out, '-D', 'ITERS=1000', '--listing', join(dir, 'loop.lst'), '--symbols', join(dir, 'loop.sym')]);
    expect(status).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(join(root, 'test/fixtures/asm/bench/loop-iters1000.bin')));
    const listing = readFileSync(join(dir, 'loop.lst'), 'utf8');
    expect(listing).toMatch(/00007C00 FA\s+cli/);
    const map = parseSymbolMap(readFileSync(join(dir, 'loop.sym'), 'utf8'));
    expect(map.symbols.get('start')).toBe(0x7c00);
    expect(map.symbols.get('pm32.loop')).toBe(0x7c6b);
    // 0x7C00 maps to the first line that emits bytes: the CLI after the `start:` label.
    const lines = readFileSync(loop, 'utf8').split('\n');
    const firstInstruction = lines.findIndex((l, i) => i > lines.findIndex((x) => x.startsWith('start:')) && l.trim() === 'cli') + 1;
    expect(map.lineMap.get(0x7c00)).toMatchObject({ file: loop, line: firstInstruction });
    expect(stderr).toBe('');
  });

  it('accepts -DNAME=VALUE and -IDIR glued, and writes FILE.bin by default', async () => {
    const src = join(dir, 'prog.asm');
    writeFileSync(join(dir, 'defs.inc'), 'VALUE equ 0x42\n');
    writeFileSync(src, '%include "defs.inc"\ndb VALUE, EXTRA\n');
    expect(await asmCommand.run([src, '-DEXTRA=7', `-I${dir}`])).toBe(0);
    expect([...readFileSync(join(dir, 'prog.bin'))]).toEqual([0x42, 7]);
    expect(defaultOutputName('a/b.s')).toBe('a/b.bin');
    expect(defaultOutputName('noext')).toBe('noext.bin');
  });

  it('reports every error as file:line:column with a caret, fails, and writes nothing', async () => {
    const src = join(dir, 'bad.asm');
    const good = readFileSync(join(root, 'test/fixtures/asm/boot-sector.asm'), 'utf8').trimEnd().split('\n');
    writeFileSync(src, [...good, '        movv ax, 1', '        jmp nowhere', ''].join('\n'));
    const bad = good.length + 1;
    const run = asmCommand.run([src]);
    await expect(run).rejects.toThrow(UserError);
    await expect(run).rejects.toMatchObject({ exitCode: 1, message: `2 errors in ${src}; no output written` });
    expect(stderr).toContain(`${src}:${bad}:9: error: unknown instruction 'movv' (did you mean 'mov'?)\n        movv ax, 1\n        ^\n`);
    expect(stderr).toContain(`${src}:${bad + 1}:13: error: symbol 'nowhere' is not defined`);
    expect(existsSync(join(dir, 'bad.bin'))).toBe(false);
  });

  it('rejects bad usage with a UserError', async () => {
    await expect(asmCommand.run([])).rejects.toThrow(/no input file/);
    await expect(asmCommand.run([join(dir, 'missing.asm')])).rejects.toThrow(/no such file/);
    await expect(asmCommand.run([loop, '--frobnicate'])).rejects.toThrow(/unknown option/);
  });

  it('exits non-zero without a stack trace when run as a process', () => {
    const src = join(dir, 'bad.asm');
    writeFileSync(src, 'mov al, bx\n');
    const r = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'src/cli/main.ts'), 'asm', src], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${src}:1:5: error: invalid combination of operands for 'mov'`);
    expect(r.stderr).toContain('minivisor: 1 error in');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('minivisor disasm', () => {
  it('prints address, bytes and NASM-syntax instructions', async () => {
    const bin = join(root, 'test/fixtures/asm/bench/loop-iters1000.bin');
    expect(await disasmCommand.run([bin, '--org', '0x7c00'])).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^00007C00  FA\s+cli$/);
    expect(lines[1]).toMatch(/^00007C01  31C0\s+xor ax, ax$/);
    expect(stdout).toContain('jmp 0x8:0x7c24');
  });

  it('decodes 32-bit code with --bits 32', async () => {
    const bin = join(dir, 'code.bin');
    writeFileSync(bin, new Uint8Array([0x01, 0xd8, 0xc1, 0xc3, 0x03]));
    await disasmCommand.run([bin, '--bits', '32']);
    expect(stdout).toBe('00000000  01D8      add eax, ebx\n00000002  C1C303    rol ebx, 0x3\n');
  });

  it('rejects a bad --bits', async () => {
    await expect(disasmCommand.run(['x', '--bits', '64'])).rejects.toThrow(/--bits must be 16 or 32/);
  });
});
