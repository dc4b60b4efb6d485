/**
 * Record and replay. Given the same guest and options, a run is a function of what it takes from
 * outside: keys typed (Machine.typeText) and the real time a halted guest waited for them
 * (Machine.passIdleTime). Virtual time, the devices and the disks' contents are the machine's
 * own. So a recording is those inputs, each at the instruction count it came at, with hashes of
 * the guest's state along the way; a replay gives the machine the same inputs at the same counts
 * and checks the hashes, so that the first run that differs says where (QEMU's -icount record).
 */
import { getEflags } from '../cpu/flags.ts';
import { Fnv } from './fnv.ts';
import { NO_FRAME } from '../cpu/host-memory.ts';
import { S_EFLAGS, S_FETCH_DELTA, S_FETCH_LO, S_FETCH_SPAN, S_FLAT_SEGMENTS, S_INSN_EIP, S_SEG_WLOW, S_LAZY_A, S_LAZY_B, S_LAZY_OP, S_LAZY_PENDING, S_LAZY_R, S_LAZY_SHIFT } from '../cpu/state.ts';
import type { Machine, MachineInput, RunOutcome } from './machine.ts';
import { machineRecipe, recipeDifferences, type MachineRecipe } from './snapshot.ts';
import { EntrySequence, type SequencedEntry } from './entry-sequence.ts';

/** What a recording holds, in the order it happened (see EntrySequence): an input, a change of waiting, a state check. */
export type LogEntry = SequencedEntry &
  (
    | MachineInput
    /**
     * From here on, a halted guest waits for the user (the terminal could still send keys) or skips
     * to its next event (input closed: a pipe at its end): it decides where a halted guest's time
     * goes, so a replay must do as the recording did.
     */
    | { at: number; kind: 'wait'; wait: boolean }
    /** The guest's state hash here (guestStateHash), after the run that ended here. */
    | { at: number; kind: 'check'; hash: string }
  );

const INPUT_LOG_VERSION = 1;

export interface InputLog {
  format: 'minivisor input log';
  version: number;
  recipe: MachineRecipe;
  /** The disks' contents as the run began (drive, hash). */
  disks: [number, string][];
  entries: LogEntry[];
  /** How the recorded run ended: its instruction count, how, and the state hash there. */
  end: { instructions: number; outcome: RunOutcome; hash: string } | null;
}

/** A log that cannot be read, or that does not fit the machine: what is wrong. */
export class InputLogError extends Error {}

/** Instructions between state checks. */
const CHECK_INTERVAL = 1 << 24;

/**
 * A hash of what the guest can see: each processor's registers (EFLAGS as read, not how the
 * flags are kept; no fetch window, nor the EIP of the last instruction, which a block leaves as
 * it likes, nor what is worked out from the segment caches), whether it is halted and its count, and guest RAM page by page (a page never
 * touched, none). FNV-1a over 32-bit words.
 */
export function guestStateHash(machine: Machine): string {
  const hash = new Fnv();
  const skip = new Set([S_LAZY_OP, S_LAZY_A, S_LAZY_B, S_LAZY_R, S_LAZY_SHIFT, S_LAZY_PENDING, S_FETCH_LO, S_FETCH_SPAN, S_FETCH_DELTA, S_INSN_EIP, S_FLAT_SEGMENTS]);
  for (const { cpu } of machine.processors) {
    // (The segments' access ranges from S_SEG_WLOW on are worked out from their descriptor caches, which count.)
    for (let i = 0; i < S_SEG_WLOW; i++) if (!skip.has(i)) hash.word(i === S_EFLAGS ? getEflags(cpu.st) : cpu.st[i]);
    hash.word(cpu.halted ? 1 : 0).word(cpu.instructions | 0).word(Math.floor(cpu.instructions / 2 ** 32));
  }
  const host = machine.phys.hostMemory;
  for (const slot of machine.phys.slots) {
    if (slot.readOnly) continue;
    for (let offset = 0; offset < slot.size; offset += 4096) {
      const frame = host.frameOf(slot.userspaceAddr + offset);
      if (frame === NO_FRAME) continue;
      hash.word(slot.guestPhysAddr + offset).bytes(host.frames.subarray(frame, frame + 4096));
    }
  }
  return hash.hex;
}

/** A disk's size and a hash of its bytes, to tell that a replay boots the disks the recording did. */
function diskHash(bytes: Uint8Array): string {
  return `${bytes.length}:${new Fnv().bytes(bytes).hex}`;
}

function disksOf(machine: Machine): [number, string][] {
  return [...machine.disks].sort((a, b) => a[0] - b[0]).map(([drive, d]) => [drive, diskHash(d.bytes)]);
}

/** Logs a run's inputs and checks as it goes (see InputLog). Made before the run starts. */
export class Recorder {
  readonly log: InputLog;
  private readonly sequence: EntrySequence<LogEntry>;
  private nextCheck = CHECK_INTERVAL;
  private wait: boolean | null = null;

  constructor(private readonly machine: Machine) {
    this.log = { format: 'minivisor input log', version: INPUT_LOG_VERSION, recipe: machineRecipe(machine.config), disks: disksOf(machine), entries: [], end: null };
    this.sequence = new EntrySequence(this.log.entries);
    machine.inputObservers.push((input) => this.sequence.record(input));
  }

  /** Before a run: whether a halted guest waits for input in it. */
  slice(waitForInput: boolean): void {
    if (this.wait === waitForInput) return;
    this.wait = waitForInput;
    this.sequence.record({ at: this.machine.instructions, kind: 'wait', wait: waitForInput });
  }

  /** After a run: a state check when one is due. */
  between(): void {
    this.sequence.ran();
    if (this.machine.instructions < this.nextCheck) return;
    this.sequence.record({ at: this.machine.instructions, kind: 'check', hash: guestStateHash(this.machine) });
    this.nextCheck = this.machine.instructions + CHECK_INTERVAL;
  }

  /** The run ended so: the log is complete. */
  finish(outcome: RunOutcome): InputLog {
    this.log.end = { instructions: this.machine.instructions, outcome, hash: guestStateHash(this.machine) };
    return this.log;
  }
}

export function formatInputLog(log: InputLog): string {
  return JSON.stringify(log) + '\n';
}

/** Reads a log file's text; `name` is the file's, for messages. */
export function parseInputLog(text: string, name: string): InputLog {
  let log: InputLog;
  try {
    log = JSON.parse(text) as InputLog;
  } catch {
    throw new InputLogError(`${name} is not a minivisor input log (make one with 'minivisor run ... --record FILE')`);
  }
  if (log?.format !== 'minivisor input log') throw new InputLogError(`${name} is not a minivisor input log (make one with 'minivisor run ... --record FILE')`);
  if (log.version !== INPUT_LOG_VERSION) throw new InputLogError(`${name} is an input log of format ${log.version}, and this minivisor reads format ${INPUT_LOG_VERSION}: record it again`);
  const damaged = (what: string) => new InputLogError(`${name} is damaged: ${what}`);
  const valid = (e: LogEntry) => {
    if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.at) || e.at < 0 || typeof e.chained !== 'boolean') return false;
    switch (e.kind) {
      case 'type':
        return typeof e.text === 'string';
      case 'idle':
        return Number.isFinite(e.ns) && e.ns >= 0 && e.ns <= 3.6e12;
      case 'wait':
        return typeof e.wait === 'boolean';
      case 'check':
        return typeof e.hash === 'string';
      default:
        return false;
    }
  };
  if (!Array.isArray(log.entries) || !log.entries.every(valid)) throw damaged('its list of entries is missing or holds something else');
  if (typeof log.recipe !== 'object' || log.recipe === null || !Array.isArray(log.recipe.disks) || !Array.isArray(log.recipe.reserved) || !Array.isArray(log.recipe.debugconPorts)) throw damaged('it does not say what machine it was recorded on');
  if (!Array.isArray(log.disks) || !log.disks.every((d) => Array.isArray(d) && Number.isInteger(d[0]) && typeof d[1] === 'string')) throw damaged("its disks' hashes are missing");
  const end = log.end;
  if (end !== null && (typeof end !== 'object' || !Number.isSafeInteger(end.instructions) || typeof end.hash !== 'string' || typeof end.outcome !== 'object' || end.outcome === null || typeof end.outcome.kind !== 'string')) throw damaged('its end is not one');
  return log;
}

/** How a replay went: null while it matches; else the first difference, in words. */
export type Divergence = string | null;

/**
 * Replays a log on a machine built from the same guest and options. Around each run of the
 * machine: `beforeRun` gives back what is due (inputs, the recorded waiting, checks compared),
 * `stopAt` says where the run must stop, `ran` says it did.
 */
export class Replayer {
  private readonly sequence: EntrySequence<LogEntry>;
  /** The count of the last check that matched (0: the start). */
  lastMatch = 0;
  divergence: Divergence = null;
  checked = 0;
  inputsApplied = 0;
  /** The replay stopped at its --max-instructions, before the recording's end. */
  stoppedEarly = false;
  /** Whether a halted guest waits for input now (see LogEntry's 'wait'). */
  waitForInput = false;

  constructor(
    private readonly machine: Machine,
    readonly log: InputLog,
    name: string,
  ) {
    const differences = recipeDifferences(log.recipe, machineRecipe(machine.config), "the recording's");
    if (differences.length > 0) throw new InputLogError(`${name} was recorded on another kind of machine: give the options the recording was made with\n  ${differences.join('\n  ')}`);
    const disks = JSON.stringify(disksOf(machine));
    if (disks !== JSON.stringify(log.disks)) throw new InputLogError(`${name} was recorded with other disk contents (${JSON.stringify(log.disks)}; these are ${disks}): give the same guest and disk images`);
    this.sequence = new EntrySequence(log.entries);
  }

  /** Gives back what is due at the machine's count: inputs, the waiting, and checks compared. */
  beforeRun(): void {
    this.sequence.giveDue(
      () => this.machine.instructions,
      (e) => {
        if (e.kind === 'wait') this.waitForInput = e.wait;
        else if (e.kind === 'check') this.compare(e.at, e.hash);
        else {
          this.inputsApplied++;
          this.machine.applyInput(e);
        }
      },
      (e) => this.diverged(`the recording has ${describeEntry(e)} at instruction ${e.at}, and the replay went from before it to ${this.machine.instructions}`),
    );
  }

  /** A run of the machine ended. */
  ran(): void {
    this.sequence.ran();
  }

  /** Where the next run must stop: the next entry past the machine's count, or the recorded end. */
  get stopAt(): number {
    const now = this.machine.instructions;
    const end = this.log.end?.instructions ?? Infinity;
    return Math.min(end > now ? end : Infinity, this.sequence.nextAfter(now));
  }

  /** Whether the log has something at the machine's count (where a halted guest waits, the recording got an input). */
  get inputDue(): boolean {
    return this.sequence.hasAt(this.machine.instructions);
  }

  private compare(at: number, hash: string): void {
    this.checked++;
    const mine = guestStateHash(this.machine);
    if (mine === hash) this.lastMatch = at;
    else this.diverged(`the guest's state at instruction ${at} differs (hash ${mine}, recorded ${hash}); it was the same at ${this.lastMatch}, so the first difference lies between ${this.lastMatch} and ${at}`);
  }

  /** The replay's guest waits for input where the recording's did not. */
  waitedWhereTheRecordingDidNot(): void {
    this.diverged(`the guest waited for input at instruction ${this.machine.instructions}, where the recorded run did not`);
  }

  private diverged(text: string): void {
    if (this.divergence === null) this.divergence = text;
  }

  /** The replay ended so (`cap`: the --max-instructions it was given): compares with how the recording ended. */
  finish(outcome: RunOutcome, cap = Infinity): void {
    const end = this.log.end;
    if (end === null) return;
    const now = this.machine.instructions;
    if (outcome.kind === 'limit' && now >= cap && now < end.instructions) {
      this.stoppedEarly = true; // (stopped where the user asked, before the recording's end: the same run so far)
      return;
    }
    // A run stopped from outside (Ctrl-C, --max-instructions) is replayed to its count, where the replay's budget ends.
    const fromOutside = end.outcome.kind === 'stopped' || end.outcome.kind === 'limit';
    const sameEnd = fromOutside ? outcome.kind === 'limit' : JSON.stringify(outcome) === JSON.stringify(end.outcome);
    if (now !== end.instructions || !sameEnd) {
      this.diverged(`the recording ended at instruction ${end.instructions} (${describeOutcome(end.outcome)}), the replay at ${now} (${describeOutcome(outcome)})`);
      return;
    }
    if (this.sequence.pending) {
      this.diverged('the replay ended with inputs of the recording still to give');
      return;
    }
    const mine = guestStateHash(this.machine);
    if (mine !== end.hash) this.diverged(`the guest's state at the end differs (hash ${mine}, recorded ${end.hash}); it was the same at ${this.lastMatch}`);
    else this.checked++;
  }
}

function describeEntry(e: LogEntry): string {
  switch (e.kind) {
    case 'type':
      return `key input ${JSON.stringify(e.text)}`;
    case 'idle':
      return `a wait of ${e.ns / 1e6} ms`;
    case 'wait':
      return 'a change of waiting for input';
    case 'check':
      return 'a state check';
  }
}

export function describeOutcome(outcome: RunOutcome): string {
  switch (outcome.kind) {
    case 'exit':
      return `exit status ${outcome.status}`;
    case 'limit':
    case 'idle':
    case 'debug':
      return outcome.kind;
    default:
      return `${outcome.kind}: ${outcome.detail}`;
  }
}
