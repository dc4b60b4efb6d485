/**
 * The debugger's history: snapshots of the machine taken as it runs, and a journal of what it
 * took from outside meanwhile (keys typed, time a halted guest waited, the user's own changes to
 * registers and memory), each at its instruction count. Any earlier point is then a snapshot
 * loaded and the run replayed from it to that count (`goto`), which is what reverse execution
 * stands on: a run is a function of its inputs (virtual time), so the replay is the run.
 *
 * A position is Machine.instructions: instructions retired by every processor, idle time
 * included. The journal keeps the order in which runs and entries came: an entry is given back
 * at its count, after the run that ended there, or right after the entry before it when no run
 * came between (a wait the user took moves the count; what was typed or set then is at the
 * new count, before the next run: src/machine/entry-sequence.ts). Snapshots are taken after
 * runs, each with its place in the journal. Going back and then on replays the journal's inputs
 * where they came, without printing again what the guest printed then (the user saw it once);
 * something new from outside while back in history (a key, a `set`) starts a new future there,
 * and the old one is forgotten.
 */
import type { Machine, MachineInput, RunOptions, RunOutcome } from '../machine/machine.ts';
import { loadSnapshot, takeSnapshot, type MachineSnapshot } from '../machine/snapshot.ts';
import type { PageMemo } from '../cpu/state-graph.ts';
import { EntrySequence, type SequencedEntry, type Unchained } from '../machine/entry-sequence.ts';

/** What the journal holds at a position (`chained`: see EntrySequence). */
type Entry = SequencedEntry & (
  | { kind: 'input'; input: MachineInput }
  /** A change the user made (set, gdb's P/M packets), done again when replayed. */
  | { kind: 'edit'; apply: () => void; what: string }
  /** From here on, a halted guest waits for the user (the run's waitForInput), or does not. */
  | { kind: 'wait'; wait: boolean }
);

interface Snapshot {
  at: number;
  snap: MachineSnapshot;
  /** The journal's entries before it (those after came after it, at its count or later). */
  cursor: number;
  /** Whether a halted guest waited for input at that point (the journal's last 'wait' before it). */
  wait: boolean;
}

/** Instructions between snapshots at first; doubled as the history grows past MAX_SNAPSHOTS or snapshots cost too much. */
const FIRST_INTERVAL = 1 << 22;
const MAX_SNAPSHOTS = 64;

export class Timeline {
  private readonly snapshots: Snapshot[] = [];
  /** The journal, and where the machine is in it. */
  private readonly journal = new EntrySequence<Entry>();
  /** Giving the journal back: what the machine hears then is not new. */
  private replaying = false;
  /** The furthest position the machine has been at. */
  frontier: number;
  /** Whether a halted guest waits for input (the last 'wait' entry). */
  private wait = false;
  interval = FIRST_INTERVAL;
  /** Whether the interval grows when snapshots cost too much (a test sets it false to keep many). */
  adapts = true;
  /** Snapshots taken, and the host time they took (info history; npm run bench). */
  snapshotCount = 0;
  snapshotMs = 0;
  private readonly memo: PageMemo = new WeakMap();
  /** Host time spent taking snapshots, and since the last, to keep their cost a small part of the run's. */
  private lastSnapshotTime = performance.now();

  private readonly observer = (input: MachineInput) => {
    if (this.replaying) return;
    this.append({ at: input.at, kind: 'input', input });
    // (A wait the user took moved the machine on: the history's end is where it is now.)
    if (this.now > this.frontier) this.frontier = this.now;
  };

  constructor(readonly machine: Machine) {
    this.frontier = machine.instructions;
    machine.inputObservers.push(this.observer);
    this.takeSnapshot();
  }

  /** Done with this history (a new one starts): the machine's inputs go to it no more. */
  dispose(): void {
    const i = this.machine.inputObservers.indexOf(this.observer);
    if (i >= 0) this.machine.inputObservers.splice(i, 1);
  }

  /** Where the machine is. */
  get now(): number {
    return this.machine.instructions;
  }

  /** The earliest position that can be gone back to. */
  get start(): number {
    return this.snapshots[0].at;
  }

  /** Whether the machine is back in its history (what lies ahead was run before and is replayed). */
  get inHistory(): boolean {
    return this.journal.pending || this.now < this.frontier;
  }

  /** Whether the journal has something at the machine's position still to give (a halted guest then does not wait for the user). */
  get inputDue(): boolean {
    return this.journal.hasAt(this.now);
  }

  /**
   * Runs the machine for `budget` instructions (or to position `end`), giving back what the
   * journal has where the machine is in its history, and taking snapshots as they fall due.
   * What is due first may move the machine (a wait given back): the budget counts from there.
   */
  run(budget: number, options: RunOptions = {}, end?: number): RunOutcome {
    this.applyDue();
    const until = end ?? this.now + budget;
    if (this.now >= until) return { kind: 'limit' };
    let slice = until - this.now;
    const inHistory = this.inHistory;
    if (inHistory) {
      slice = Math.min(slice, this.journal.nextAfter(this.now) - this.now);
      // What the guest printed up to the end of the history was printed when it first ran.
      if (this.now < this.frontier) slice = Math.min(slice, this.frontier - this.now);
    } else if ((options.waitForInput ?? false) !== this.wait) {
      this.wait = options.waitForInput ?? false;
      this.append({ at: this.now, kind: 'wait', wait: this.wait });
    }
    this.machine.outputMuted = inHistory;
    let outcome: RunOutcome;
    try {
      outcome = this.machine.run(slice, { waitForInput: this.wait });
    } finally {
      this.machine.outputMuted = false;
    }
    this.journal.ran();
    if (this.now > this.frontier) this.frontier = this.now;
    if (!this.inHistory && this.now - this.snapshots[this.snapshots.length - 1].at >= this.interval) this.takeSnapshot();
    return outcome;
  }

  /** A change the user makes while the guest is stopped: made now, and again whenever a replay passes here. */
  edit(apply: () => void, what: string): void {
    this.append({ at: this.now, kind: 'edit', apply, what });
    this.replaying = true;
    try {
      apply();
    } finally {
      this.replaying = false;
    }
  }

  /**
   * Puts the machine at `target` (a position from `start` on): the last snapshot at or before it
   * loaded, then the run replayed to it. The caller keeps the debugger out of the way (nothing
   * may stop the replay). Returns where the machine ended: past `target` when a halted guest's
   * jump in time went over it.
   */
  goto(target: number): number {
    this.restoreBefore(target);
    this.replayUntil(target);
    // At the end of the history: as the session left it, what the user typed or set there included.
    if (this.now === this.frontier) this.applyDue();
    return this.now;
  }

  /** Loads the last snapshot at or before `position`; returns its position. */
  restoreBefore(position: number): number {
    let i = this.snapshots.length - 1;
    while (i > 0 && this.snapshots[i].at > position) i--;
    const s = this.snapshots[i];
    loadSnapshot(this.machine, s.snap);
    this.wait = s.wait;
    this.journal.cursor = s.cursor;
    this.journal.ran(); // (snapshots are taken after a run)
    return s.at;
  }

  /**
   * Replays toward `end`, `step` instructions at most at a time, telling `each` how every run
   * ended ('stop' ends the replay there). It ends at `end`, or where the guest ended, or halted
   * waiting for an input the journal does not have: where the run ended before.
   */
  replayUntil(end: number, each: (outcome: RunOutcome) => 'go' | 'stop' = () => 'go', step = Infinity): void {
    // (Stops of the debugger's that make no progress, many in a row, would never end: it gives up.)
    for (let stalls = 0; this.now < end && stalls < 64; ) {
      const before = this.now;
      const outcome = this.run(0, { waitForInput: this.wait }, Math.min(end, this.now + step));
      if (each(outcome) === 'stop' || this.now >= end) return;
      stalls = this.now === before && !this.inputDue ? stalls + 1 : 0;
      if (outcome.kind === 'idle' && this.inputDue) continue;
      if (outcome.kind === 'idle') return;
      if (outcome.kind !== 'limit' && outcome.kind !== 'debug') return; // the guest ended here, as it did before
      if (outcome.kind === 'limit' && stalls > 0) return;
    }
  }

  /** Snapshots kept, their positions and the memory they hold (pages shared between them counted once). */
  describe(): string {
    const shared = new Set<Uint8Array>();
    let bytes = 0;
    for (const s of this.snapshots) {
      for (const p of s.snap.graph.pages) {
        if (shared.has(p)) continue;
        shared.add(p);
        bytes += p.length;
      }
    }
    const inputs = this.journal.entries.filter((e) => e.kind === 'input').length;
    const edits = this.journal.entries.filter((e) => e.kind === 'edit').length;
    return [
      `History: instructions ${this.start} to ${this.frontier}; the machine is at ${this.now}${this.inHistory ? ' (back in its history: going on replays what ran)' : ' (at its end: going on runs anew)'}.`,
      `  (Counts are virtual time: instructions run, ${this.machine.instructionsRun} so far, and time passed halted counted as instructions.)`,
      `  ${this.snapshots.length} snapshot${this.snapshots.length === 1 ? '' : 's'} kept, one every ${this.interval} instructions or more, holding ${(bytes / 1048576).toFixed(1)} MiB of pages (${this.snapshotCount} taken in ${this.snapshotMs.toFixed(0)} ms);`,
      `  ${inputs} input${inputs === 1 ? '' : 's'} from outside (keys, waits) and ${edits} change${edits === 1 ? '' : 's'} made by hand in the journal.`,
      '  reverse-step, reverse-next, reverse-continue and goto N go back; step, next and continue go on.',
    ].join('\n');
  }

  // ---------------------------------------------------------------- the journal

  /** Gives back what is due where the machine is (see EntrySequence). */
  private applyDue(): void {
    this.replaying = true;
    try {
      this.journal.giveDue(
        () => this.now,
        (e) => {
          if (e.kind === 'wait') this.wait = e.wait;
          else if (e.kind === 'edit') e.apply();
          else this.machine.applyInput(e.input);
        },
      );
    } finally {
      this.replaying = false;
    }
  }

  /** Something new at `entry.at`: what the journal had from there on is a future that will not happen now. */
  private append(entry: Unchained<Entry>): void {
    if (this.inHistory) {
      const cursor = this.journal.cursor;
      this.journal.entries.length = cursor;
      while (this.snapshots.length > 1) {
        const last = this.snapshots[this.snapshots.length - 1];
        if (last.at < entry.at || (last.at === entry.at && last.cursor <= cursor)) break;
        this.snapshots.pop();
      }
      this.frontier = Math.max(entry.at, this.now);
    }
    this.journal.record(entry);
  }

  private takeSnapshot(): void {
    const began = performance.now();
    const snap = takeSnapshot(this.machine, this.memo);
    this.snapshots.push({ at: this.now, snap, cursor: this.journal.entries.length, wait: this.wait });
    const ended = performance.now();
    this.snapshotCount++;
    this.snapshotMs += ended - began;
    // Snapshots cost at most a twentieth of the running time: past that, fewer of them.
    if (this.adapts && (ended - began) * 20 > began - this.lastSnapshotTime) this.interval *= 2;
    this.lastSnapshotTime = ended;
    if (this.snapshots.length > MAX_SNAPSHOTS) {
      // Every other one goes (never the first): the history keeps its length at half the density.
      for (let i = this.snapshots.length - 2; i >= 1; i -= 2) this.snapshots.splice(i, 1);
      this.interval *= 2;
    }
  }
}
