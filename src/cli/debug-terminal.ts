/**
 * The terminal of `minivisor debug`. At the prompt, stdin is the debugger's command line: in a
 * terminal with line editing, history and tab completion (Node's readline); from a pipe or a
 * file, one command per line with no prompt. While the guest runs, a terminal's keys go to the
 * guest (its keyboard and COM1) and Ctrl-C stops it back at the prompt; from a pipe, SIGINT
 * does that. The guest's console output (COM1) goes to stdout, and what the debugger says
 * starts on a line of its own.
 */
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { DebugHost } from '../debugger/session.ts';
import type { Machine } from '../machine/machine.ts';

const CTRL_C = '\u0003';
const PROMPT = '(minivisor) ';

export class DebugTerminal implements DebugHost {
  private readonly tty = process.stdin.isTTY === true;
  private readonly pending: number[] = [];
  /** Whether stdout's last byte (guest or debugger) ended a line. */
  private atLineStart = true;
  private interrupted = false;
  private guestRunning = false;
  private machine: Machine | null = null;
  private history: string[] = [];
  /** Set when SIGINT or SIGTERM arrives at the prompt of a session not in a terminal: it ends. */
  private hangUp = false;
  private readonly onGuestKeys = (chunk: Buffer | string) => {
    const text = chunk.toString();
    if (text.includes(CTRL_C)) {
      this.interrupted = true;
      return;
    }
    this.machine?.typeText(text);
  };
  private readonly onSignal = () => {
    if (this.guestRunning) this.interrupted = true;
    else this.hangUp = true;
  };

  /** COM1's (and stdout debug consoles') bytes. */
  readonly guestOutput = (byte: number): void => {
    this.pending.push(byte);
    if (this.pending.length >= 4096) this.flushGuestOutput();
  };

  attach(machine: Machine): void {
    this.machine = machine;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  detach(): void {
    this.flushGuestOutput();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  get interactive(): boolean {
    return this.tty;
  }

  // ---------------------------------------------------------------- DebugHost

  print(text: string): void {
    this.flushGuestOutput();
    process.stdout.write(`${this.atLineStart ? '' : '\n'}${text}\n`);
    this.atLineStart = true;
  }

  flushGuestOutput(): void {
    if (this.pending.length === 0) return;
    const bytes = Uint8Array.from(this.pending);
    this.pending.length = 0;
    process.stdout.write(bytes);
    this.atLineStart = bytes[bytes.length - 1] === 0x0a;
  }

  /** A terminal's user can type for the guest while it runs; a pipe carries commands, not keys. */
  get mayReceiveInput(): boolean {
    return this.tty && this.guestRunning;
  }

  takeInterrupt(): boolean {
    const was = this.interrupted;
    this.interrupted = false;
    return was;
  }

  running(on: boolean): void {
    this.guestRunning = on;
    if (!this.tty) return;
    const stdin = process.stdin;
    if (on) {
      stdin.setRawMode(true);
      stdin.on('data', this.onGuestKeys);
      stdin.resume();
    } else {
      stdin.off('data', this.onGuestKeys);
      stdin.setRawMode(false);
      stdin.pause();
    }
  }

  readFile(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- the command line

  /**
   * The user's command lines, until Ctrl-D or the end of the input. `complete` gives the
   * completions of the word at the end of a line (Tab).
   */
  async *lines(complete: (line: string) => { word: string; matches: string[] }): AsyncGenerator<string> {
    if (!this.tty) {
      const rl = createInterface({ input: process.stdin, terminal: false });
      try {
        for await (const line of rl) {
          if (this.hangUp) return;
          yield line;
          if (this.hangUp) return;
        }
      } finally {
        rl.close();
      }
      return;
    }
    // In a terminal: one readline per prompt, so that the keys go to the guest while it runs.
    for (;;) {
      const line = this.typedAhead.shift() ?? (await this.prompt(complete));
      if (line === null) return;
      yield line;
    }
  }

  /** Lines that came in with the one a prompt read (pasted, or typed ahead): the next commands. */
  private readonly typedAhead: string[] = [];

  private prompt(complete: (line: string) => { word: string; matches: string[] }): Promise<string | null> {
    return new Promise((resolve) => {
      const rl: Interface = createInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: true,
        history: this.history,
        historySize: 1000,
        removeHistoryDuplicates: true,
        completer: (line: string) => {
          const { word, matches } = complete(line);
          return [matches, word];
        },
      });
      let answered = false;
      rl.on('history', (history: string[]) => {
        this.history = history;
      });
      rl.on('SIGINT', () => {
        // As gdb: Ctrl-C at the prompt drops the line typed so far.
        rl.write('', { ctrl: true, name: 'u' });
        process.stdout.write('^C\n');
        rl.prompt();
      });
      rl.on('line', (line) => {
        // Every line of this chunk of input (a paste, keys typed ahead) is kept; the first is
        // answered once readline has handed them all over and let go of the terminal.
        this.typedAhead.push(line);
        if (answered) return;
        answered = true;
        setImmediate(() => {
          rl.close();
          resolve(this.typedAhead.shift()!);
        });
      });
      rl.on('close', () => {
        if (!answered) {
          process.stdout.write('\n');
          resolve(null);
        }
      });
      this.flushGuestOutput();
      if (!this.atLineStart) process.stdout.write('\n');
      this.atLineStart = true;
      rl.setPrompt(PROMPT);
      rl.prompt();
    });
  }
}
