/**
 * The user's terminal as the guest's console: COM1's output to stdout (buffered, flushed after
 * each slice of the run), stdin to the guest's keyboard and COM1 (raw keys from a TTY, where
 * Ctrl-C stops minivisor; SIGINT and SIGTERM do the same wherever stdin comes from), and the VGA
 * text screen printed at the end of the run when it holds text that never reached COM1 (a guest
 * writing to 0xB8000 directly).
 */
import { fstatSync, readFileSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Machine } from '../machine/machine.ts';

const CTRL_C = '\u0003';

export class TerminalConsole {
  private readonly pending: number[] = [];
  /** Everything COM1 printed, to tell which screen lines were already seen. */
  private printed = '';
  private inputOpen = false;
  /** The pending start of listening to stdin (see attach), or null. */
  private listenSoon: NodeJS.Immediate | null = null;
  private listening = false;
  /** Set when the user pressed Ctrl-C, or a SIGINT or SIGTERM came: what it was. */
  interruptedBy: 'Ctrl-C' | 'SIGINT' | 'SIGTERM' | null = null;

  get interrupted(): boolean {
    return this.interruptedBy !== null;
  }
  private machine: Machine | null = null;
  private readonly onData = (chunk: Buffer | string) => this.input(chunk.toString());
  private readonly onEnd = () => {
    this.inputOpen = false;
  };
  /** SIGINT or SIGTERM (a script, an IDE, `timeout -s INT`): the run ends as Ctrl-C ends it, reports and all. */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.interruptedBy = signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  };

  /** The byte sink for COM1 and debug consoles on stdout. */
  readonly output = (byte: number): void => {
    this.pending.push(byte);
    if (this.pending.length >= 4096) this.flush();
  };

  /**
   * Starts passing stdin to `machine` (unless `takeInput` is false). Signals count at once; stdin is opened only once the run
   * first yields to the event loop (after its first slice, or as soon as the guest waits for
   * input): opening it cost every start 2-5 ms, and what the user types meanwhile waits in the
   * terminal or pipe.
   */
  attach(machine: Machine, takeInput = true): void {
    this.machine = machine;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    if (!takeInput) {
      // (A replay: the machine's input comes from the log; Ctrl-C still ends the run, as SIGINT.)
      this.inputOpen = false;
      return;
    }
    if (stdinIsFile()) {
      // Input from a file (or /dev/null) is all there now: typed at once, and then no more comes,
      // so a guest that halts skips to its next event, as with no input at all: such a run
      // repeats exactly. A terminal or a pipe may still bring keys: the guest waits for them.
      const text = readFileSync(0, 'latin1');
      if (text !== '') machine.typeText(text.replace(/\r?\n/g, '\r')); // (as from a pipe: Enter for each line end)
      this.inputOpen = false;
      return;
    }
    this.inputOpen = true;
    this.listenSoon = setImmediate(() => this.listen());
  }

  private listen(): void {
    this.listenSoon = null;
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
    } else if (stdin.readableEnded || stdin.destroyed) {
      this.inputOpen = false;
      return;
    }
    this.listening = true;
    stdin.on('data', this.onData);
    stdin.on('end', this.onEnd);
    stdin.resume();
  }

  /** True while the user may still type: an idle guest should wait for input rather than skip time. */
  get mayReceiveInput(): boolean {
    return this.inputOpen && !this.interrupted;
  }

  private input(text: string): void {
    if (process.stdin.isTTY && text.includes(CTRL_C)) {
      this.interruptedBy = 'Ctrl-C';
      return;
    }
    // A terminal sends Enter as CR; a pipe as LF: the guest's keyboard gets Enter either way.
    this.machine?.typeText(process.stdin.isTTY ? text : text.replace(/\r?\n/g, '\r'));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const bytes = Uint8Array.from(this.pending);
    this.pending.length = 0;
    this.printed += Buffer.from(bytes).toString('latin1');
    if (this.printed.length > 1 << 20) this.printed = this.printed.slice(-(1 << 19));
    writeToStdout(bytes);
  }

  /** Stops reading stdin and gives the terminal back as it was. */
  detach(): void {
    this.flush();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.inputOpen = false;
    if (this.listenSoon !== null) clearImmediate(this.listenSoon);
    this.listenSoon = null;
    if (!this.listening) return;
    this.listening = false;
    const stdin = process.stdin;
    stdin.off('data', this.onData);
    stdin.off('end', this.onEnd);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }

  /** The VGA screen's lines that hold text COM1 never printed (empty when there are none). */
  unseenScreen(machine: Machine): string[] {
    const lines = machine.vga.lines().map((l) => l.trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const seen = this.printed.replace(/\r/g, '');
    const news = lines.filter((l) => l.trim() !== '' && !seen.includes(l.trim()));
    return news.length === 0 ? [] : lines;
  }
}

/**
 * Writes the guest's output to stdout straight through the file descriptor: process.stdout, a
 * stream made on first use, cost each start about 4 ms before the first byte came out. Writes
 * to a terminal, file or pipe are synchronous either way; a pipe set non-blocking by someone
 * else that is full (EAGAIN) gets the rest through process.stdout, which waits; a reader that
 * went away (EPIPE: `| head`) gets nothing more.
 */
function writeToStdout(bytes: Uint8Array): void {
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') process.stdout.write(bytes.subarray(done));
    else if (code !== 'EPIPE') throw e;
  }
}

/** Whether stdin is a regular file or a device that is not a terminal (/dev/null): what it holds can be read now. */
function stdinIsFile(): boolean {
  if (isatty(0)) return false; // (not process.stdin: making that stream costs each start milliseconds)
  try {
    const stat = fstatSync(0);
    return stat.isFile() || stat.isCharacterDevice();
  } catch {
    return false;
  }
}
