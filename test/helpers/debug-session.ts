/**
 * A debugger session in the test process: a guest assembled at 0000:7C00 (no BIOS), its
 * labels and source lines, and a host that records what the debugger prints.
 */
import { assemble, formatDiagnostic } from '../../src/asm/index.ts';
import { Machine, type MemoryMode } from '../../src/machine/machine.ts';
import { DebugSession, type DebugHost } from '../../src/debugger/session.ts';
import { SymbolTable } from '../../src/debugger/symbols.ts';
import { EXIT_PORT } from './run-asm.ts';

export interface TestSession {
  session: DebugSession;
  machine: Machine;
  /** Runs commands; returns what the debugger printed for them (joined lines). */
  run(...commands: string[]): Promise<string>;
  /** A label's address. */
  at(label: string): number;
  /** What the guest wrote to port 0xE9. */
  readonly guest: string;
}

export function debugAsm(source: string, options: { mode?: MemoryMode; translationCache?: boolean; memoryBytes?: number; cpus?: number } = {}): TestSession {
  const result = assemble(`org 0x7c00\n${source}`, { fileName: 'guest.asm' });
  if (!result.ok) throw new Error(result.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  let guest = '';
  const machine = new Machine({
    memoryBytes: options.memoryBytes ?? 4 << 20,
    mode: options.mode ?? 'bare',
    translationCache: options.translationCache ?? true,
    cpus: options.cpus,
    loads: [{ address: 0x7c00, bytes: result.bytes }],
    entry: { segment: 0, offset: 0x7c00 },
    debugcons: [{ port: 0xe9, sink: (b) => (guest += String.fromCharCode(b)) }],
    exitPort: EXIT_PORT,
  });
  const symbols = new SymbolTable();
  symbols.add({
    symbols: new Map([...result.symbols].filter(([n]) => result.labels.has(n))),
    constants: new Map([...result.symbols].filter(([n]) => !result.labels.has(n))),
    lineMap: result.lineMap,
  });
  let printed: string[] = [];
  const host: DebugHost = {
    print: (text) => printed.push(text),
    flushGuestOutput: () => {},
    mayReceiveInput: false,
    takeInterrupt: () => false,
    running: () => {},
    readFile: () => undefined,
  };
  const session = new DebugSession(machine, symbols, host);
  return {
    session,
    machine,
    async run(...commands) {
      printed = [];
      for (const c of commands) await session.execute(c);
      return printed.join('\n');
    },
    at(label) {
      const v = symbols.lookup(label);
      if (v === undefined) throw new Error(`no label ${label}`);
      return v;
    },
    get guest() {
      return guest;
    },
  };
}
