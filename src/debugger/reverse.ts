/**
 * Reverse execution on the session's timeline (timeline.ts): going back is going to an earlier
 * position, and each command says which.
 *
 * - reverse-step: the point just before the last step: the previous instruction boundary, or
 *   the same count before an event that was delivered there. With several processors, before
 *   the focused processor's last instruction (the others rewound to where they were then).
 * - reverse-next: the same, but a step back that lands on a RET or IRET (the end of a call or
 *   handler that returned here) goes on back to where that call or event began, in this frame:
 *   the last write to the stack slot the return address is read from (the CALL's push), found
 *   as reverse-continue finds a watchpoint's.
 * - reverse-continue: the last breakpoint or watchpoint hit before now. History is replayed a
 *   snapshot's stretch at a time, newest first, with the points armed and their stops only
 *   noted; then the machine goes to the last one: a breakpoint's count, or for a watchpoint the
 *   count before the instruction that made the access, so that it stands at that instruction
 *   with memory as it was.
 */
import { ESP, SS, S_CPL, S_SEG_BASE, S_STACK32 } from '../cpu/state.ts';
import { guestStateHash } from '../machine/input-log.ts';
import { CommandError } from './command-error.ts';
import type { Point, Watchpoint } from './points.ts';
import { guestControlRegister } from './registers.ts';
import type { DebugSession } from './session.ts';
import type { Timeline } from './timeline.ts';

/** Where a reverse motion ended, and what to say about it. */
export interface ReverseStop {
  reasons: string[];
  hits: Point[];
  /** It could go no further back: the start of the history. */
  atStart: boolean;
}

/** Runs `work` with the debugger's hooks off (nothing stops a replay), and puts them back. */
function quietly<T>(session: DebugSession, work: () => T): T {
  const resume = session.debugger.suspend();
  try {
    return work();
  } finally {
    resume();
  }
}

/**
 * The latest position from `low` to `high` where `holds` is true of the machine there (true up to
 * some position, false after it), with the machine left there; null, and the machine at `low`,
 * when it holds nowhere. A bisection that tries `high` first, which is usually the answer. A
 * position inside a halted guest's jump in time lands past it: `holds` judges where it landed.
 */
function lastPositionWhere(timeline: Timeline, low: number, high: number, holds: () => boolean): number | null {
  timeline.goto(high);
  if (holds()) return timeline.now;
  timeline.goto(low);
  if (!holds()) return null;
  while (low < high) {
    const mid = Math.floor((low + high + 1) / 2);
    timeline.goto(mid);
    if (holds()) low = mid;
    else high = mid - 1;
  }
  timeline.goto(low);
  return timeline.now;
}

/** The state just before the last step (see the file's comment), with the hooks off. Returns false at the start of the history. */
function stepBack(session: DebugSession): boolean {
  const timeline = session.timeline;
  const now = timeline.now;
  const here = guestStateHash(session.machine);
  // The same count, before an event delivered here: the machine as a run to this count leaves it.
  timeline.goto(now);
  if (timeline.now === now && guestStateHash(session.machine) !== here) return true;
  if (now <= timeline.start) return false;
  if (session.machine.processors.length === 1) return lastPositionWhere(timeline, timeline.start, now - 1, () => timeline.now < now) !== null;
  // With several processors, the last instruction the focused one ran (the others' turns
  // interleave with its own): the latest position where it had run one fewer (its count only
  // grows with the position), the others as they were then.
  const cpu = session.cpu;
  const ran = () => cpu.instructions - cpu.idleInstructions;
  const ranNow = ran();
  return lastPositionWhere(timeline, timeline.start, now - 1, () => ran() < ranNow) !== null;
}

export function reverseStep(session: DebugSession, count: number): ReverseStop {
  return quietly(session, () => {
    for (let i = 0; i < count; i++) if (!stepBack(session)) return { reasons: [], hits: [], atStart: true };
    return { reasons: [], hits: [], atStart: false };
  });
}

export function reverseNext(session: DebugSession, count: number): ReverseStop {
  const atStart: ReverseStop = { reasons: [], hits: [], atStart: true };
  for (let i = 0; i < count; i++) {
    const frame = frameOf(session);
    const linear = session.linearEip;
    if (!quietly(session, () => stepBack(session))) return atStart;
    const [insn] = session.disassembleAt(session.linearEip, 1);
    if (insn === undefined || (insn.flow !== 'return' && insn.flow !== 'iret')) continue;
    // That was the end of a call or a handler that returned here: back to where it began, in this frame.
    const began = whereReturnedFrom(session) ?? quietly(session, () => scanBack(session, session.timeline.now, () => sameFrame(frameOf(session), frame)));
    if (began === null) return atStart;
    quietly(session, () => session.timeline.goto(began));
    // An interrupt taken right here, before the instruction: step back over the one before it too.
    if (session.linearEip === linear && !quietly(session, () => stepBack(session))) return atStart;
  }
  return { reasons: [], hits: [], atStart: false };
}

interface Frame {
  esp: number;
  cr3: number;
  cpl: number;
}

function frameOf(session: DebugSession): Frame {
  const cpu = session.cpu;
  return { esp: cpu.reg[ESP] >>> 0, cr3: guestControlRegister(session.processor, 3), cpl: cpu.st[S_CPL] };
}

function sameFrame(a: Frame, b: Frame): boolean {
  return a.esp === b.esp && a.cr3 === b.cr3 && a.cpl === b.cpl;
}

/**
 * Where the call, INT or event that the RET or IRET about to run returns from began: the last
 * write before now to the stack slot it reads its return address from (the CALL's push, the
 * event's frame), found as reverse-continue finds a watchpoint's, with a watchpoint of its own
 * and the user's points off meanwhile. Null when nothing wrote there (a frame built by hand).
 */
function whereReturnedFrom(session: DebugSession): number | null {
  const cpu = session.cpu;
  const stack32 = cpu.st[S_STACK32] !== 0;
  const slot = (cpu.st[S_SEG_BASE + SS] + (stack32 ? cpu.reg[ESP] : cpu.reg[ESP] & 0xffff)) >>> 0;
  const points = session.debugger.points;
  const wereOn = points.all.filter((p) => p.enabled).map((p) => p.id);
  points.setEnabled(wereOn, false);
  const own = points.add<Watchpoint>({ type: 'watch', enabled: true, access: 'store', address: slot, length: stack32 ? 4 : 2, physical: false, spec: '(reverse-next: the return address)' });
  try {
    return lastHit(session, session.timeline.now)?.at ?? null;
  } finally {
    points.delete([own.id]);
    points.setEnabled(wereOn, true);
  }
}

/**
 * The latest position before `limit` where `test` holds, found by replaying a window before it
 * an instruction at a time (a window eight times larger each time it finds none), or null.
 */
function scanBack(session: DebugSession, limit: number, test: () => boolean): number | null {
  const timeline = session.timeline;
  for (let window = 4096; ; window *= 8) {
    const from = Math.max(timeline.start, limit - window);
    timeline.goto(from);
    let found = test() ? timeline.now : null;
    timeline.replayUntil(limit, () => {
      if (timeline.now < limit && test()) found = timeline.now;
      return 'go';
    }, 1);
    if (found !== null) return found;
    if (from === timeline.start) return null;
  }
}

/** A hit found in the history: where to go back to, what it said, the points, and (a breakpoint) where it is. */
interface Hit {
  at: number;
  reasons: string[];
  hits: Point[];
  linear: number | null;
}

/**
 * Replays from where the machine is to `end` with the points armed, noting every hit before
 * `limit`; returns the last. Watched memory is run a block at a time (the hit's count is then
 * where its block ended, and its words may name another instruction) unless `exactly`.
 */
function lastHitBefore(session: DebugSession, end: number, limit: number, exactly: boolean): Hit | null {
  const timeline = session.timeline;
  const dbg = session.debugger;
  let best: Hit | null = null;
  const note = (stop: { hits: Point[]; reasons: string[]; watchedAt: number | null }, at: number) => {
    if (stop.hits.length === 0) return;
    const watched = stop.hits.some((p) => p.type === 'watch');
    const position = watched && stop.watchedAt !== null ? stop.watchedAt : at;
    if (position >= limit || (best !== null && position < best.at)) return;
    best = { at: position, reasons: stop.reasons.filter((r) => r !== ''), hits: stop.hits, linear: watched ? null : session.linearEip };
  };
  dbg.searching = true;
  dbg.searchingExactly = exactly;
  try {
    // A hit right where the stretch begins counts (a snapshot is often taken at a breakpoint's stop).
    dbg.prepare({ kind: 'continue' }, false);
    timeline.replayUntil(end, (outcome) => {
      if (outcome.kind === 'debug') {
        note(dbg.takeStop(), timeline.now);
        dbg.prepare({ kind: 'continue' });
      }
      return 'go';
    });
    note(dbg.collectPending(), timeline.now);
  } finally {
    dbg.searching = false;
    dbg.searchingExactly = false;
    dbg.takeStop();
  }
  return best;
}

/** How far before a watched access found a block at a time the exact search starts: a compiled loop stops after the round that made it. */
const EXACT_WINDOW = 4096;

/** The last breakpoint or watchpoint hit before `limit`: stretches between snapshots replayed newest first, until one holds a hit. */
function lastHit(session: DebugSession, limit: number): Hit | null {
  const timeline = session.timeline;
  let found: Hit | null = null;
  for (let end = limit; found === null && end > timeline.start; ) {
    const start = timeline.restoreBefore(end - 1);
    found = lastHitBefore(session, end, limit, false);
    if (found !== null && found.linear === null) {
      // A watched access: found to within a block; now exactly, one instruction at a time.
      const from = Math.max(start, found.at - EXACT_WINDOW);
      quietly(session, () => timeline.goto(from));
      found = lastHitBefore(session, Math.min(limit, found.at + EXACT_WINDOW), limit, true) ?? found;
    }
    end = start;
  }
  return found;
}

/** reverse-continue: back to the last breakpoint or watchpoint hit (see the file's comment). */
export function reverseContinue(session: DebugSession): ReverseStop {
  const timeline = session.timeline;
  const found = lastHit(session, timeline.now);
  if (found === null) {
    quietly(session, () => timeline.goto(timeline.start));
    return { reasons: [], hits: [], atStart: true };
  }
  const hit: Hit = found;
  quietly(session, () => timeline.goto(hit.at));
  // A breakpoint at a handler's first instruction is hit after an event's delivery, at the same
  // count: a run to that count stops before it. One step delivers it (and retires nothing).
  if (hit.linear !== null && session.linearEip !== hit.linear) deliverPendingEvent(session);
  const watched = hit.hits.some((p) => p.type === 'watch');
  const reasons = watched ? hit.reasons.map((r) => r.replace(/ (written|read) by/, ' $1 (going back: before that instruction ran) by')) : hit.reasons;
  return { reasons, hits: hit.hits, atStart: false };
}

/** One step of the debugger's own, with its stop only noted: an event due here is delivered, and the step ends at its handler. */
function deliverPendingEvent(session: DebugSession): void {
  const dbg = session.debugger;
  dbg.searching = true;
  try {
    dbg.prepare({ kind: 'step', count: 1 });
    session.timeline.run(1, {});
  } finally {
    dbg.searching = false;
    dbg.takeStop();
  }
}

/** goto N: the machine at position N (within its history). */
export function gotoPosition(session: DebugSession, target: number): number {
  const timeline = session.timeline;
  if (target < timeline.start || target > timeline.frontier) {
    throw new CommandError(`instruction ${target} is outside the history: it runs from ${timeline.start} to ${timeline.frontier} (info history)`);
  }
  return quietly(session, () => timeline.goto(target));
}
