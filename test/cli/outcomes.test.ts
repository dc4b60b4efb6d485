/**
 * How a run ends, as a script sees it: each outcome its own exit status (the exit port's are
 * odd, all others even), the same table in `help run` and the README; signals ending a run as
 * Ctrl-C does; and the rough edges a new user found (--mem's limit, disasm of a large image,
 * --trace-exits filtered, --mode pv on a guest not written for it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_STATUS_TABLE } from '../../src/cli/exit-status.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'minivisor.js');

function minivisor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, input: '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function bootSector(source: string, signature = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-outcome-'));
  const file = join(dir, 'guest.asm');
  writeFileSync(file, `org 0x7c00\n${source}\n${signature ? 'times 510 - ($ - $$) db 0\ndw 0xaa55' : 'times 512 - ($ - $$) db 0'}\n`);
  return file;
}

describe('exit statuses', () => {
  it('every outcome has its own status, and all but the exit port\'s are even', () => {
    const statuses = EXIT_STATUS_TABLE.map(([s]) => s).filter((s) => /^\d+$/.test(s)).map(Number);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(statuses.every((s) => s % 2 === 0)).toBe(true);
  });

  it('no bootable disk is 6, not the 0 of a clean halt', () => {
    const r = minivisor('run', bootSector('cli\nhlt', false));
    expect(r.status).toBe(6);
    expect(r.stderr).toContain('minivisor: nothing to boot: no 55AA signature in the boot sector');
  });

  it('a guest that resets the machine (port 0x92, the keyboard controller) ends with 10', () => {
    for (const reset of ['mov al, 1\nout 0x92, al', 'mov al, 0xfe\nout 0x64, al']) {
      const r = minivisor('run', bootSector(`${reset}\njmp $`));
      expect(r.status).toBe(10);
      expect(r.stderr).toMatch(/the guest reset the machine through (port 0x92|the keyboard controller)/);
    }
  });

  it('every command takes --help as `help COMMAND` does', () => {
    for (const name of ['run', 'asm', 'disasm', 'compare', 'debug', 'exercise']) {
      const asked = minivisor(name, '--help');
      expect(asked.status).toBe(0);
      expect(asked.stdout).toBe(minivisor('help', name).stdout);
      expect(asked.stdout).toContain(`usage: minivisor ${name}`);
    }
  });

  it('help run and the README list the same statuses', () => {
    const help = minivisor('help', 'run').stdout;
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const [status, meaning] of EXIT_STATUS_TABLE) {
      expect(help).toContain(`${status}`);
      expect(help).toContain(meaning);
      expect(readme).toContain(`| ${status.replace('|', '\\|')} | ${meaning} |`);
    }
  });
});

describe('signals', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s with stdin not a terminal ends the run as Ctrl-C does: --stats printed, status 130', async (signal) => {
    const guest = bootSector("mov al, 'R'\nout 0xe9, al\nspin: jmp spin");
    const child = spawn(process.execPath, [CLI, 'run', guest, '--debugcon', '0xe9', '--stats'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('R') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill(signal);
    expect(await closed).toBe(130);
    expect(stderr).toContain(`minivisor: guest stopped: ${signal} at`);
    expect(stderr).toMatch(/minivisor: \d+ instructions in [\d.]+ s/);
  });
});

describe('rough edges', () => {
  it('--mem takes what the host can hold, and says the real limit', () => {
    const max = minivisor('run', bootSector('cli\nhlt'), '--mem', '2043M', '--mode', 'bare');
    expect(max.status).toBe(0);
    const over = minivisor('run', bootSector('cli\nhlt'), '--mem', '2046M');
    expect(over.status).toBe(2);
    expect(over.stderr).toContain('give a multiple of 4K between 1M and 2043M');
  });

  it('disasm takes an image of 256 KiB and more (it overflowed the stack there)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-disasm-'));
    const image = join(dir, 'big.img');
    writeFileSync(image, new Uint8Array(320 * 1024).fill(0x90));
    const r = spawnSync(process.execPath, [CLI, 'disasm', image], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(320 * 1024 + 1);
  });

  it('--trace-exits takes reasons to show; under --mode bare it says nothing exits', () => {
    const kernel = join(ROOT, 'guests', 'kernel', 'kernel.asm');
    const r = minivisor('run', kernel, '--exit-port', '0xf4', '--trace-exits', 'cr,hlt');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('exit '));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => /^exit (28 control-register access|12 HLT)/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('exit 28 control-register access: MOV to CR3 from'))).toBe(false); // EPT: CR3 loads do not exit
    const bare = minivisor('run', bootSector('cli\nhlt'), '--mode', 'bare', '--trace-exits');
    expect(bare.stderr).toContain('--trace-exits: there is no VMM in --mode bare');
    expect(minivisor('run', bootSector('cli\nhlt'), '--trace-exits=bogus').status).toBe(2);
  });

  it('--mode pv on a guest not written for it says what the VMM refused', () => {
    const kernel = join(ROOT, 'guests', 'kernel', 'kernel.asm');
    const r = minivisor('run', kernel, '--exit-port', '0xf4', '--mode', 'pv');
    expect(r.stderr).toContain('under --mode pv the VMM refused 1 thing the guest did (the last: a MOV to CR3');
    expect(r.stderr).toContain('try --mode ept');
  });
});
