/**
 * The debugger's core: breakpoints, watchpoints and catchpoints, how the guest goes on when
 * resumed (continue, step, next, finish, until), and the log of VM exits. It is the CPU's
 * DebugHook: the run loop asks it at each block boundary (each instruction, while it asks for
 * single instructions) whether to run on or stop, and that answer, `atBoundary`, is the one
 * place where every stop is decided. Everything else here only notes what happened (an event
 * delivered, a watched byte touched, a VM exit) for the next boundary to weigh.
 *
 * Exactness: a block that holds a breakpoint runs one instruction at a time, and so does
 * everything while stepping, finishing or watching memory, so a stop lands on the very
 * instruction, compiled or not. Changes of ring, CR3 and mode end a block, so a check at
 * block boundaries sees each at the first instruction after it.
 */
import { disassemble } from '../asm/disassembler.ts';
import { ATTN_DEBUGGER, type Cpu } from '../cpu/cpu.ts';
import type { DecodedBlock } from '../cpu/block-cache.ts';
import { HOOK_RUN, HOOK_SINGLE, HOOK_STOP, type DebugHook } from '../cpu/debug-hook.ts';
import { formatException } from '../cpu/exceptions.ts';
import { EventKind } from '../cpu/interrupts.ts';
import { execCallE, execCallFar, execCallRel, execIret, execRetFar, execRetNear } from '../cpu/ops/control.ts';
import { hex } from '../cpu/physical-memory.ts';
import { CS, ESP, S_CODE32, S_CPL, S_CR2, S_EIP, S_INSN_EIP, S_SEG_BASE, S_SEG_SEL } from '../cpu/state.ts';
import type { Machine } from '../machine/machine.ts';
import type { Processor } from '../machine/processor.ts';
import { describeExit, EXIT_REASONS, type VmExit } from '../vmm/exit-info.ts';
import { summarizeFaultChain } from './fault-report.ts';
import { GuestMemory } from './guest-memory.ts';
import { PointTable, type Breakpoint, type Catchpoint, type Point, type Watchpoint } from './points.ts';
import { guestControlRegister, modeName } from './registers.ts';

/** A VM exit as the log keeps it: a copy, with when and where it happened. */
export interface ExitRecord {
  exit: VmExit;
  /** Instructions retired when it happened (by its processor). */
  retired: number;
  cs: number;
  /** The processor whose vCPU exited. */
  cpu: number;
}

/** What the debugger keeps for a processor other than the focus: only breakpoints, watchpoints and catches stop it. */
interface OtherProcessor {
  /** A breakpoint here is not hit again until the processor has moved on (where it was at the resume). */
  skipLinear: number;
  lastRetired: number;
  /** Its memory, through its own page tables (a physical breakpoint's address). */
  memory: GuestMemory;
}

/** How the guest goes on at the next resume. */
export type Motion =
  | { kind: 'continue' }
  /** `count` instructions (an iteration of a REP string instruction counts as one, as TF does), or events delivered. */
  | { kind: 'step'; count: number }
  /** `next` over a CALL, INT or REP: on to the instruction after it, in this frame (same CR3, the stack no deeper). */
  | { kind: 'return-point'; linear: number; cr3: number; esp: number }
  /** `finish`: until the current procedure or handler returns. */
  | { kind: 'finish' }
  /** `until ADDR`: to ADDR (or a breakpoint). */
  | { kind: 'until'; linear: number };

/** What the instruction about to run does to the call depth `finish` counts. */
type Transfer = 'call' | 'return' | 'iret' | 'other';

/** The last exits kept for `exits`. */
const EXIT_LOG_SIZE = 4096;

export class Debugger implements DebugHook {
  readonly points = new PointTable();
  readonly exitLog: ExitRecord[] = [];
  /** VM exits seen since the debugger was attached. */
  exitsSeen = 0;
  private readonly memory: GuestMemory;
  /** Why the guest stopped: filled while it runs, taken by the session at the stop. */
  private reasons: string[] = [];
  /** Events worth saying when a step stops (an interrupt taken on the way). */
  private notes: string[] = [];
  /** The breakpoints and watchpoints that stopped the guest (for the gdb stub's stop reply). */
  private hits: Point[] = [];
  private motion: Motion = { kind: 'continue' };
  private stepsLeft = 0;
  /** Progress counters at the last boundary: instructions retired, events delivered, REP chunks run. */
  private lastRetired = 0;
  private lastEvents = 0;
  private lastPartial = 0;
  private events = 0;
  /** A breakpoint here is not hit again until the guest has moved on (the resume point). */
  private skipLinear = -1;
  /** What the catches of ring, CR3 and mode changes compare against. */
  private seenCpl = 0;
  private seenCr3Loads = 0;
  private seenCr3 = 0;
  private seenMode = '';
  /** The points as the checks want them, rebuilt when the table changes. */
  private version = -1;
  private linearBreaks: Breakpoint[] = [];
  private physicalBreaks: Breakpoint[] = [];
  private watches: Watchpoint[] = [];
  private catches: Catchpoint[] = [];
  private catchesState = false;
  /** Watched accesses of the instruction that just ran, with the bytes before a write, where the instruction is, and which CPU ran it. */
  private watchHits: { point: Watchpoint; write: boolean; before: (number | null)[]; where: string; linear: number; cpu: Cpu; at: number }[] = [];
  /** Where the first access a stop reports happened: the machine's position before the instruction that made it (for reverse-continue). */
  private watchedAt: number | null = null;
  /**
   * Replaying history to look for the last hit (reverse-continue): stops are only noted, so hit
   * counts stay, temporary breakpoints stay, and exits are not logged a second time.
   */
  searching = false;
  /** While searching: watched memory one instruction at a time after all, to learn where exactly an access was. */
  searchingExactly = false;
  /** The hooks are off (a replay that nothing may stop): exits are not logged either. */
  private suspended = false;
  /**
   * The processor the motions (step, next, finish, until) follow and the commands show. The
   * others run on as the machine runs them, stopped only by breakpoints, watchpoints and catches.
   */
  focus: Processor;
  private readonly others = new Map<Cpu, OtherProcessor>();
  /** The processor whose stop ended the run when it was not the focus: the session switches to it. */
  private switchedTo: Processor | null = null;
  /** `finish`: the call depth, the context it counts in, and the instruction last seen about to run. */
  private depth = 0;
  private finishCpl = 0;
  private finishCr3 = 0;
  private previousTransfer: Transfer = 'other';
  private previousInStartContext = false;
  private previousEip = -1;
  private previousFaulted = false;
  /**
   * Set when the debugger stopped before a triple fault, with where the chain began: resumed
   * from there, the same chain is let happen.
   */
  private lettingTripleFault = false;
  private tripleFaultLinear = -1;

  constructor(
    readonly machine: Machine,
    /** Evaluates a breakpoint's condition: true to stop (throws with a message when it cannot be evaluated). */
    private readonly condition: (expression: string) => boolean,
    /** `<label+0x4>` for a linear address, or ''. */
    private readonly describe: (linear: number) => string,
  ) {
    this.focus = machine.processors[0];
    this.memory = new GuestMemory(machine, () => this.focus);
    for (const p of machine.processors.slice(1)) this.others.set(p.cpu, { skipLinear: -1, lastRetired: 0, memory: new GuestMemory(machine, () => p) });
  }

  /** Hooks into every processor's CPU and VMM exits. */
  attach(): void {
    for (const p of this.machine.processors) {
      p.cpu.debugHook = this;
      p.vcpu?.exitObservers.push((exit) => this.onExit(exit, p));
    }
    this.snapshot(this.focus.cpu);
  }

  /**
   * Takes the hooks off every processor, for a replay nothing may stop (reverse execution's
   * goto); returns what puts them back. The TLBs are flushed then, so watched pages leave the
   * fast path again.
   */
  suspend(): () => void {
    this.suspended = true;
    for (const p of this.machine.processors) p.cpu.debugHook = null;
    return () => {
      this.suspended = false;
      this.watchHits = [];
      for (const p of this.machine.processors) {
        p.cpu.debugHook = this;
        p.cpu.flushTlb();
      }
    };
  }

  /** What watched accesses noted and no boundary has reported yet (a replay that ended right after one): reported now. */
  collectPending(): { hits: Point[]; reasons: string[]; watchedAt: number | null } {
    if (this.watchHits.length > 0) this.reportWatchHits();
    return this.takeStop();
  }

  /** Makes another processor the focus (the session's `cpu N`, or a stop on it). */
  setFocus(p: Processor): void {
    if (p === this.focus) return;
    const old = this.focus;
    this.others.delete(p.cpu);
    this.others.set(old.cpu, { skipLinear: -1, lastRetired: 0, memory: new GuestMemory(this.machine, () => old) });
    this.focus = p;
    this.snapshot(p.cpu);
  }

  private processorOf(cpu: Cpu): Processor {
    return this.machine.processors.find((p) => p.cpu === cpu) ?? this.focus;
  }

  /** A stop reason comes from `cpu`: when it is not the focus, the session will switch to it. */
  private stopsOn(cpu: Cpu): void {
    if (cpu !== this.focus.cpu && this.switchedTo === null) this.switchedTo = this.processorOf(cpu);
  }

  // ---------------------------------------------------------------- resuming

  /**
   * Sets how the guest goes on, from where it stands now. A breakpoint where it stands is not
   * hit again until it has moved on (it stopped there), unless `skipHere` is false.
   */
  prepare(motion: Motion, skipHere = true): void {
    const cpu = this.focus.cpu;
    this.motion = motion;
    this.stepsLeft = motion.kind === 'step' ? motion.count : 0;
    this.reasons = [];
    this.notes = [];
    this.hits = [];
    this.watchHits = [];
    this.skipLinear = skipHere ? this.linearOf(cpu) : -1;
    // Points change while the guest is stopped; pages watched now must leave the TLB's fast
    // path, and pages no longer watched may return to it.
    if (this.compile()) for (const p of this.machine.processors) p.cpu.flushTlb();
    // A step goes one iteration of a REP string instruction at a time, as the CPU's own
    // single-step trap does; so does everything while memory is watched, so that a watchpoint
    // stops right after the iteration that touched it.
    cpu.repChunk = motion.kind === 'step' || this.watches.length > 0 ? 1 : 4096;
    for (const [other, o] of this.others) {
      other.repChunk = this.watches.length > 0 ? 1 : 4096;
      o.skipLinear = skipHere ? this.linearOf(other) : -1;
      o.lastRetired = other.retired;
    }
    this.switchedTo = null;
    if (motion.kind === 'finish') {
      this.depth = 0;
      this.finishCpl = cpu.st[S_CPL];
      this.finishCr3 = guestControlRegister(this.focus, 3);
      this.previousTransfer = 'other';
      this.previousEip = -1;
    }
    this.snapshot(cpu);
    this.lastRetired = cpu.retired;
    this.lastEvents = this.events;
    this.lastPartial = cpu.partialRuns;
  }

  /** Why the guest stopped, and what happened on the way (taken: the next stop starts afresh). */
  takeStop(): { reasons: string[]; notes: string[]; hits: Point[]; switchedTo: Processor | null; watchedAt: number | null } {
    const stop = { reasons: this.reasons, notes: this.notes, hits: this.hits, switchedTo: this.switchedTo, watchedAt: this.watchedAt };
    this.reasons = [];
    this.notes = [];
    this.hits = [];
    this.switchedTo = null;
    this.watchedAt = null;
    for (const p of this.machine.processors) p.cpu.repChunk = 4096;
    return stop;
  }

  private linearOf(cpu: Cpu): number {
    return (cpu.st[S_SEG_BASE + CS] + cpu.st[S_EIP]) >>> 0;
  }

  /** The state the catches of changes compare against. */
  private snapshot(cpu: Cpu): void {
    this.seenCpl = cpu.st[S_CPL];
    this.seenCr3Loads = cpu.cr3Loads;
    this.seenCr3 = guestControlRegister(this.focus, 3);
    this.seenMode = modeName(cpu);
  }

  /**
   * The points as the checks want them. Returns whether the watchpoints changed: the caller
   * then flushes the TLB (not here: this may run in the middle of a TLB fill).
   */
  private compile(): boolean {
    this.version = this.points.version;
    this.linearBreaks = this.points.enabled('break').filter((b) => !b.physical);
    this.physicalBreaks = this.points.enabled('break').filter((b) => b.physical);
    const watches = this.points.enabled('watch');
    const watchesChanged = watches.length !== this.watches.length || watches.some((w, i) => w !== this.watches[i]);
    this.watches = watches;
    this.catches = this.points.enabled('catch');
    this.catchesState = this.catches.some((c) => c.what === 'ring' || c.what === 'cr3' || c.what === 'mode');
    return watchesChanged;
  }

  // ---------------------------------------------------------------- DebugHook

  atBoundary(cpu: Cpu, block: DecodedBlock | null): number {
    if (cpu !== this.focus.cpu) return this.atOtherBoundary(cpu, block);
    if (this.version !== this.points.version) this.compile();
    const linear = this.linearOf(cpu);
    // Moved on: an instruction retired or an event was delivered. A chunk of a REP instruction
    // is progress for a step, but the instruction is still the one a breakpoint stopped on.
    const moved = cpu.retired !== this.lastRetired || this.events !== this.lastEvents;
    const progressed = moved || cpu.partialRuns !== this.lastPartial;
    if (progressed) {
      this.lastRetired = cpu.retired;
      this.lastEvents = this.events;
      this.lastPartial = cpu.partialRuns;
    }
    if (moved) {
      this.skipLinear = -1;
      this.lettingTripleFault = false;
    }
    if (this.catchesState) this.checkStateCatches(cpu);
    if (this.watchHits.length > 0) this.reportWatchHits();
    const motion = this.motion;
    if (motion.kind === 'step' && progressed && --this.stepsLeft <= 0) this.reasons.push('');
    if (motion.kind === 'return-point' && linear === motion.linear && guestControlRegister(this.focus, 3) === motion.cr3 && cpu.reg[ESP] >>> 0 >= motion.esp) this.reasons.push('');
    if (motion.kind === 'until' && linear === motion.linear && progressed) this.reasons.push('');
    if (motion.kind === 'finish') this.followFinish(cpu, block, progressed);
    if (linear !== this.skipLinear) this.checkBreakpoints(linear);
    if (this.reasons.length > 0) return HOOK_STOP;
    // Watched memory: one instruction at a time, so the stop comes right after the access.
    // reverse-continue's search runs blocks whole to find the stretch, then that stretch so.
    if (motion.kind === 'step' || motion.kind === 'finish' || (this.watches.length > 0 && (!this.searching || this.searchingExactly))) return HOOK_SINGLE;
    if (block !== null && this.blockHoldsBreakpoint(linear, block.byteLength, motion)) return HOOK_SINGLE;
    return HOOK_RUN;
  }

  /** A boundary of a processor other than the focus: breakpoints, and what watchpoints and catches noted, stop it. */
  private atOtherBoundary(cpu: Cpu, block: DecodedBlock | null): number {
    if (this.version !== this.points.version) this.compile();
    const o = this.others.get(cpu);
    if (o === undefined) return HOOK_RUN;
    const linear = this.linearOf(cpu);
    if (cpu.retired !== o.lastRetired) {
      o.lastRetired = cpu.retired;
      o.skipLinear = -1;
    }
    if (this.watchHits.length > 0) this.reportWatchHits();
    const before = this.reasons.length;
    if (linear !== o.skipLinear) this.checkBreakpoints(linear, o.memory);
    if (this.reasons.length > before) this.stopsOn(cpu);
    if (this.reasons.length > 0) return HOOK_STOP;
    if (this.watches.length > 0) return HOOK_SINGLE;
    if (block !== null && this.blockHoldsBreakpoint(linear, block.byteLength, { kind: 'continue' }, o.memory)) return HOOK_SINGLE;
    return HOOK_RUN;
  }

  onEvent(cpu: Cpu, vector: number, kind: EventKind, errorCode: number): void {
    if (cpu !== this.focus.cpu) {
      this.catchEvent(cpu, vector, kind, errorCode);
      return;
    }
    this.events++;
    const st = cpu.st;
    const description = this.catchEvent(cpu, vector, kind, errorCode);
    // Only the step that ends the command is said to end in a handler.
    if (this.motion.kind === 'step' && this.stepsLeft <= 1) this.notes.push(`(${description}: delivered, so the step ends in its handler)`);
    if (this.motion.kind === 'finish') {
      if (kind === EventKind.Exception && st[S_INSN_EIP] === this.previousEip) this.previousFaulted = true;
      // An event taken where the procedure runs is a call into a handler, which returns with IRET.
      if (st[S_CPL] === this.finishCpl && guestControlRegister(this.focus, 3) === this.finishCr3) this.depth++;
    }
  }

  /** Catchpoints on an event any processor delivers; returns how the event reads, for notes. */
  private catchEvent(cpu: Cpu, vector: number, kind: EventKind, errorCode: number): string {
    const st = cpu.st;
    const at = segmentedAddress(cpu, st[S_INSN_EIP]);
    const what = kind === EventKind.Exception ? formatException(vector, errorCode) : kind === EventKind.Software ? `int 0x${vector.toString(16)}` : `interrupt 0x${vector.toString(16)} (an IRQ)`;
    const detail = kind === EventKind.Exception && vector === 14 ? `, CR2 ${hex(st[S_CR2])}` : '';
    const description = `${what}${detail} at ${at}, CPL ${st[S_CPL]}`;
    for (const c of this.catches) {
      const matches = (c.what === 'exception' && kind === EventKind.Exception) || (c.what === 'interrupt' && kind !== EventKind.Exception);
      if (!matches || (c.filter !== null && !c.filter.includes(vector))) continue;
      if (!this.searching) c.hits++;
      this.reasons.push(`Catchpoint ${c.id}: ${kind === EventKind.Exception ? 'exception' : 'interrupt'} ${description}; stopped at its handler.`);
      this.stopsOn(cpu);
    }
    return description;
  }

  watchesPage(_cpu: Cpu, linear: number): boolean {
    if (this.version !== this.points.version) this.compile();
    if (this.watches.length === 0) return false;
    const page = linear >>> 12;
    let gpaPage = -2;
    for (const w of this.watches) {
      if (!w.physical) {
        if (page >= w.address >>> 12 && page <= ((w.address + w.length - 1) >>> 0) >>> 12) return true;
        continue;
      }
      if (gpaPage === -2) {
        const gpa = this.memory.physical(linear);
        gpaPage = gpa < 0 ? -1 : gpa >>> 12;
      }
      if (gpaPage >= w.address >>> 12 && gpaPage <= ((w.address + w.length - 1) >>> 0) >>> 12) return true;
    }
    return false;
  }

  onAccess(cpu: Cpu, linear: number, bytes: number, write: boolean): void {
    if (this.watches.length === 0) return;
    let gpa = -2;
    for (const w of this.watches) {
      if ((w.access === 'write' || w.access === 'store') && !write) continue;
      if (w.access === 'read' && write) continue;
      let start = linear >>> 0;
      if (w.physical) {
        if (gpa === -2) gpa = this.memory.physical(linear);
        if (gpa < 0) continue;
        start = gpa >>> 0;
      }
      if (!(start < w.address + w.length && w.address < start + bytes)) continue;
      if (this.watchHits.some((h) => h.point === w && h.write === write)) continue;
      const before = write ? (w.physical ? this.memory.readPhysical(w.address, w.length) : this.memory.readLinear(w.address, w.length)) : [];
      const eip = cpu.st[S_INSN_EIP];
      // The machine's position before this instruction: the others' counts and this one's retired so far.
      const at = this.machine.instructions - cpu.instructions + cpu.retired;
      this.watchHits.push({ point: w, write, before, where: segmentedAddress(cpu, eip), linear: (cpu.st[S_SEG_BASE + CS] + eip) >>> 0, cpu, at });
      cpu.attention |= ATTN_DEBUGGER;
    }
  }

  onTripleFault(cpu: Cpu): boolean {
    // Once stopped before it, let it happen: the user saw the cause and chose to go on.
    const begins = cpu.faultChain.first?.linear ?? -1;
    if (this.lettingTripleFault && begins === this.tripleFaultLinear) return false;
    this.lettingTripleFault = true;
    this.stopsOn(cpu);
    this.tripleFaultLinear = begins;
    const chain = cpu.faultChain.events;
    // What the undone deliveries noted (a catch "at its handler", a step's note) did not happen.
    this.reasons = [];
    this.notes = [];
    this.reasons.push(
      `The next instruction triple-faults: ${summarizeFaultChain(chain)}.\n` +
        "Stopped before it, where the chain began: 'info fault' explains each exception; step or continue lets it shut down.",
    );
    return true;
  }

  /** A VM exit, before the VMM handles it: logged, and caught when a catchpoint wants it. */
  private onExit(exit: VmExit, p: Processor): void {
    if (this.suspended || this.searching) return; // (a replay: these exits were logged when they happened)
    const cpu = p.cpu;
    this.exitsSeen++;
    const record = { exit: { ...exit }, retired: cpu.retired, cs: cpu.st[S_SEG_SEL + CS] & 0xffff, cpu: p.index };
    if (this.exitLog.length === EXIT_LOG_SIZE) this.exitLog.shift();
    this.exitLog.push(record);
    for (const c of this.catches) {
      if (c.what !== 'exit' || (c.filter !== null && !c.filter.includes(exit.reason))) continue;
      if (!this.searching) c.hits++;
      this.reasons.push(`Catchpoint ${c.id}: VM exit ${describeExit(exit)}, at ${segmentedAddress(cpu, exit.guestRip)}; the VMM has handled it.`);
      this.stopsOn(cpu);
    }
  }

  // ---------------------------------------------------------------- the checks

  private checkStateCatches(cpu: Cpu): void {
    const cpl = cpu.st[S_CPL];
    const loads = cpu.cr3Loads;
    const cr3 = guestControlRegister(this.focus, 3);
    const mode = modeName(cpu);
    for (const c of this.catches) {
      if (c.what === 'ring' && cpl !== this.seenCpl) {
        if (!this.searching) c.hits++;
        this.reasons.push(`Catchpoint ${c.id}: the CPL went from ${this.seenCpl} to ${cpl}.`);
      } else if (c.what === 'cr3' && (loads !== this.seenCr3Loads || cr3 !== this.seenCr3)) {
        if (!this.searching) c.hits++;
        this.reasons.push(`Catchpoint ${c.id}: CR3 loaded: ${hex(this.seenCr3)} -> ${hex(cr3)}${cr3 === this.seenCr3 ? ' (the same address space: its TLB entries flushed)' : ''}.`);
      } else if (c.what === 'mode' && mode !== this.seenMode) {
        if (!this.searching) c.hits++;
        this.reasons.push(`Catchpoint ${c.id}: the mode went from ${this.seenMode} to ${mode}.`);
      }
    }
    this.seenCpl = cpl;
    this.seenCr3Loads = loads;
    this.seenCr3 = cr3;
    this.seenMode = mode;
  }

  private reportWatchHits(): void {
    for (const h of this.watchHits) {
      const w = h.point;
      const now = w.physical ? this.memory.readPhysical(w.address, w.length) : this.memory.readLinear(w.address, w.length);
      const value = (bytes: (number | null)[]) => (bytes.some((b) => b === null) ? '(not mapped)' : hex(bytes.reduceRight<number>((v, b) => v * 256 + (b as number), 0), w.length * 2));
      const symbol = this.describe(h.linear);
      const by = `by the instruction at ${h.where}${symbol ? ` ${symbol}` : ''}`;
      if (h.write) {
        // `watch` stops when the value changes, as gdb's does; `awatch` on any write.
        const changed = h.before.some((b, i) => b !== now[i]);
        if (!changed && w.access === 'write') continue;
        if (!this.searching) w.hits++;
        this.hits.push(w);
        this.watchedAt = Math.min(this.watchedAt ?? Infinity, h.at);
        this.reasons.push(`Watchpoint ${w.id}: ${w.spec} written ${by}\n  old ${value(h.before)}\n  new ${value(now)}`);
      } else {
        if (!this.searching) w.hits++;
        this.hits.push(w);
        this.watchedAt = Math.min(this.watchedAt ?? Infinity, h.at);
        this.reasons.push(`Watchpoint ${w.id}: ${w.spec} read ${by}: ${value(now)}`);
      }
      this.stopsOn(h.cpu);
    }
    this.watchHits = [];
  }

  private checkBreakpoints(linear: number, memory = this.memory): void {
    for (const b of this.linearBreaks) if (b.address === linear) this.hitBreakpoint(b, linear);
    if (this.physicalBreaks.length > 0) {
      const gpa = memory.physical(linear);
      if (gpa >= 0) for (const b of this.physicalBreaks) if (b.address === gpa) this.hitBreakpoint(b, linear);
    }
  }

  private hitBreakpoint(b: Breakpoint, linear: number): void {
    if (b.condition !== null) {
      let stop: boolean;
      try {
        stop = this.condition(b.condition);
      } catch (e) {
        this.reasons.push(`Breakpoint ${b.id}: its condition '${b.condition}' cannot be evaluated: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (!stop) return;
    }
    if (!this.searching) b.hits++;
    this.hits.push(b);
    const where = this.describe(linear);
    this.reasons.push(`${b.temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${b.id}, ${hex(linear)}${where ? ` ${where}` : ''}`);
    if (b.temporary && !this.searching) this.points.delete([b.id]);
  }

  /**
   * Whether a breakpoint (or the place a `next`/`until` runs to) lies in the block, its first
   * instruction included: a compiled block that branches back to its start goes round inside
   * its own function, past a breakpoint there, without coming back here.
   */
  private blockHoldsBreakpoint(linear: number, bytes: number, motion: Motion, memory = this.memory): boolean {
    const end = linear + bytes;
    for (const b of this.linearBreaks) if (b.address >= linear && b.address < end) return true;
    if ((motion.kind === 'return-point' || motion.kind === 'until') && motion.linear >= linear && motion.linear < end) return true;
    if (this.physicalBreaks.length > 0) {
      // A block lies in one page: its guest-physical range follows from its first byte's.
      const gpa = memory.physical(linear);
      if (gpa >= 0) for (const b of this.physicalBreaks) if (b.address >= gpa && b.address < gpa + bytes) return true;
    }
    return false;
  }

  /**
   * `finish`: counts calls and returns made where the procedure runs (its CPL and CR3), and
   * events taken there (each returns with an IRET); stops after the return that takes the
   * depth below zero.
   */
  private followFinish(cpu: Cpu, block: DecodedBlock | null, progressed: boolean): void {
    const inContext = cpu.st[S_CPL] === this.finishCpl && guestControlRegister(this.focus, 3) === this.finishCr3;
    if (progressed && this.previousEip !== -1 && !this.previousFaulted) {
      const t = this.previousTransfer;
      if (t === 'call' && this.previousInStartContext) this.depth++;
      else if (t === 'return' && this.previousInStartContext) this.depth--;
      // An IRET counts where it runs, or where it lands (a handler entered from the procedure's ring).
      else if (t === 'iret' && (this.previousInStartContext || inContext)) this.depth--;
      if (this.depth < 0 && (t === 'return' || t === 'iret')) this.reasons.push(`Run till exit: returned to ${hex(this.linearOf(cpu))}${this.describe(this.linearOf(cpu)) ? ` ${this.describe(this.linearOf(cpu))}` : ''}.`);
    }
    this.previousFaulted = false;
    this.previousEip = cpu.st[S_EIP];
    this.previousInStartContext = inContext;
    this.previousTransfer = block !== null ? transferOf(block) : this.decodeTransfer(cpu);
  }

  /**
   * What the instruction at CS:EIP does to the call depth, when the run loop has no decoded
   * block for it (a TLB miss, the end of a page, DR7 breakpoints armed): decoded from memory.
   */
  private decodeTransfer(cpu: Cpu): Transfer {
    const raw = this.memory.readLinear(this.linearOf(cpu), 15);
    const mapped = raw.indexOf(null);
    const bytes = Uint8Array.from((mapped < 0 ? raw : raw.slice(0, mapped)) as number[]);
    if (bytes.length === 0) return 'other';
    const [first] = disassemble(bytes, { bits: cpu.st[S_CODE32] ? 32 : 16, org: cpu.st[S_EIP] >>> 0, reassemblable: false });
    const flow = first?.flow;
    return flow === 'call' || flow === 'return' || flow === 'iret' ? flow : 'other';
  }
}

/** CS:EIP as the CPU shows it: 0000:7C00 in 16-bit code, 0008:00010234 in 32-bit code. */
function segmentedAddress(cpu: Cpu, eip: number): string {
  const st = cpu.st;
  return `${hex(st[S_SEG_SEL + CS], 4).slice(2)}:${hex(eip, st[S_CODE32] ? 8 : 4).slice(2)}`;
}

/** What the next instruction (the first of `block`) does to the call depth, by its semantics in the CPU's own opcode table. */
function transferOf(block: DecodedBlock): Transfer {
  const first = block.insns[0];
  if (first === undefined) return 'other';
  const execute = first.execute;
  if (execute === execCallRel || execute === execCallE || execute === execCallFar) return 'call';
  if (execute === execRetNear || execute === execRetFar) return 'return';
  if (execute === execIret) return 'iret';
  return 'other';
}

/** Names exit reasons for help texts: "cpuid (10), io (30), ...". */
export function exitReasonKeywords(): string {
  return Object.entries(EXIT_REASONS).map(([n, r]) => `${r.keyword} (${n})`).join(', ');
}
