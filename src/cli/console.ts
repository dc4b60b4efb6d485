/**
 * The user's terminal as the guest's console: COM1's output to stdout (buffered, flushed after
 * each slice of the run), stdin to the guest's keyboard and COM1 (raw keys from a TTY, where
 * Ctrl-C stops minivisor; SIGINT and SIGTERM do the same wherever stdin comes from), and the VGA
 * text screen printed at the end of the run when it holds text that never reached COM1 (a guest
 * writing to 0xB8000 directly).
 */
import type { Machine } from '../machine/machine.ts';

const CTRL_C = '\u0003';

export class TerminalConsole {
  private readonly pending: number[] = [];
  /** Everything COM1 printed, to tell which screen lines were already seen. */
  private printed = '';
  private inputOpen = false;
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

  /** Starts passing stdin to `machine` (when stdin is a TTY or a pipe with data to come). */
  attach(machine: Machine): void {
    this.machine = machine;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
    } else if (stdin.readableEnded || stdin.destroyed) {
      return;
    }
    this.inputOpen = true;
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
    process.stdout.write(bytes);
  }

  /** Stops reading stdin and gives the terminal back as it was. */
  detach(): void {
    this.flush();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    const stdin = process.stdin;
    stdin.off('data', this.onData);
    stdin.off('end', this.onEnd);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    this.inputOpen = false;
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
