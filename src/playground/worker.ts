/**
 * The playground's Web Worker: the machine, the assembler and the debugger, as `minivisor debug
 * guest.asm` runs them, with the page for a terminal. The page sends the sources, the commands
 * and the keys typed (protocol.ts); the guest's COM1 output, the debugger's output and, at each
 * stop, what the panels show come back. The BIOS image and its symbols were assembled when the
 * page was built (tools/playground-build.ts), beside this script.
 */
import { assemble, formatDiagnostic } from '../asm/index.ts';
import type { SymbolMap } from '../asm/symbol-map.ts';
import { DebugSession, type DebugHost } from '../debugger/session.ts';
import { SymbolTable } from '../debugger/symbols.ts';
import { DiskImage } from '../machine/disk-image.ts';
import { Machine, type MachineConfig } from '../machine/machine.ts';
import { COMPARED_MODES, DEFAULT_COMPARED, comparisonTable, comparisonVerdict, runMode, type ModeRow } from '../machine/mode-comparison.ts';
import { CS, S_EIP, S_SEG_BASE } from '../cpu/state.ts';
import type { DisassemblyLine, FromWorker, GuestSources, MemoryMode, ToWorker } from './protocol.ts';

/** The port the example guests power off with (QEMU's isa-debug-exit), as `minivisor run` has it. */
const EXIT_PORT = 0xf4;

const post = (message: FromWorker) => (self as unknown as Worker).postMessage(message);

let bios: Uint8Array;
let biosSymbols: SymbolMap;
let session: DebugSession | null = null;
let sources: GuestSources = { files: {}, main: '' };
/** The COM1 bytes not yet sent to the page. */
let serial = '';
let serialTimer: ReturnType<typeof setTimeout> | null = null;
/** Commands run one after another, as typed. */
let queue: Promise<void> = Promise.resolve();

function flushSerial(): void {
  if (serialTimer !== null) clearTimeout(serialTimer);
  serialTimer = null;
  if (serial === '') return;
  post({ type: 'serial', text: serial });
  serial = '';
}

const host: DebugHost = {
  print: (text) => {
    flushSerial();
    post({ type: 'console', text });
  },
  flushGuestOutput: flushSerial,
  // (The user may type in the page's terminal at any time: a guest halted waiting for a key waits.)
  mayReceiveInput: true,
  // (Stop asks the session itself, with its own words: see requestStop below.)
  takeInterrupt: () => false,
  running: (on) => {
    if (on) post({ type: 'state', running: true, ended: false, registers: '', disassembly: [], exits: '', screen: [] });
  },
  readFile: (path) => sources.files[withoutDotSlash(path)],
};

const withoutDotSlash = (path: string) => path.replace(/^(\.\/)+/, '');

/** What a command prints for a panel, captured rather than shown in the console (and not repeated by an empty line). */
async function captured(s: DebugSession, line: string): Promise<string> {
  let text = '';
  const capture = s.captureOutput((t) => (text += `${t}\n`));
  try {
    await s.execute(line, false);
  } finally {
    capture.restore();
  }
  return text.replace(/\n$/, '');
}

/** Instructions shown from CS:EIP on. */
const DISASSEMBLY_LINES = 16;

/** How far before CS:EIP the disassembly may begin: at the label before it, when one is this near. */
const LABEL_REACH = 48;

/**
 * The instructions around CS:EIP, with the breakpoints among them: from the label before it when
 * that is near (decoding from a label keeps to instruction boundaries), else from CS:EIP.
 */
function disassembly(s: DebugSession): DisassemblyLine[] {
  const st = s.cpu.st;
  const eip = (st[S_SEG_BASE + CS] + st[S_EIP]) >>> 0;
  const breakpoints = s.debugger.points.all.filter((p) => p.type === 'break' && !p.physical);
  const label = s.symbols.nearest(eip);
  let listed = s.disassembleAt(eip, DISASSEMBLY_LINES);
  if (label !== undefined && label.offset > 0 && label.offset <= LABEL_REACH) {
    const before = s.disassembleAt(eip - label.offset, DISASSEMBLY_LINES + 12).filter((i) => i.linear < eip);
    // Only when decoding from the label lands on CS:EIP itself (no data between them).
    const last = before.at(-1);
    if (last !== undefined && last.linear + last.bytes.length === eip) listed = [...before.slice(-6), ...listed].slice(0, DISASSEMBLY_LINES + 6);
  }
  return listed.map((i) => ({
    linear: i.linear,
    text: s.formatInstruction(i, ''),
    next: i.linear === eip,
    breakpoint: breakpoints.find((p) => p.type === 'break' && p.address >>> 0 === i.linear)?.id ?? 0,
  }));
}

async function reportState(): Promise<void> {
  flushSerial();
  const s = session;
  if (s === null) return;
  const registers = `${await captured(s, 'info registers')}\n${s.location()}`;
  const exits = s.machine.vcpu === null ? '' : await captured(s, 'exits 12');
  post({ type: 'state', running: false, ended: s.ended !== null, registers, disassembly: disassembly(s), exits, screen: s.machine.vga.lines() });
}

/** A breakpoint at `linear`, or none there any more. */
function toggleBreakpoint(linear: number): void {
  const there = session?.debugger.points.all.find((p) => p.type === 'break' && !p.physical && p.address >>> 0 === linear);
  command(there === undefined ? `break 0x${linear.toString(16)}` : `delete ${there.id}`);
}

/** A command whose output goes to a panel: run in turn with the others. */
function toPanel(line: string, show: (text: string) => void): void {
  const s = session;
  if (s === null) return;
  queue = queue.then(async () => show(await captured(s, line)));
}

/** The last sources that assembled, and their image: what compare runs. */
let booted: { guest: GuestSources; image: Uint8Array } | null = null;

/** A guest compared runs this many instructions at most in each mode (one that never ends stops there). */
const COMPARE_BUDGET = 200_000_000;

/** The booted guest from its first instruction under every mode, one after another: the comparison table. */
async function compare(): Promise<void> {
  if (booted === null) {
    post({ type: 'console', text: 'no guest: Assemble & Boot first' });
    return;
  }
  const { guest, image } = booted;
  const rows: ModeRow[] = [];
  for (const name of DEFAULT_COMPARED) {
    post({ type: 'console', text: `minivisor: compare: ${guest.main} under ${COMPARED_MODES[name].name}...` });
    await yieldToPage();
    let output = '';
    const config = machineConfig(guest, image, 'bare', (byte) => (output += String.fromCharCode(byte)));
    rows.push(runMode(config, COMPARED_MODES[name], COMPARE_BUDGET, () => output));
  }
  const verdict = comparisonVerdict(rows);
  post({ type: 'comparison', table: comparisonTable(rows), verdict: `${verdict.text}${rows.some((r) => r.outcome.kind === 'limit') ? ` (each stopped at ${COMPARE_BUDGET.toLocaleString('en-US')} instructions)` : ''}` });
}

/** Lets the worker's messages in between two long runs. */
const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The machine for assembled sources: 32 MiB, the BIOS, the image as the boot floppy. */
function machineConfig(guest: GuestSources, image: Uint8Array, mode: MemoryMode, serial: (byte: number) => void): MachineConfig {
  return { memoryBytes: 32 << 20, mode, bios, disks: new Map([[0, DiskImage.from(image, 'floppy', guest.main)]]), exitPort: EXIT_PORT, serial };
}

async function boot(guest: GuestSources, mode: MemoryMode): Promise<void> {
  sources = guest;
  session?.machine.dispose();
  session = null;
  booted = null;
  serial = '';
  const result = assemble(guest.files[guest.main] ?? '', { fileName: guest.main, readFile: (path) => guest.files[withoutDotSlash(path)] });
  if (!result.ok) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    post({ type: 'diagnostics', text: errors.map((d) => formatDiagnostic(d)).join('\n'), line: errors[0]?.line ?? 0 });
    return;
  }
  post({ type: 'diagnostics', text: '', line: 0 });
  booted = { guest, image: result.bytes };
  const machine = new Machine(
    machineConfig(guest, result.bytes, mode, (byte) => {
      serial += String.fromCharCode(byte);
      serialTimer ??= setTimeout(flushSerial, 30);
    }),
  );
  const symbols = new SymbolTable();
  const labels = new Map([...result.symbols].filter(([name]) => result.labels.has(name)));
  const constants = new Map([...result.symbols].filter(([name]) => !result.labels.has(name)));
  symbols.add({ symbols: labels, constants, lineMap: result.lineMap });
  symbols.add({ ...biosSymbols, base: 0xf0000, prefix: 'bios.' });
  session = new DebugSession(machine, symbols, host);
  post({
    type: 'console',
    text: `minivisor: ${guest.main} assembled (${result.bytes.length} bytes), booting from a floppy ${mode === 'bare' ? 'on the bare machine' : `under the VMM, ${mode}`}. ` +
      `Stopped before the first instruction: Continue, Step, or type a command ('help').\n${session.location()}`,
  });
  await reportState();
}

function command(line: string): void {
  const s = session;
  if (s === null) {
    post({ type: 'console', text: 'no guest: Assemble & Boot first' });
    return;
  }
  queue = queue.then(async () => {
    // (An empty line repeats the last command, as at the REPL: stepi, x...)
    post({ type: 'console', text: `(minivisor) ${line}` });
    await s.execute(line);
    if (s === session) await reportState();
  });
}

/** The BIOS beside this script, and its symbols (written by tools/playground-build.ts). */
async function loadFirmware(): Promise<void> {
  const [image, map] = await Promise.all([fetch('bios.bin').then((r) => r.arrayBuffer()), fetch('bios-symbols.json').then((r) => r.json())]);
  bios = new Uint8Array(image);
  const m = map as { symbols: [string, number][]; constants: [string, number][]; lineMap: [number, SymbolMap['lineMap'] extends Map<number, infer V> ? V : never][] };
  biosSymbols = { symbols: new Map(m.symbols), constants: new Map(m.constants), lineMap: new Map(m.lineMap) };
}

const ready = loadFirmware();

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  await ready;
  const message = event.data;
  if (message.type === 'boot') {
    // A guest still running stops first: the new one boots after the command in progress.
    session?.requestStop('a new boot');
    queue = queue.then(() => boot(message.sources, message.mode));
  } else if (message.type === 'command') {
    command(message.line);
  } else if (message.type === 'interrupt') {
    session?.requestStop('the Stop button');
  } else if (message.type === 'toggleBreakpoint') {
    toggleBreakpoint(message.linear);
  } else if (message.type === 'walk') {
    toPanel(`translate ${message.address}`, (text) => post({ type: 'walk', text }));
  } else if (message.type === 'memory') {
    toPanel(`x/64xb ${message.address}`, (text) => post({ type: 'memory', text }));
  } else if (message.type === 'compare') {
    queue = queue.then(compare);
  } else if (message.type === 'type') {
    // At once, not after the command in progress: a running guest takes it as it comes.
    session?.machine.typeText(message.text);
  }
};

ready.then(() => post({ type: 'ready' }), (e) => post({ type: 'console', text: `minivisor: the worker could not load its BIOS: ${e}` }));
