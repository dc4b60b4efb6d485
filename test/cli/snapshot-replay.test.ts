/**
 * `minivisor run --save-on-exit`, `--load-snapshot`, `--record` and `--replay`, as a user runs
 * them: a run cut at N and resumed from its snapshot prints what the whole run prints and ends
 * the same way; a run with keys typed on a pipe, replayed with nothing typed, prints the same and
 * says it was the same run; a replay of a log that was changed says where it differs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'minivisor.js');
const KERNEL = join(ROOT, 'guests', 'kernel', 'kernel.asm');
const KEYBOARD = join(ROOT, 'guests', 'keyboard', 'keyboard.asm');

function minivisor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, input: '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs with `chunks` written to stdin (a pipe), each after `delay` ms; resolves when the run ends. */
function minivisorTyping(chunks: string[], delay: number, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let i = 0;
    const next = () => {
      if (i < chunks.length) {
        child.stdin.write(chunks[i++]);
        setTimeout(next, delay);
      } else child.stdin.end();
    };
    setTimeout(next, delay);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'minivisor-snap-'));

describe('--save-on-exit and --load-snapshot', () => {
  const whole = minivisor('run', KERNEL, '--exit-port', '0xf4');

  for (const mode of ['ept', 'shadow']) {
    it(`a run cut at 5,000,000 instructions and resumed from its snapshot is the whole run (${mode})`, () => {
      const file = join(dir, `kernel-${mode}.snap`);
      const first = minivisor('run', KERNEL, '--exit-port', '0xf4', '--mode', mode, '--max-instructions', '5000000', '--save-on-exit', file);
      expect(first.status).toBe(12);
      expect(first.stderr).toContain(`minivisor: the machine at instruction 5000000 saved to ${file}`);
      const second = minivisor('run', '--load-snapshot', file, '--stats');
      expect(second.status).toBe(whole.status);
      expect(whole.status).toBe(1);
      expect(first.stdout + second.stdout).toBe(whole.stdout);
      expect(second.stderr).toContain("minivisor: 15161458 instructions in");
    });
  }

  it('carries the run\'s labels and source lines: the debugger loaded from it knows them', () => {
    const file = join(dir, 'kernel-ept.snap');
    const r = spawnSync(process.execPath, [CLI, 'debug', '--load-snapshot', file], { encoding: 'utf8', cwd: ROOT, input: 'break heap.fill\n' });
    expect(r.stdout + r.stderr).toContain('Stopped at instruction 5000000, where the snapshot was taken');
    expect(r.stdout + r.stderr).toMatch(/Breakpoint 1 at 0x40000160 <heap\.fill> \(guests\/kernel\/user\.asm:124\)/);
  });

  it('refuses a guest file or machine options with a snapshot, and a file that is not one', () => {
    const file = join(dir, 'kernel-ept.snap');
    const both = minivisor('run', KERNEL, '--load-snapshot', file, '--mem', '64M');
    expect(both.status).toBe(2);
    expect(both.stderr).toContain(`--load-snapshot ${file} carries the whole machine (memory, mode, disks, firmware): drop ${KERNEL}, --mem`);
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'hello');
    const bad = minivisor('run', '--load-snapshot', notes);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`--load-snapshot: ${notes} is not a minivisor snapshot`);
    expect(bad.stderr).not.toContain('    at ');
  });
});

describe('--record and --replay', () => {
  it('replays a run with keys typed on a pipe, with nothing typed, to the same output and end', async () => {
    const log = join(dir, 'keys.rec');
    const recorded = await minivisorTyping(['hel', 'lo\n'], 300, 'run', KEYBOARD, '--mode', 'bare', '--record', log);
    expect(recorded.stdout).toContain('you typed "hello"');
    const inputs = JSON.parse(readFileSync(log, 'utf8')).entries as { kind: string; text?: string }[];
    expect(inputs.filter((i) => i.kind === 'type').map((i) => i.text).join('')).toBe('hello\r');
    const replayed = minivisor('run', KEYBOARD, '--mode', 'bare', '--replay', log);
    expect(replayed.stdout).toBe(recorded.stdout);
    expect(replayed.status).toBe(recorded.status);
    expect(replayed.stderr).toMatch(/replay of .*keys\.rec: the same run: \d+ instructions, \d+ inputs given back, \d+ state checks? matched, ended as recorded \(halted/);
    // Without the translation cache: the same run, instruction for instruction.
    expect(minivisor('run', KEYBOARD, '--mode', 'bare', '--no-jit', '--replay', log).stderr).toContain('the same run');

    const changed = join(dir, 'changed.rec');
    writeFileSync(changed, readFileSync(log, 'utf8').replace('"text":"hel"', '"text":"HEL"'));
    const differs = minivisor('run', KEYBOARD, '--mode', 'bare', '--replay', changed);
    expect(differs.status).toBe(18);
    expect(differs.stdout).toContain('HEL');
    expect(differs.stderr).toMatch(/replay of .*changed\.rec DIFFERS from the recording: .*instruction \d+/);

    // Enter taken out of the log: the guest waits for it past the recording's end; the replay stops there and says so.
    const noEnter = join(dir, 'no-enter.rec');
    writeFileSync(noEnter, readFileSync(log, 'utf8').replace('lo\\r', 'lo'));
    const waits = minivisor('run', KEYBOARD, '--mode', 'bare', '--replay', noEnter);
    expect(waits.status).toBe(18);
    expect(waits.stderr).toMatch(/DIFFERS from the recording: /);
    // A damaged log is refused before the guest starts.
    const damaged = join(dir, 'damaged.rec');
    writeFileSync(damaged, readFileSync(log, 'utf8').replace(/"ns":\d+/, '"ns":"soon"'));
    const refused = minivisor('run', KEYBOARD, '--mode', 'bare', '--replay', damaged);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`${damaged} is damaged: its list of entries is missing or holds something else`);

    const other = minivisor('run', KEYBOARD, '--mode', 'shadow', '--replay', log);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain(`--replay: ${log} was recorded on another kind of machine: give the options the recording was made with\n  mode (--mode): the recording's is "bare", this machine's "shadow"`);
  }, 60_000);
});
