/**
 * When a guest triple-faults, `minivisor run` says why: the chain of exceptions, each decoded,
 * with what the guest's tables say about the first. Three classic mistakes of a first ring-3
 * guest (test/fixtures/guests/ring3-syscall.asm) all end in "triple fault", and each report
 * names its own cause.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const GUEST = join(ROOT, 'test', 'fixtures', 'guests', 'ring3-syscall.asm');

function run(...defines: string[]) {
  const args = [join(ROOT, 'bin', 'minivisor.js'), 'run', GUEST, '--debugcon', '0xe9', '--exit-port', '0xf4', ...defines.flatMap((d) => ['-D', d])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the report of a triple fault', () => {
  it('the guest done right makes its system call from ring 3 (the fixture works)', () => {
    const r = run();
    expect(r.stdout).toContain('S');
    expect(r.status).toBe(1);
  });

  it('a system-call gate with DPL 0: #GP on the IDT entry, and the DPL the INT needed', () => {
    const r = run('GATE_DPL0');
    expect(r.status).toBe(8);
    expect(r.stderr).toContain('1. #GP(0x0402: IDT vector 0x80) general protection at 001B:');
    expect(r.stderr).toContain('<user+0x5>, CPL 3');
    expect(r.stderr).toContain('INT 0x80 from CPL 3 needs a gate with DPL 3 or more; this gate has DPL 0');
    expect(r.stderr).toContain('the IDT has no gate for vector 0xd (#GP)');
    expect(r.stderr).toContain('the two make a double fault: #DF');
  });

  it('page-table entries without U/S: #PF from ring 3, with the entries that refused it', () => {
    const r = run('NO_USER_PAGE');
    expect(r.status).toBe(8);
    expect(r.stderr).toContain('1. #PF(0x0005: protection violation, read, user mode) page fault at 001B:');
    expect(r.stderr).toMatch(/PTE at 0x0001301C = 0x0000706[13] \(present, writable, supervisor only\): a user-mode access to a supervisor page/);
  });

  it('no TSS loaded: #TS on the ring-0 stack, and a word about ltr', () => {
    const r = run('NO_LTR');
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/1\. #TS\(0x[0-9a-f]{4}: [^)]*\) invalid TSS at 001B:/);
    expect(r.stderr).toContain('no TSS was loaded (TR is 0: ltr never ran)');
    // The three reports differ in what they blame.
    expect(r.stderr).not.toContain('needs a gate with DPL');
  });
});
