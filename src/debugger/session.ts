/**
 * A debugging session: the machine, its symbols, the Debugger, and the command line that
 * drives them. `execute` runs one line (gdb-style commands, see commands/); running the guest
 * happens in slices so that the terminal stays live (the guest's console, Ctrl-C). The
 * terminal itself is the host's (src/cli/debug-command.ts): this layer touches no process or
 * stdio, so the browser playground can drive the same commands.
 */
import { disassemble, type DisassembledInstruction } from '../asm/disassembler.ts';
import { hex } from '../cpu/physical-memory.ts';
import { decodeDescriptor } from '../cpu/segments.ts';
import {
  ATTR_DB, ATTR_S, CR0_PE, CS, DS, ES, FS, GS, IF, LDTR, S_CR0, S_EFLAGS, S_EIP, S_GDTR_BASE, S_GDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_SEL, SS, VM,
} from '../cpu/state.ts';
import { describeDescriptor } from './descriptors.ts';
import { IDLE_WAIT_MS, type Machine, type RunOutcome } from '../machine/machine.ts';
import type { Processor } from '../machine/processor.ts';
import type { Cpu } from '../cpu/cpu.ts';
import { explainFaultChain, summarizeFaultChain } from './fault-report.ts';
import { Debugger, type Motion } from './debugger.ts';
import { evaluate, ExpressionError, type EvaluationContext } from './expression.ts';
import { GuestMemory } from './guest-memory.ts';
import { readRegister } from './registers.ts';
import { shortPath, type SymbolTable } from './symbols.ts';
import type { Point } from './points.ts';
import { commandsStartingWith, findCommand } from './commands/table.ts';
import { CommandError } from './command-error.ts';
import { Timeline } from './timeline.ts';
import type { MachineSnapshot } from '../machine/snapshot.ts';


/** What the session needs from the terminal (or page) it runs in. */
export interface DebugHost {
  /** Debugger output: one or more lines, without the final newline. */
  print(text: string): void;
  /** The guest's pending console output, written out (so that what the debugger says comes after it). */
  flushGuestOutput(): void;
  /** True while the user may still type for the guest: a halted guest then waits in real time. */
  readonly mayReceiveInput: boolean;
  /** True once when the user asked the running guest to stop (Ctrl-C, SIGINT). */
  takeInterrupt(): boolean;
  /** Called as the guest starts and stops running: the terminal's input goes to it meanwhile. */
  running(on: boolean): void;
  /** A file's text (for `source` and `list`), or undefined when it cannot be read. */
  readFile(path: string): string | undefined;
}

export interface SessionOptions {
  /** Stop for good after this many instructions in all (minivisor run's --max-instructions). */
  maxInstructions?: number;
}

/** A disassembled instruction and where it is: its linear (or physical) address, and its offset in CS. */
export interface ListedInstruction extends DisassembledInstruction {
  linear: number;
  offset: number;
  /** Decoded at its offset in CS (a linear address at or above CS's base). */
  inCs: boolean;
  physical: boolean;
}

/** An address as a command gave it: linear, or guest-physical (`p:ADDR`). */
export interface ResolvedAddress {
  address: number;
  physical: boolean;
}

/** Instructions per slice of a run: between slices the terminal gets its turn (input, Ctrl-C). */
const SLICE = 1 << 20;

export class DebugSession {
  readonly debugger: Debugger;
  readonly memory: GuestMemory;
  /** How the guest ended (halt, shutdown, the exit port...), once it has: it cannot run again. */
  ended: { outcome: RunOutcome; text: string } | null = null;
  /** The last stop, as a program (the gdb stub) wants it: why, and which points were hit. */
  lastStop: { outcome: RunOutcome; interrupted: boolean; hits: Point[]; reasons: string[] } | null = null;
  /** Commands that failed (a script's exit status says whether all went well). */
  failures = 0;
  /** The last command that an empty line repeats, with its arguments. */
  private repeat: { name: string; args: string } | null = null;
  /** State commands keep between calls (x's next address and format, list's next line...). */
  readonly state = new Map<string, unknown>();
  private sourceDepth = 0;
  /** The history reverse execution goes back in (snapshots and the journal of inputs). */
  timeline: Timeline;
  /** Snapshots the user saved by name (`snapshot save NAME`), with the instruction count each was taken at. */
  readonly namedSnapshots = new Map<string, MachineSnapshot>();

  constructor(
    readonly machine: Machine,
    readonly symbols: SymbolTable,
    readonly host: DebugHost,
    private readonly options: SessionOptions = {},
  ) {
    this.memory = new GuestMemory(machine, () => this.processor);
    this.debugger = new Debugger(machine, (expression) => this.evaluate(expression) !== 0, (linear) => symbols.describe(linear));
    this.debugger.attach();
    this.timeline = new Timeline(machine);
  }

  /** Guest memory as processor `p` sees it (its paging), whichever processor has the focus later. */
  memoryOf(p: Processor): GuestMemory {
    return new GuestMemory(this.machine, () => p);
  }

  /**
   * A change the user makes to the stopped guest (a register, memory): made, and noted in the
   * history so that a replay through this point makes it again. Returns what `change` returns.
   */
  edit<T>(what: string, change: () => T): T {
    let result: T | undefined;
    this.timeline.edit(() => {
      result = change();
    }, what);
    return result as T;
  }

  /**
   * The guest goes back (reverse execution, reverse.ts) or to a saved snapshot: it has not
   * ended any more, and the stop is reported as a run's is.
   */
  reportJump(stop: { reasons: string[]; hits: Point[] }, lines: string[] = [], silent = false): void {
    this.ended = null;
    this.lastStop = { outcome: { kind: 'debug' }, interrupted: false, hits: stop.hits, reasons: stop.reasons };
    if (!silent) this.print([...lines, ...stop.reasons.filter((r) => r !== ''), this.location()].join('\n'));
  }

  /** Starts the history again from the machine as it is now (after a snapshot was loaded into it). */
  restartHistory(): void {
    this.timeline.dispose();
    this.timeline = new Timeline(this.machine);
  }

  /**
   * The processor the commands look at and step (gdb's current thread, QEMU's `cpu N`): the
   * first, until `cpu N` picks another or one of the others stops at a breakpoint.
   */
  get processor(): Processor {
    return this.debugger.focus;
  }

  /** The focused processor's CPU. */
  get cpu(): Cpu {
    return this.debugger.focus.cpu;
  }

  // ---------------------------------------------------------------- commands

  /**
   * Runs one command line. Returns false when the session should end (quit). A mistake is
   * printed and counted, never thrown. `typed` false: a command a program runs for its own
   * display (the playground's panels), which an empty line does not repeat in place of the user's.
   */
  async execute(line: string, typed = true): Promise<boolean> {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) {
      if (text === '' && this.repeat !== null) return this.dispatch(this.repeat.name, this.repeat.args, true, typed);
      return true;
    }
    const m = /^([A-Za-z_-]+|[!?])(?:(\/\S*)|\s+|$)(.*)$/s.exec(text);
    if (!m) {
      this.fail(`'${text}' is not a command: type 'help' for the list`);
      return true;
    }
    return this.dispatch(m[1], ((m[2] ?? '') + ' ' + m[3]).trim(), false, typed);
  }

  private async dispatch(name: string, args: string, repeated: boolean, typed: boolean): Promise<boolean> {
    const command = findCommand(name);
    if (command === undefined) {
      const could = commandsStartingWith(name);
      this.fail(could.length > 1 ? `'${name}' could be ${could.join(', ')}: type more of it` : `unknown command '${name}': type 'help' for the list`);
      if (typed) this.repeat = null;
      return true;
    }
    if (command.name === 'quit') return false;
    if (typed) this.repeat = command.repeats ? { name: command.name, args: command.repeatArgs?.(this, args, repeated) ?? args } : null;
    try {
      const out = await command.run(this, args, repeated);
      if (typeof out === 'string' && out !== '') this.print(out);
    } catch (e) {
      if (e instanceof CommandError || e instanceof ExpressionError) this.fail(`${command.name}: ${e.message}`);
      // A bug of minivisor's: say so, with where, and keep the session (and the user's work) alive.
      else this.fail(`internal error in '${command.name}' (a bug in minivisor, please report it):\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    return true;
  }

  /** Where output goes: the host, or while a caller captures it (gdb's `monitor`), the caller. */
  private readonly captures: ((text: string) => void)[] = [];

  print(text: string): void {
    const capture = this.captures.at(-1);
    if (capture !== undefined) capture(text);
    else this.host.print(text);
  }

  /** Sends what the session prints to `sink` until `restore` is called. */
  captureOutput(sink: (text: string) => void): { restore(): void } {
    this.captures.push(sink);
    return { restore: () => void this.captures.splice(this.captures.lastIndexOf(sink), 1) };
  }

  fail(message: string): void {
    this.failures++;
    this.print(`error: ${message}`);
  }

  /** Runs the commands of a file (`source`, `-x`). A failing line is reported with file:line and the rest still run. */
  async source(path: string): Promise<boolean> {
    const text = this.host.readFile(path);
    if (text === undefined) throw new CommandError(`cannot read '${path}'`);
    if (this.sourceDepth > 8) throw new CommandError(`'${path}': source files nested too deep (a file that sources itself?)`);
    this.sourceDepth++;
    try {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const before = this.failures;
        const go = await this.execute(lines[i]);
        if (this.failures > before) this.print(`  (in ${path}:${i + 1})`);
        if (!go) return false;
      }
    } finally {
      this.sourceDepth--;
    }
    return true;
  }

  // ---------------------------------------------------------------- expressions and addresses

  /** What expressions see: the guest's registers, the symbols, and memory through the guest's tables. */
  readonly expressionContext: EvaluationContext = {
    register: (name) => readRegister(this.processor, name),
    symbol: (name) => this.symbols.lookup(name),
    memory: (address, bytes) => {
      const value = this.memory.readValue(address, bytes);
      if (value === null) throw new ExpressionError(`memory at ${hex(address)} is not mapped by the guest's page tables`);
      return value;
    },
  };

  evaluate(text: string): number {
    return evaluate(text, this.expressionContext);
  }

  /**
   * An address as commands take it: an expression (a linear address: `0x7c00`, `print+4`,
   * `esp+8`), `p:EXPR` (guest-physical), `SEG:OFF` (a real-mode segment or a selector, or a
   * segment register: `cs:eip`), or `FILE.asm:LINE`.
   */
  resolveAddress(spec: string): ResolvedAddress {
    const text = spec.trim();
    if (text === '') throw new CommandError('an address is missing');
    if (/^p:/i.test(text)) return { address: this.evaluate(text.slice(2)), physical: true };
    const line = /^(.+\.(?:asm|inc|s|nasm)):(\d+)$/i.exec(text);
    if (line) {
      const address = this.symbols.addressOfLine(line[1], Number(line[2]));
      if (address === undefined) throw new CommandError(`no code was assembled from ${line[1]} at or after line ${line[2]}`);
      return { address, physical: false };
    }
    const colon = topLevelColon(text);
    if (colon < 0) return { address: this.evaluate(text), physical: false };
    const segment = text.slice(0, colon).trim();
    const offset = this.evaluate(text.slice(colon + 1));
    const st = this.cpu.st;
    if ((!(st[S_CR0] & CR0_PE) || st[S_EFLAGS] & VM) && offset > 0xffff) {
      throw new CommandError(`'${text}': in real mode an offset is at most 0xFFFF (SEG:OFF is read in the mode the CPU is in now)`);
    }
    return { address: (this.segmentBase(segment) + offset) >>> 0, physical: false };
  }

  /** The base of a segment named in SEG:OFF: a segment register's hidden base, a real-mode segment × 16, or a selector's descriptor base. */
  private segmentBase(text: string): number {
    const st = this.cpu.st;
    const registers: Record<string, number> = { es: ES, cs: CS, ss: SS, ds: DS, fs: FS, gs: GS };
    const register = registers[text.toLowerCase()];
    if (register !== undefined) return st[S_SEG_BASE + register] >>> 0;
    const value = this.evaluate(text);
    if (value > 0xffff) throw new CommandError(`'${text}' is no segment: segments and selectors are 16-bit`);
    if (!(st[S_CR0] & CR0_PE) || st[S_EFLAGS] & VM) return value << 4;
    // Protected mode: a selector, whose descriptor gives the base.
    const name = `selector ${hex(value, 4)}`;
    if ((value & 0xfffc) === 0) throw new CommandError(`${name} is the null selector: it names no segment`);
    const inLdt = (value & 4) !== 0;
    const table = inLdt ? st[S_SEG_BASE + LDTR] : st[S_GDTR_BASE];
    const limit = inLdt ? st[S_SEG_HIGH + LDTR] >>> 0 : st[S_GDTR_LIMIT] & 0xffff;
    if ((value & 0xfff8) + 7 > limit) throw new CommandError(`${name} is past the ${inLdt ? 'LDT' : 'GDT'}'s limit (${hex(limit, 4)}): info ${inLdt ? 'ldt' : 'gdt'} lists the segments (SEG:OFF is read in the mode the CPU is in now)`);
    const address = (table + (value & 0xfff8)) >>> 0;
    const low = this.memory.readValue(address, 4);
    const high = this.memory.readValue((address + 4) >>> 0, 4);
    if (low === null || high === null) throw new CommandError(`the descriptor of ${name} is not mapped`);
    const descriptor = decodeDescriptor(low, high);
    if (!(descriptor.attr & ATTR_S)) throw new CommandError(`${name} is a system descriptor (${describeDescriptor(low, high)}), not a code or data segment`);
    return descriptor.base >>> 0;
  }

  // ---------------------------------------------------------------- where the guest is

  get code32(): boolean {
    return (this.cpu.st[S_SEG_ATTR + CS] & ATTR_DB) !== 0;
  }

  /** The linear address of CS:EIP. */
  get linearEip(): number {
    const st = this.cpu.st;
    return (st[S_SEG_BASE + CS] + st[S_EIP]) >>> 0;
  }

  /**
   * Disassembles `count` instructions from a linear (or physical) address; unmapped bytes end
   * it. Linear code in CS is decoded at its offsets (EIP values), as the CPU sees it: branch
   * targets read as offsets in CS, whatever its base.
   */
  disassembleAt(address: number, count: number, physical = false, bits: 16 | 32 = this.code32 ? 32 : 16): ListedInstruction[] {
    const base = physical ? 0 : this.cpu.st[S_SEG_BASE + CS] >>> 0;
    const inCs = !physical && (address >>> 0) >= base;
    const out: ListedInstruction[] = [];
    let at = address >>> 0;
    while (out.length < count) {
      const raw = physical ? this.memory.readPhysical(at, 15) : this.memory.readLinear(at, 15);
      const mapped = raw.indexOf(null);
      const bytes = Uint8Array.from((mapped < 0 ? raw : raw.slice(0, mapped)) as number[]);
      if (bytes.length === 0) break;
      const offset = inCs ? (at - base) >>> 0 : at;
      const [first] = disassemble(bytes, { bits, org: offset, reassemblable: false });
      if (first === undefined) break;
      out.push({ ...first, linear: at, offset, inCs, physical });
      at = (at + first.bytes.length) >>> 0;
    }
    return out;
  }

  /** One instruction as a line: `0008:0001023A <print+0x4>  8a 06   mov al, [esi] (console.asm:41)`. */
  formatInstruction(i: ListedInstruction, prefix: string): string {
    const st = this.cpu.st;
    const base = st[S_SEG_BASE + CS] >>> 0;
    const where = i.physical ? `p:${hex(i.linear)}` : i.inCs ? `${hex(st[S_SEG_SEL + CS], 4).slice(2)}:${hex(i.offset, this.code32 ? 8 : 4).slice(2)}` : hex(i.linear);
    const symbol = i.physical ? '' : this.symbols.describe(i.linear);
    const bytes = Array.from(i.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const target = i.target !== null && !i.physical ? this.symbols.describe(i.inCs ? (base + i.target) >>> 0 : i.target) : '';
    const line = i.physical ? undefined : this.symbols.lineAt(i.linear);
    const source = line ? `  (${shortPath(line.file)}:${line.line})` : '';
    return `${prefix}${where}${symbol ? ` ${symbol}` : ''}  ${bytes.padEnd(20)} ${i.text}${target ? ` ${target}` : ''}${source}`;
  }

  /** The line shown at every stop: where the guest is and the instruction it will run next. */
  location(): string {
    const [next] = this.disassembleAt(this.linearEip, 1);
    const cpu = this.cpu;
    if (next === undefined) return `=> ${cpu.location()} (linear ${hex(this.linearEip)}: not mapped)`;
    const halted = !cpu.halted ? '' : cpu.st[S_EFLAGS] & IF ? '   (halted: waiting for an interrupt)' : '   (halted with interrupts off: nothing wakes it)';
    return this.formatInstruction(next, '=> ') + halted;
  }

  // ---------------------------------------------------------------- running

  /**
   * Runs the guest as `motion` says until the debugger stops it, the user does, or it ends, and
   * says where it stopped and why. Returns true when it stopped only because the motion was done
   * (a step taken, nothing else to say): `quietly` then prints nothing, for `next N`.
   */
  async resume(motion: Motion, quietly = false, by: string | null = null): Promise<boolean> {
    if (this.ended !== null) throw new CommandError(`the guest has ended (${this.ended.text}); there is nothing to run. Look around, or quit`);
    if (this.driver !== null && by !== this.driver) {
      throw new CommandError(`${this.driver} is attached and runs the guest: continue or step from ${this.driver} (or detach it there); here you can look (registers, x, translate, exits...)`);
    }
    const run = this.run(motion, quietly, by !== null);
    this.running = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Who else runs the guest (the gdb stub, while gdb is attached): the REPL's commands that run
   * it are refused meanwhile, since gdb would not know the guest moved.
   */
  driver: string | null = null;
  /** The run going on (or the last one, done). */
  private running: Promise<void> = Promise.resolve();
  /** A stop asked for by someone other than the terminal (gdb's Ctrl-C, gdb attaching), with why. */
  private stopRequest: string | null = null;

  /** Stops a running guest at the next slice boundary (within a few milliseconds), saying why. */
  requestStop(why: string): void {
    this.stopRequest = why;
  }

  /** Forgets a stop asked for when no run was going on to take it. */
  cancelStopRequest(): void {
    this.stopRequest = null;
  }

  /** Resolves when no run is going on. */
  whenStopped(): Promise<void> {
    return this.running;
  }

  /** Why the run must stop now (Ctrl-C on the terminal, or a request), or null. */
  private takeStop(): string | null {
    if (this.host.takeInterrupt()) return 'Ctrl-C';
    const why = this.stopRequest;
    this.stopRequest = null;
    return why;
  }

  /** `forDriver`: another front end (gdb) runs it and says how it stopped; the terminal stays the REPL's. */
  private async run(motion: Motion, quietly: boolean, forDriver: boolean): Promise<boolean> {
    const machine = this.machine;
    this.debugger.prepare(motion);
    let outcome: RunOutcome = { kind: 'limit' };
    let interrupted: string | null = null;
    const running = async () => {
      for (;;) {
        // Ctrl-C may have come between two runs of one command (next N): it stops before the next.
        if ((interrupted = this.takeStop()) !== null) break;
        let slice = SLICE;
        if (this.options.maxInstructions !== undefined) slice = Math.min(slice, this.options.maxInstructions - machine.instructions);
        if (slice <= 0) {
          outcome = { kind: 'limit' };
          break;
        }
        outcome = this.timeline.run(slice, { waitForInput: this.host.mayReceiveInput });
        this.host.flushGuestOutput();
        if ((interrupted = this.takeStop()) !== null) break;
        if (outcome.kind === 'idle' && this.timeline.inputDue) continue; // (back in history: the wait the user took then is given back)
        if (outcome.kind === 'idle') {
          // Halted until the user types: let real time pass.
          await new Promise((resolve) => setTimeout(resolve, IDLE_WAIT_MS));
          machine.passIdleTime(IDLE_WAIT_MS * 1e6);
          continue;
        }
        if (outcome.kind !== 'limit') break;
        if (this.options.maxInstructions !== undefined && machine.instructions >= this.options.maxInstructions) break;
        await yieldToEvents();
      }
    };
    await (forDriver ? running() : this.whileRunning(running));
    return this.reportStop(outcome, interrupted, quietly, forDriver);
  }

  private runningDepth = 0;

  /**
   * Runs `work` with the terminal given to the guest (its keys, Ctrl-C): for one run, or for a
   * command that runs the guest many times (next N), so that Ctrl-C reaches it in between.
   */
  async whileRunning<T>(work: () => Promise<T>): Promise<T> {
    if (this.runningDepth++ === 0) this.host.running(true);
    try {
      return await work();
    } finally {
      if (--this.runningDepth === 0) this.host.running(false);
    }
  }

  /** Lets the host's events in (a key, Ctrl-C) between two runs of one command. */
  breathe(): Promise<void> {
    return yieldToEvents();
  }

  private reportStop(outcome: RunOutcome, interrupted: string | null, quietly: boolean, silent = false): boolean {
    const stop = this.debugger.takeStop();
    // A stop on another processor (a breakpoint it hit), or the end it brought: the commands follow it now.
    const switchTo = stop.switchedTo ?? (outcome.kind !== 'debug' && outcome.kind !== 'limit' && interrupted === null ? this.machine.lastRunProcessor : null);
    const switched = switchTo !== null && switchTo !== this.processor;
    if (switched) this.debugger.setFocus(switchTo);
    this.lastStop = { outcome, interrupted: interrupted !== null, hits: stop.hits, reasons: stop.reasons };
    const plain = outcome.kind === 'debug' && interrupted === null && stop.reasons.every((r) => r === '') && stop.notes.length === 0 && !switched;
    if (plain && quietly) return true;
    const lines: string[] = [];
    if (switched) lines.push(`[Switching to cpu ${switchTo.index}]`);
    if (interrupted !== null) lines.push(`Stopped: ${interrupted}.`);
    if (outcome.kind === 'debug' || interrupted !== null) {
      lines.push(...stop.reasons.filter((r) => r !== ''), ...stop.notes);
    } else if (outcome.kind === 'limit') {
      lines.push(`Stopped: ${this.options.maxInstructions} instructions (--max-instructions).`);
    } else {
      const text = this.describeEnd(outcome);
      this.ended = { outcome, text };
      lines.push(`The guest ${text}.`);
      if (outcome.kind === 'shutdown' && this.cpu.faultChain.shutdown) {
        lines.push(...explainFaultChain(this.machine, this.cpu.faultChain.events, (l) => this.symbols.describe(l), this.processor).map((l) => `  ${l}`));
      }
    }
    lines.push(this.location());
    if (!silent) this.print(lines.join('\n'));
    return plain;
  }

  private describeEnd(outcome: RunOutcome): string {
    switch (outcome.kind) {
      case 'halted':
        return `halted (${outcome.detail})`;
      case 'exit':
        return `wrote to the exit port: exit status ${outcome.status}`;
      case 'shutdown':
        return `shut down: ${this.cpu.faultChain.shutdown ? summarizeFaultChain(this.cpu.faultChain.events) : outcome.detail}`;
      case 'unmapped-fetch':
        return `stopped: ${outcome.detail}`;
      default:
        return `stopped (${outcome.kind})`;
    }
  }
}

/** Lets the host's events in (keys, Ctrl-C) between slices: setImmediate in Node, a timer in a browser. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Where SEG:OFF splits: the first ':' outside brackets, or -1. */
function topLevelColon(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === ':' && depth === 0) return i;
  }
  return -1;
}

