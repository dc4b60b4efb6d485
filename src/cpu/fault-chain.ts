/**
 * The chain of events of the last delivery: the event, then each exception that delivering
 * it raised (a #GP on its gate, a #DF, the exception that made the #DF a triple fault). When a
 * guest shuts down, this is what says why: three different mistakes that end in the same
 * "triple fault" begin differently. Kept by deliverPendingEvent in slots made once, so
 * recording costs no allocation.
 */
import type { EventKind } from './interrupts.ts';

/** One event of a chain, with the state it was raised in. */
export interface ChainEvent {
  vector: number;
  kind: EventKind;
  /** -1 when the event has none. */
  errorCode: number;
  cs: number;
  /** EIP of the instruction that raised it (where a fault restarts), and its linear address. */
  eip: number;
  linear: number;
  cpl: number;
  cr2: number;
  /** The CR3 the CPU walked (under shadow paging, the shadow's root). */
  cr3: number;
}

/** A delivery raises at most: the event, one exception, #DF, and the exception that shuts down. */
const MAX_EVENTS = 4;

export class FaultChain {
  private readonly slots: ChainEvent[] = Array.from({ length: MAX_EVENTS }, () => ({ vector: 0, kind: 0 as EventKind, errorCode: -1, cs: 0, eip: 0, linear: 0, cpl: 0, cr2: 0, cr3: 0 }));
  /** Events recorded in the current chain. */
  length = 0;
  /** True when the chain ended in a triple fault (shutdown). */
  shutdown = false;

  begin(): void {
    this.length = 0;
    this.shutdown = false;
  }

  record(vector: number, kind: EventKind, errorCode: number, cs: number, csBase: number, eip: number, cpl: number, cr2: number, cr3: number): void {
    if (this.length === MAX_EVENTS) return;
    const e = this.slots[this.length++];
    e.vector = vector;
    e.kind = kind;
    e.errorCode = errorCode;
    e.cs = cs;
    e.eip = eip >>> 0;
    e.linear = (csBase + eip) >>> 0;
    e.cpl = cpl;
    e.cr2 = cr2;
    e.cr3 = cr3;
  }

  /** The event that began the chain (the slot itself: read it, do not keep it). */
  get first(): ChainEvent | undefined {
    return this.length > 0 ? this.slots[0] : undefined;
  }

  /** A copy of the chain's events, for reports. */
  get events(): ChainEvent[] {
    return this.slots.slice(0, this.length).map((e) => ({ ...e }));
  }
}
