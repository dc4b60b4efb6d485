/** Going back: reverse-step, reverse-next, reverse-continue, goto; snapshots by name; info history and snapshots. */
import { hex } from '../../cpu/physical-memory.ts';
import { S_EIP } from '../../cpu/state.ts';
import { loadSnapshot, snapshotBytes, takeSnapshot } from '../../machine/snapshot.ts';
import { CommandError } from '../command-error.ts';
import { gotoPosition, reverseContinue, reverseNext, reverseStep, type ReverseStop } from '../reverse.ts';
import type { DebugSession } from '../session.ts';
import { countArgument, words, type DebugCommand } from './command.ts';
import type { InfoTopic } from './state.ts';

/** The REPL's reverse motions are refused while gdb drives the guest, as its forward ones are. */
function checkDriver(session: DebugSession): void {
  if (session.driver !== null) throw new CommandError(`${session.driver} is attached and runs the guest: go back from ${session.driver} (reverse-stepi, reverse-continue) or detach it there`);
}

function count(session: DebugSession, args: string): number {
  return args.trim() === '' ? 1 : countArgument(session, args, 100_000);
}

/** Says where a reverse motion left the guest. */
export function reportReverse(session: DebugSession, stop: ReverseStop, silent = false): void {
  const lines = stop.atStart ? [`No more reverse-execution history: this is where the history begins (instruction ${session.timeline.start}).`] : [];
  session.reportJump(stop, lines, silent);
}

const HISTORY_HELP =
  'The debugger keeps a history as the guest runs: snapshots of the whole machine every few\n' +
  "million instructions, and what came from outside (keys, waits, 'set'). Going back loads the\n" +
  'snapshot before the point and replays the run to it, so every register, byte and device is\n' +
  'as it was. Going on from there replays the same run (the same keys at the same instructions)\n' +
  "until something new happens (a key typed, a 'set'), which starts a new future. 'info history'.";

export const historyCommands: DebugCommand[] = [
  {
    name: 'reverse-step',
    aliases: ['rs', 'reverse-stepi', 'rsi'],
    usage: 'reverse-step [N]',
    summary: 'go back N instructions (default 1): to where the guest was before the last step',
    help: `Back over the instruction before this one, or over an interrupt taken here (to before it was).\n\n${HISTORY_HELP}`,
    repeats: true,
    run(session, args) {
      checkDriver(session);
      reportReverse(session, reverseStep(session, count(session, args)));
    },
  },
  {
    name: 'reverse-next',
    aliases: ['rn', 'reverse-nexti', 'rni'],
    usage: 'reverse-next [N]',
    summary: 'go back N instructions, over calls and interrupts whole',
    help: `Back over the instruction before this one; when that is the RET or IRET of a call or handler\nthat returned here, back to before the CALL, INT or interrupt began, in this frame.\n\n${HISTORY_HELP}`,
    repeats: true,
    run(session, args) {
      checkDriver(session);
      reportReverse(session, reverseNext(session, count(session, args)));
    },
  },
  {
    name: 'reverse-continue',
    aliases: ['rc'],
    usage: 'reverse-continue',
    summary: 'go back to the last breakpoint or watchpoint hit',
    help:
      'A breakpoint: the guest stands at it, as a stop there left it. A watchpoint: the guest stands\n' +
      'at the instruction that wrote (or read) the watched memory, before it ran, with the old value.\n' +
      `With none hit since the history began, back to its beginning.\n\n${HISTORY_HELP}`,
    run(session, args) {
      checkDriver(session);
      if (args.trim() !== '') throw new CommandError(`reverse-continue takes no arguments ('${args.trim()}' was given)`);
      reportReverse(session, reverseContinue(session));
    },
  },
  {
    name: 'goto',
    usage: 'goto N | start | end',
    summary: 'go to instruction N of the history (its count: info history), its start or its end',
    help: HISTORY_HELP,
    run(session, args) {
      checkDriver(session);
      const text = args.trim();
      if (text === '') throw new CommandError('goto where? goto N (an instruction count), goto start or goto end');
      const timeline = session.timeline;
      // (Counts pass 2^32 in a long history: a plain number is read as it is, past the expressions' 32 bits.)
      const plain = /^(?:\d+|0x[0-9a-f]+)$/i.test(text) ? Number(text) : null;
      const target = text === 'start' ? timeline.start : text === 'end' ? timeline.frontier : plain ?? session.evaluate(text) >>> 0;
      const reached = gotoPosition(session, target);
      const note = reached !== target ? [`(instruction ${target} falls where the guest was halted, waiting: it is at ${reached}, the first point after.)`] : [];
      session.reportJump({ reasons: [], hits: [] }, note);
    },
  },
  {
    name: 'snapshot',
    aliases: ['snap'],
    usage: 'snapshot save|load|delete NAME',
    summary: 'save the whole machine under NAME, or go back to it (info snapshots lists them)',
    help:
      'save keeps the machine as it is now in memory: processors, devices, the VMM, memory, disks.\n' +
      "load puts the machine back as it was then; the history starts again there (what came\n" +
      "before is another past). To keep a machine in a file, 'minivisor run ... --save-on-exit FILE'\n" +
      'and go on from it with --load-snapshot FILE.',
    run(session, args) {
      const [verb, name, ...rest] = words(args);
      if (verb === undefined || name === undefined || rest.length > 0 || !['save', 'load', 'delete'].includes(verb)) {
        throw new CommandError('write snapshot save NAME, snapshot load NAME or snapshot delete NAME');
      }
      const snapshots = session.namedSnapshots;
      if (verb === 'save') {
        const snap = takeSnapshot(session.machine);
        const replaced = snapshots.has(name);
        snapshots.set(name, snap);
        return `Snapshot '${name}'${replaced ? ' replaced' : ''}: the machine at instruction ${snap.instructions}, ${session.location().replace(/^=> /, '')} (${(snapshotBytes(snap) / 1024).toFixed(0)} KiB)`;
      }
      const snap = snapshots.get(name);
      if (snap === undefined) throw new CommandError(`no snapshot '${name}'${snapshots.size > 0 ? `: there are ${[...snapshots.keys()].join(', ')}` : " yet: 'snapshot save NAME' takes one"}`);
      if (verb === 'delete') {
        snapshots.delete(name);
        return `Snapshot '${name}' deleted.`;
      }
      checkDriver(session);
      loadSnapshot(session.machine, snap);
      session.restartHistory();
      session.reportJump({ reasons: [], hits: [] }, [`Snapshot '${name}' loaded: the machine at instruction ${snap.instructions}, as it was saved (the history starts again here).`]);
    },
  },
];

export const historyTopics: InfoTopic[] = [
  {
    name: 'history',
    aliases: ['record'],
    usage: 'info history',
    summary: 'how far back the guest can go: the history, its snapshots, the inputs it replays',
    run: (session) => session.timeline.describe(),
  },
  {
    name: 'snapshots',
    aliases: ['snapshot'],
    usage: 'info snapshots',
    summary: "the snapshots saved by name ('snapshot save NAME')",
    run(session) {
      const snapshots = [...session.namedSnapshots];
      if (snapshots.length === 0) return "No snapshots: 'snapshot save NAME' takes one.";
      const rows = snapshots.map(([name, s]) => `  ${name.padEnd(16)} instruction ${String(s.instructions).padEnd(12)} ${(snapshotBytes(s) / 1024).toFixed(0).padStart(6)} KiB`);
      return [`${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'} (the machine is at instruction ${session.machine.instructions}, EIP ${hex(session.cpu.st[S_EIP] >>> 0)}):`, ...rows].join('\n');
    },
  },
];
