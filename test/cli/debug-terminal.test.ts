/**
 * `minivisor debug` in a real pseudo-terminal (util-linux's `script` makes one): Ctrl-C stops
 * the running guest back at the prompt (the process goes on), during `continue` and during a
 * long `next`; the up arrow brings back the last command; Tab completes a symbol; lines pasted
 * at once all run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * A boot sector that says it runs, then spins forever, interrupts off: a timer interrupt would
 * end the long "next" below in its handler, before the Ctrl-C it waits for.
 */
const SPIN = `org 0x7c00
  cli
  mov al, 'R'
  out 0xe9, al
spin_forever:
  inc eax
  jmp spin_forever
  times 510 - ($ - $$) db 0
  dw 0xaa55
`;

describe('minivisor debug in a terminal', () => {
  it('Ctrl-C stops the guest at the prompt, the up arrow repeats a command, Tab completes a symbol, a paste runs whole', async () => {
    // .ci/run installs it where it is missing (Debian's bsdutils).
    expect(spawnSync('script', ['--version']).status, "this test needs util-linux's script (apt-get install bsdutils)").toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'minivisor-pty-'));
    const guest = join(dir, 'spin.asm');
    writeFileSync(guest, SPIN);
    const command = `${process.execPath} ${join(ROOT, 'bin', 'minivisor.js')} debug ${guest} --debugcon 0xe9`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, TERM: 'xterm' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    /** Waits until the output holds `text` `count` times (or fails after 20 s). */
    const waitFor = async (text: string, count = 1) => {
      const deadline = Date.now() + 20_000;
      while (output.split(text).length - 1 < count) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} (x${count}); the terminal showed:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const type = (keys: string) => child.stdin.write(keys);
    try {
      await waitFor('(minivisor) ');
      type('continue\r');
      await waitFor('R');
      await new Promise((resolve) => setTimeout(resolve, 300));
      type('\x03');
      await waitFor('Stopped: Ctrl-C.');
      await waitFor('(minivisor) ', 2);
      // The up arrow brings `continue` back; Enter runs it again.
      type('\x1b[A\r');
      await new Promise((resolve) => setTimeout(resolve, 300));
      type('\x03');
      await waitFor('Stopped: Ctrl-C.', 2);
      await waitFor('(minivisor) ', 3);
      // Tab completes the label.
      type('tbreak spin_f\t\r');
      await waitFor('Temporary breakpoint 1 at 0x00007C05 <spin_forever>');
      type('continue\r');
      await waitFor('Temporary breakpoint 1, 0x00007C05 <spin_forever>');
      // A long next (one run of the guest per instruction) stops on Ctrl-C too.
      type('next 100000000\r');
      await new Promise((resolve) => setTimeout(resolve, 500));
      type('\x03');
      await waitFor('Stopped: Ctrl-C.', 3);
      // Lines pasted at once all run, in order.
      type('print 0x111\rprint 0x222\r');
      await waitFor('= 0x00000222 (546)');
      expect(output).toContain('= 0x00000111 (273)');
      type('quit\r');
      expect(await closed).toBe(0);
    } finally {
      child.kill();
    }
    expect(output).toContain('=> 0000:7C0');
  }, 60_000);
});
