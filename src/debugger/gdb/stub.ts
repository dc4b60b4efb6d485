/**
 * The gdb remote stub: the GDB remote serial protocol on top of a DebugSession, so that gdb and
 * minivisor's own REPL drive the same Debugger (its breakpoints, watchpoints, stepping and stop
 * decisions; `info break` in the REPL lists what gdb inserted). One client, all-stop, one
 * thread. Addresses are linear, as QEMU's stub uses them: gdb's `x/4i $pc` reads CS base + EIP
 * only where CS's base is 0, as in any flat protected-mode kernel.
 *
 * This layer knows no sockets: the CLI's server (src/cli/gdb-server.ts) gives it a link to send
 * bytes through and hands it what arrives; the playground could do the same over a WebSocket.
 */
import { findCommand } from '../commands/table.ts';
import type { Breakpoint, Point, Watchpoint, WatchAccess } from '../points.ts';
import type { DebugSession } from '../session.ts';
import type { Motion } from '../debugger.ts';
import { writeRegister } from '../registers.ts';
import { reverseContinue, reverseStep } from '../reverse.ts';
import { reportReverse } from '../commands/history.ts';
import type { RunOutcome } from '../../machine/machine.ts';
import type { Processor } from '../../machine/processor.ts';
import { framePacket, fromHex, PACKET_SIZE, PacketReader, toHex, type Incoming } from './packets.ts';
import { allRegistersHex, GDB_REGISTERS, parseRegisterHex, registerHex, targetDescription } from './registers.ts';

export interface GdbLink {
  /** Bytes to gdb, as a latin1 string. */
  send(bytes: string): void;
  /** Ends the connection. */
  close(): void;
}

export interface GdbStubEvents {
  /** gdb detached (`detach`): the guest runs on, to its end, without it. */
  detached(): void;
  /** gdb asked to kill the guest (`kill`, or gdb quitting): the run ends. */
  killed(): void;
  /** The guest ended and gdb has been told (W): the run ends. */
  ended(): void;
  /** The exit status minivisor gives for a guest that ended so (gdb's "exited with code N"). */
  exitStatus(outcome: RunOutcome): number;
}

/** The REPL's commands that run the guest: gdb does that (continue, stepi), not `monitor`. */
const RUNNING_COMMANDS = new Set(['step', 'next', 'continue', 'until', 'finish', 'type', 'quit', 'reverse-step', 'reverse-next', 'reverse-continue', 'goto', 'snapshot']);

/** gdb's signal numbers in stop replies: SIGINT for Ctrl-C, SIGTRAP for the rest. */
const SIGINT = 2;
const SIGTRAP = 5;

const hex = (n: number) => (n >>> 0).toString(16);

export class GdbStub {
  private readonly reader = new PacketReader();
  private noAck = false;
  /** The last packet sent, for a '-' (gdb asks for it again). */
  private lastSent = '';
  /** Packets are handled one after another; a resume holds the queue until the guest stops. */
  private queue: Promise<void> = Promise.resolve();
  /** The points gdb inserted (Z packets), by what gdb calls them, to remove them (z packets). */
  private readonly inserted = new Map<string, Point>();
  private closed = false;
  /** gdb believes the guest runs: a resume was asked for and not yet answered (Ctrl-C means something only then). */
  private running = false;
  /** What gdb's qSupported said it understands in stop replies. */
  private swbreak = false;
  private hwbreak = false;

  constructor(
    private readonly session: DebugSession,
    private readonly link: GdbLink,
    private readonly events: GdbStubEvents,
  ) {
    // Attaching stops a running guest (packets wait until it has stopped); a request no run took is void.
    session.driver = 'gdb';
    session.requestStop('gdb attached');
    this.queue = session.whenStopped().then(() => session.cancelStopRequest());
  }

  /** Bytes from gdb. */
  receive(chunk: string): void {
    for (const item of this.reader.push(chunk)) this.take(item);
  }

  /** Everything gdb asked for so far has been answered. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Removes what gdb inserted: after `detach`, or when gdb went away without it. */
  removePoints(): void {
    const ids = [...this.inserted.values()].map((p) => p.id);
    if (ids.length > 0) this.session.debugger.points.delete(ids);
    this.inserted.clear();
  }

  /** gdb is gone (detached, killed, or the connection dropped): the session is the REPL's again. */
  disconnected(): void {
    this.closed = true;
    this.removePoints();
    if (this.session.driver === 'gdb') this.session.driver = null;
  }

  private take(item: Incoming): void {
    switch (item.kind) {
      case 'interrupt':
        // While stopped it is stale (Ctrl-C as a breakpoint was hit): QEMU ignores it too.
        if (this.running) this.session.requestStop('Ctrl-C in gdb');
        return;
      case 'nack':
        if (this.lastSent !== '') this.link.send(this.lastSent);
        return;
      case 'ack':
        return;
      case 'corrupt':
        if (!this.noAck) this.link.send('-');
        return;
      case 'packet':
        if (!this.noAck) this.link.send('+');
        if (/^([cCsS]|vCont;)/.test(item.data)) this.running = true;
        this.queue = this.queue.then(() => this.answer(item.data));
    }
  }

  private reply(payload: string): void {
    if (this.closed) return;
    this.lastSent = framePacket(payload);
    this.link.send(this.lastSent);
  }

  /** Console output in gdb (an `O` packet): what minivisor has to say that gdb would not. */
  private console(text: string): void {
    for (let at = 0; at < text.length; at += 1024) this.reply(`O${toHex(text.slice(at, at + 1024))}`);
  }

  private async answer(packet: string): Promise<void> {
    if (this.closed) return; // gdb has gone: what it asked for last is moot
    let reply: string | null;
    try {
      reply = await this.handle(packet);
    } catch (e) {
      // A bug of ours must not take the session down: gdb gets an error with the message (an O
      // packet here would be taken for the reply).
      reply = `E.internal error answering '${packet.slice(0, 40)}' (a bug in minivisor, please report it): ${e instanceof Error ? e.message : String(e)}`;
    }
    this.running = false;
    if (reply !== null) this.reply(reply);
    if (packet === 'QStartNoAckMode') this.noAck = true;
  }

  /** The reply to one packet; null when there is none (`k`). Unknown packets get '' (not supported), malformed ones an error. */
  private async handle(packet: string): Promise<string | null> {
    const session = this.session;
    const machine = session.processor; // the registers of the processor the session follows
    const [head] = packet;
    switch (head) {
      case '?':
        return this.stopReply();
      case 'g':
        return allRegistersHex(machine);
      case 'G':
        return this.writeAllRegisters(packet.slice(1));
      case 'p': {
        const r = GDB_REGISTERS[parseInt(packet.slice(1), 16)];
        return r === undefined ? 'E00' : registerHex(r, machine);
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]+)$/.exec(packet);
        const r = m ? GDB_REGISTERS[parseInt(m[1], 16)] : undefined;
        const value = r && m ? parseRegisterHex(r, m[2]) : null;
        if (r === undefined || value === null) return 'E00';
        if (r.read(machine) >>> 0 === value && r.bits === 32) return 'OK';
        const why = session.edit(`gdb: P ${r.name}`, () => r.write(machine, value));
        // Only an error reply: gdb would take a console packet sent now for the answer.
        return why === null ? 'OK' : 'E01';
      }
      case 'm':
        return this.readMemory(packet);
      case 'M':
      case 'X':
        return this.writeMemory(packet);
      case 'Z':
      case 'z':
        return this.point(packet);
      case 'c':
      case 'C':
        return this.resume({ kind: 'continue' }, packet);
      case 's':
      case 'S':
        return this.resume({ kind: 'step', count: 1 }, packet);
      case 'H':
        return this.selectThread(packet);
      case 'T':
        return this.processorOfThread(packet.slice(1)) !== null ? 'OK' : 'E01';
      case 'D':
        this.removePoints();
        this.reply('OK');
        this.events.detached();
        return null;
      case 'k':
        this.events.killed();
        return null;
    }
    if (packet.startsWith('qSupported')) {
      this.swbreak = packet.includes('swbreak+');
      this.hwbreak = packet.includes('hwbreak+');
    }
    if (packet.startsWith('qSupported')) return `PacketSize=${hex(PACKET_SIZE)};qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+;ReverseStep+;ReverseContinue+`;
    // Reverse execution (reverse-stepi, reverse-continue): the session's history (src/debugger/reverse.ts).
    if (packet === 'bs' || packet === 'bc') return this.reverse(packet === 'bs' ? 'step' : 'continue');
    if (packet === 'QStartNoAckMode') return 'OK';
    if (packet.startsWith('qXfer:features:read:')) return this.features(packet.slice('qXfer:features:read:'.length));
    if (packet === 'qAttached' || packet.startsWith('qAttached:')) return '1';
    // Threads are the processors (thread N is cpu N-1), as QEMU's stub has them.
    if (packet === 'qC') return `QC${this.thread}`;
    if (packet === 'qfThreadInfo') return `m${session.machine.processors.map((p) => (p.index + 1).toString(16)).join(',')}`;
    if (packet === 'qsThreadInfo') return 'l';
    if (packet.startsWith('qThreadExtraInfo,')) {
      const p = this.processorOfThread(packet.slice('qThreadExtraInfo,'.length));
      return p === null ? 'E01' : toHex(describeProcessor(p));
    }
    if (packet.startsWith('qSymbol')) return 'OK';
    if (packet.startsWith('qRcmd,')) return this.monitor(packet.slice(6));
    if (packet === 'vCont?') return 'vCont;c;C;s;S';
    if (packet.startsWith('vCont;')) {
      // The first action is for the thread it names (vCont;s:2;c steps thread 2, the others go on as the machine runs them).
      const [first] = packet.slice(6).split(';');
      const [action, thread] = first.split(':');
      if (thread !== undefined) {
        const p = this.processorOfThread(thread);
        if (p === null) return 'E01';
        session.debugger.setFocus(p);
      }
      if (action[0] === 'c' || action[0] === 'C') return this.resume({ kind: 'continue' }, 'c');
      if (action[0] === 's' || action[0] === 'S') return this.resume({ kind: 'step', count: 1 }, 's');
      return 'E01';
    }
    if (packet.startsWith('vKill')) {
      this.reply('OK');
      this.events.killed();
      return null;
    }
    return '';
  }

  // ---------------------------------------------------------------- threads: the processors

  /** The thread gdb sees as current: the processor the session follows (thread N is cpu N-1). */
  private get thread(): number {
    return this.session.processor.index + 1;
  }

  /** A thread id as gdb sends it (hex; 0 or -1: any), or null when there is no such processor. */
  private processorOfThread(id: string): Processor | null {
    const n = parseInt(id, 16);
    const processors = this.session.machine.processors;
    if (id === '-1' || n === 0) return this.session.processor;
    return Number.isNaN(n) || n < 1 || n > processors.length ? null : processors[n - 1];
  }

  /** Hg (registers and memory) and Hc (continue and step) pick a thread: the session follows that processor. */
  private selectThread(packet: string): string {
    const p = this.processorOfThread(packet.slice(2));
    if (p === null) return 'E01';
    this.session.debugger.setFocus(p);
    return 'OK';
  }

  // ---------------------------------------------------------------- running

  private async resume(motion: Motion, packet: string): Promise<string | null> {
    const session = this.session;
    // `c ADDR` / `s ADDR` resume elsewhere: EIP takes the address (a linear one, less CS's base).
    const address = /^[cs]([0-9a-fA-F]+)$/.exec(packet);
    const processor = session.processor;
    if (address) session.edit('gdb: resume at an address', () => writeRegister(processor, 'pc', parseInt(address[1], 16)));
    if (session.ended === null) {
      // The session reports nothing itself for gdb's runs: gdb gets a stop reply (and the console lines below).
      await session.resume(motion, false, 'gdb');
      // What gdb would not say itself: a catchpoint set with `monitor catch`, a triple fault
      // about to happen, the guest's end. Breakpoints and watchpoints gdb reports in its words.
      const stop = session.lastStop;
      if (stop !== null && session.ended === null) {
        const said = stop.reasons.filter((r) => r !== '' && !stop.hits.some((p) => this.isInserted(p)));
        if (said.length > 0) this.console(`${said.join('\n')}\n`);
      }
    }
    if (session.ended === null) return this.stopReply();
    this.console(`minivisor: the guest ${session.ended.text}\n`);
    this.reply(this.stopReply());
    this.events.ended();
    return null;
  }

  private reverse(motion: 'step' | 'continue'): string {
    const session = this.session;
    const stop = motion === 'step' ? reverseStep(session, 1) : reverseContinue(session);
    reportReverse(session, stop, true);
    // What gdb would not say itself (a catch, the REPL's own breakpoint).
    const said = stop.reasons.filter((r) => r !== '' && !stop.hits.some((p) => this.isInserted(p)));
    if (said.length > 0) this.console(`${said.join('\n')}\n`);
    // At the history's beginning gdb is told so: "No more reverse-execution history."
    return stop.atStart ? `T05replaylog:begin;thread:${this.thread.toString(16)};` : this.stopReply();
  }

  private isInserted(p: Point): boolean {
    for (const q of this.inserted.values()) if (q === p) return true;
    return false;
  }

  /** How the guest stands, as a stop reply: T (stopped, with why), or W (it has ended, with minivisor's exit status). */
  private stopReply(): string {
    const session = this.session;
    if (session.ended !== null) return `W${(this.events.exitStatus(session.ended.outcome) & 0xff).toString(16).padStart(2, '0')}`;
    const stop = session.lastStop;
    if (stop?.interrupted) return `T${SIGINT.toString(16).padStart(2, '0')}thread:${this.thread.toString(16)};`;
    // Only gdb's own points are named: gdb resumes, unseen, from a breakpoint it did not insert
    // (one set in the REPL), so such a stop is a plain SIGTRAP, with the REPL's words before it.
    const watch = stop?.hits.find((p): p is Watchpoint => p.type === 'watch' && this.isInserted(p));
    if (watch) return `T05${watch.access === 'write' ? 'watch' : watch.access === 'read' ? 'rwatch' : 'awatch'}:${hex(watch.address)};thread:${this.thread.toString(16)};`;
    const breakpoint = stop?.hits.find((p): p is Breakpoint => p.type === 'break' && this.isInserted(p));
    if (breakpoint) {
      const hardware = breakpoint.spec.startsWith('gdb Z1');
      const named = hardware ? (this.hwbreak ? 'hwbreak:;' : '') : this.swbreak ? 'swbreak:;' : '';
      return `T05${named}thread:${this.thread.toString(16)};`;
    }
    return `T${SIGTRAP.toString(16).padStart(2, '0')}thread:${this.thread.toString(16)};`;
  }

  // ---------------------------------------------------------------- registers and memory

  private writeAllRegisters(data: string): string {
    const machine = this.session.processor;
    let at = 0;
    for (const r of GDB_REGISTERS) {
      const digits = r.bits / 4;
      if (at + digits > data.length) break; // gdb may send fewer than all
      const value = parseRegisterHex(r, data.slice(at, at + digits));
      at += digits;
      if (value === null) return 'E00';
      // Only what changed is written: gdb sends every register back, read-only ones included.
      if (r.read(machine) >>> 0 !== value && this.session.edit(`gdb: G ${r.name}`, () => r.write(machine, value)) !== null) return 'E01';
    }
    return 'OK';
  }

  private readMemory(packet: string): string {
    const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(packet);
    if (!m) return 'E01';
    const length = Math.min(parseInt(m[2], 16), PACKET_SIZE / 2);
    const bytes = this.session.memory.readLinear(parseInt(m[1], 16) >>> 0, length);
    const mapped = bytes.indexOf(null);
    const readable = mapped < 0 ? bytes : bytes.slice(0, mapped);
    // Nothing readable at all is an error (EFAULT); a partial read returns what there is.
    if (readable.length === 0 && length > 0) return 'E14';
    return readable.map((b) => (b as number).toString(16).padStart(2, '0')).join('');
  }

  private writeMemory(packet: string): string {
    const colon = packet.indexOf(':');
    const m = /^[MX]([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(colon < 0 ? packet : packet.slice(0, colon));
    if (!m || colon < 0) return 'E01';
    const length = parseInt(m[2], 16);
    const data = packet.slice(colon + 1);
    let bytes: number[];
    if (packet[0] === 'X') bytes = Array.from(data, (c) => c.charCodeAt(0) & 0xff);
    else {
      if (!/^([0-9a-fA-F]{2})*$/.test(data)) return 'E01';
      bytes = Array.from({ length: data.length / 2 }, (_, i) => parseInt(data.slice(2 * i, 2 * i + 2), 16));
    }
    if (bytes.length !== length) return 'E01';
    if (length === 0) return 'OK'; // gdb's probe for X
    const memory = this.session.memoryOf(this.session.processor);
    const why = this.session.edit('gdb: memory write', () => memory.write(parseInt(m[1], 16) >>> 0, bytes));
    return why === null ? 'OK' : 'E14';
  }

  private features(args: string): string {
    const m = /^([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(args);
    if (!m) return 'E00';
    if (m[1] !== 'target.xml') return 'E00';
    const xml = targetDescription();
    const offset = parseInt(m[2], 16);
    const length = parseInt(m[3], 16);
    const part = xml.slice(offset, offset + length);
    return `${offset + length >= xml.length ? 'l' : 'm'}${part}`;
  }

  // ---------------------------------------------------------------- breakpoints and watchpoints

  /** Z0/Z1 (software and hardware breakpoints: the same to us, no code is patched), Z2/Z3/Z4 (write, read, access watchpoints). */
  private point(packet: string): string {
    const m = /^([Zz])([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(packet);
    if (!m) return 'E01';
    const type = Number(m[2]);
    const address = parseInt(m[3], 16) >>> 0;
    const length = parseInt(m[4], 16);
    const key = `${type},${address},${type >= 2 ? length : 0}`;
    const points = this.session.debugger.points;
    if (m[1] === 'z') {
      const p = this.inserted.get(key);
      if (p !== undefined) {
        points.delete([p.id]);
        this.inserted.delete(key);
      }
      return 'OK';
    }
    if (this.inserted.has(key)) return 'OK';
    const spec = `gdb Z${type} at 0x${hex(address)}`;
    let p: Point;
    if (type <= 1) {
      p = points.add<Breakpoint>({ type: 'break', enabled: true, temporary: false, address, physical: false, condition: null, spec });
    } else {
      if (length < 1 || length > 4096) return 'E01';
      const access: WatchAccess = type === 2 ? 'write' : type === 3 ? 'read' : 'access';
      p = points.add<Watchpoint>({ type: 'watch', enabled: true, access, address, length, physical: false, spec: `${spec}, ${length} bytes` });
    }
    this.inserted.set(key, p);
    return 'OK';
  }

  // ---------------------------------------------------------------- monitor

  /** `monitor COMMAND`: any of the REPL's commands that look (translate, exits, info vmcs, x...), its answer printed in gdb. */
  private async monitor(hexCommand: string): Promise<string> {
    const line = fromHex(hexCommand);
    if (line === null) return 'E01';
    const name = line.trim().split(/\s+/)[0] ?? '';
    const command = name === '' ? undefined : findCommand(name);
    if (command !== undefined && RUNNING_COMMANDS.has(command.name)) {
      this.console(`monitor ${name}: gdb runs the guest here (continue, stepi, next...); monitor is for the commands that look: translate, exits, info vmcs, x...\n`);
      return 'OK';
    }
    const printed: string[] = [];
    const output = this.session.captureOutput((text) => printed.push(text));
    try {
      await this.session.execute(line === '' ? 'help' : line);
    } finally {
      output.restore();
    }
    if (printed.length > 0) this.console(`${printed.join('\n')}\n`);
    return 'OK';
  }
}

/** A packet that answers gdb's first one with an error it prints (a second client, refused). */
export function refusalPacket(message: string): string {
  return framePacket(`E.${message}`);
}

/** What gdb's `info threads` shows beside a processor's thread. */
function describeProcessor(p: Processor): string {
  const cpu = p.cpu;
  const state = p.waitingForStartup ? 'waiting for a STARTUP IPI' : cpu.halted ? 'halted' : 'running';
  return `cpu ${p.index}, APIC ID ${p.apic.id}, ${state}`;
}
