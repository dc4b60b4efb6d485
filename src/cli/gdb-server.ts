/**
 * The gdb stub's TCP side (the protocol is src/debugger/gdb/stub.ts, which knows no sockets).
 * `minivisor run --gdb PORT` (-s, -S): the guest runs under a DebugSession, freely while no gdb
 * holds it (before it connects, unless -S holds the guest; after it detaches or goes away); a
 * gdb that connects stops it where it is, as QEMU's stub does. `minivisor debug --gdb PORT`:
 * the same stub next to the REPL, which looks but leaves the running to gdb while it is attached.
 * One client at a time.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { TerminalConsole } from './console.ts';
import type { GdbListen } from './run-command.ts';
import { UserError } from './user-error.ts';
import type { Machine, RunOutcome } from '../machine/machine.ts';
import type { SymbolTable } from '../debugger/symbols.ts';
import type { DebugSession } from '../debugger/session.ts';
import type { GdbStub } from '../debugger/gdb/stub.ts';

/** Opens the port before the guest starts, so that a port in use is the user's error at once. */
export async function listenForGdb(listen: GdbListen): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const where = `${listen.host}:${listen.port}`;
      if (e.code === 'EADDRINUSE') reject(new UserError(`--gdb: port ${listen.port} is in use (another minivisor, QEMU or gdbserver?): choose another, --gdb ${listen.port + 1}`));
      else if (e.code === 'EACCES') reject(new UserError(`--gdb: not allowed to listen on ${where}: ports below 1024 need privileges; choose one above, --gdb 1234`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new UserError(`--gdb: ${listen.host} is not an address of this machine: use 127.0.0.1 (the default) or 0.0.0.0 for every interface`));
      else reject(new UserError(`--gdb: cannot listen on ${where}: ${e.message}`));
    });
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

/** The line that tells the user where to point gdb. */
export function gdbBanner(listen: GdbListen, holds: boolean): string {
  const address = `${listen.host === '127.0.0.1' ? '' : listen.host}:${listen.port}`;
  return `gdb stub on ${listen.host}:${listen.port}: gdb -ex 'target remote ${address}'${holds ? "; the guest waits for gdb's continue (-S)" : ''}`;
}

/** How a gdb connection ended. */
export type GdbRelease = 'detached' | 'gone' | 'killed' | 'ended';

export interface GdbHooks {
  /** Something to say on the terminal. */
  say(text: string): void;
  /** A gdb attached (it holds the guest from now on). */
  attached(): void;
  /** It let go: how. */
  released(how: GdbRelease): void;
  /** minivisor's exit status for a guest that ended so: gdb hears it as the exit code. */
  exitStatus(outcome: RunOutcome): number;
}

/** Serves gdb clients on `server`, one at a time, each driving `session` through a stub. `close` ends it all: the port and any connection. */
export async function acceptGdb(server: Server, session: DebugSession, hooks: GdbHooks): Promise<{ close(): void }> {
  const { GdbStub, refusalPacket } = await import('../debugger/gdb/stub.ts');
  let stub: GdbStub | null = null;
  const clients = new Set<Socket>();
  server.on('connection', (client) => {
    client.setEncoding('latin1');
    clients.add(client);
    client.on('close', () => clients.delete(client));
    if (stub !== null) {
      hooks.say(`refused a second gdb (from ${client.remoteAddress}): one is attached already`);
      // gdb takes a reply only after it has sent its first packet and had it acknowledged:
      // then it prints the error. Whatever happens, the connection ends soon.
      const refuse = setTimeout(() => client.destroy(), 5000);
      client.on('data', (chunk: string) => {
        if (!chunk.includes('$')) return;
        clearTimeout(refuse);
        client.end(`+${refusalPacket('minivisor has a gdb attached already: one client at a time')}`, 'latin1');
      });
      client.on('error', () => {});
      return;
    }
    hooks.say(`gdb attached (from ${client.remoteAddress})`);
    client.setNoDelay(true);
    const release = (how: GdbRelease) => {
      if (stub !== current) return;
      stub = null;
      current.disconnected();
      hooks.released(how);
    };
    const current: GdbStub = new GdbStub(
      session,
      { send: (bytes) => void client.write(bytes, 'latin1'), close: () => client.end() },
      {
        detached: () => {
          release('detached');
          client.end();
        },
        killed: () => {
          release('killed');
          client.end();
        },
        ended: () => {
          release('ended');
          client.end();
        },
        exitStatus: hooks.exitStatus,
      },
    );
    stub = current;
    hooks.attached();
    client.on('data', (chunk: string) => current.receive(chunk));
    client.on('close', () => release('gone'));
    client.on('error', () => {}); // a reset connection: 'close' follows
  });
  return {
    close: () => {
      server.close();
      for (const c of clients) c.destroy();
    },
  };
}

/** How a run under gdb ended: the guest's own end (or a stop: Ctrl-C, the limit), or gdb killed it. */
export type GdbRunEnd = { kind: 'guest'; outcome: RunOutcome } | { kind: 'killed' };

export interface GdbRun {
  machine: Machine;
  symbols: SymbolTable;
  server: Server;
  listen: GdbListen;
  terminal: TerminalConsole;
  exitStatus: (outcome: RunOutcome) => number;
  maxInstructions: number;
}

/** `minivisor run --gdb`: the guest runs freely while no gdb holds it. */
export async function runUnderGdb(run: GdbRun): Promise<GdbRunEnd> {
  const { machine, symbols, server, listen, terminal } = run;
  const { DebugSession } = await import('../debugger/session.ts');
  const session = new DebugSession(
    machine,
    symbols,
    {
      print: () => {}, // the stub says what gdb should hear; minivisor's terminal is the guest's
      flushGuestOutput: () => terminal.flush(),
      get mayReceiveInput() {
        return terminal.mayReceiveInput;
      },
      takeInterrupt: () => terminal.interrupted,
      running: () => {},
      readFile: (path) => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return undefined;
        }
      },
    },
    { maxInstructions: Number.isFinite(run.maxInstructions) ? run.maxInstructions : undefined },
  );
  const say = (text: string) => process.stderr.write(`minivisor: ${text}\n`);
  say(gdbBanner(listen, listen.waitForGdb));
  let killed = false;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const over = () => session.ended !== null || terminal.interrupted || killed || session.lastStop?.outcome.kind === 'limit';
  // Ctrl-C on minivisor's own terminal ends the run even while gdb holds the guest stopped.
  const watchTerminal = setInterval(() => terminal.interrupted && finish(), 100);
  const runFreely = async () => {
    while (session.driver === null && !over()) await session.resume({ kind: 'continue' });
    if (session.driver === null) finish();
  };
  const gdb = await acceptGdb(server, session, {
    say,
    attached: () => {},
    released: (how) => {
      if (how === 'detached') say('gdb detached: the guest runs on');
      if (how === 'gone' && !over()) say('gdb went away without detaching: the guest runs on');
      if (how === 'killed') {
        say('gdb killed the guest');
        killed = true;
      }
      if (over()) finish();
      else void session.whenStopped().then(runFreely);
    },
    exitStatus: run.exitStatus,
  });
  if (!listen.waitForGdb) void runFreely();
  await finished;
  clearInterval(watchTerminal);
  gdb.close();
  if (killed) return { kind: 'killed' };
  const outcome = session.ended?.outcome ?? (terminal.interruptedBy !== null ? { kind: 'stopped', detail: terminal.interruptedBy } : (session.lastStop?.outcome ?? { kind: 'limit' }));
  return { kind: 'guest', outcome };
}
