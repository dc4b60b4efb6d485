/**
 * The order in which a run took things from outside, for giving them back exactly (record and
 * replay, src/machine/input-log.ts; the debugger's history, src/debugger/timeline.ts).
 *
 * Devices move on as a run of the machine begins, so what matters is not only the instruction
 * count of an entry but which runs came before and after it. Each entry is given back at its
 * count after the run that ended there, or, when it is `chained`, right after the entry before
 * it with no run between: a wait the user took moves the count, and what was typed (or set)
 * during it is at the new count, before the next run.
 */
export interface SequencedEntry {
  at: number;
  /** It came right after the entry before it, with no run of the machine between. */
  chained: boolean;
}

/** An entry before it is recorded: the sequence says whether it is chained. */
export type Unchained<E> = E extends unknown ? Omit<E, 'chained'> : never;

export class EntrySequence<E extends SequencedEntry> {
  /** The next entry to give back. */
  cursor = 0;
  /** A run came after the last entry given back or recorded (at the start too: nothing to follow). */
  ranSinceEntry = true;

  constructor(readonly entries: E[] = []) {}

  /** Records an entry as it happens (chained when no run came since the last). */
  record(entry: Unchained<E>): E {
    const full = { ...entry, chained: !this.ranSinceEntry } as E;
    this.entries.push(full);
    this.cursor = this.entries.length;
    this.ranSinceEntry = false;
    return full;
  }

  /** A run of the machine ended. */
  ran(): void {
    this.ranSinceEntry = true;
  }

  /**
   * Gives back, one by one through `give`, the entries due at the count `now()` tells (which a
   * wait given back moves). One whose count the machine has gone past is given too (the caller
   * learns through `late`): the run went another way.
   */
  giveDue(now: () => number, give: (entry: E) => void, late: (entry: E) => void = () => {}): void {
    for (let e = this.entries[this.cursor]; e !== undefined && e.at <= now() && e.chained === !this.ranSinceEntry; e = this.entries[this.cursor]) {
      this.cursor++;
      this.ranSinceEntry = false;
      if (e.at < now()) late(e);
      give(e);
    }
  }

  /** The count of the next entry past `now`, or Infinity (where the next run must stop). */
  nextAfter(now: number): number {
    for (let i = this.cursor; i < this.entries.length; i++) if (this.entries[i].at > now) return this.entries[i].at;
    return Infinity;
  }

  /** Whether the next entry is due at `now` as things stand (giveDue would give it). */
  hasAt(now: number): boolean {
    const e = this.entries[this.cursor];
    return e !== undefined && e.at === now && e.chained === !this.ranSinceEntry;
  }

  /** Entries still to give back. */
  get pending(): boolean {
    return this.cursor < this.entries.length;
  }
}
