/**
 * Grading: the student's guest runs once per mode and memory size the spec names, with an
 * EventRecorder attached, and each check is judged on that run through the Machine API (the
 * registers, the events delivered, the outcome), not on output alone. A failed run says how the
 * guest went wrong: its first exception (vector, error code decoded, CS:EIP, CR2) or, for a
 * triple fault, the chain that led to it.
 */
import { formatException } from '../cpu/exceptions.ts';
import { hex } from '../cpu/physical-memory.ts';
import { ATTR_DB, CS, S_EIP, S_SEG_ATTR, S_SEG_BASE } from '../cpu/state.ts';
import { explainFaultChain } from '../debugger/fault-report.ts';
import { GuestMemory } from '../debugger/guest-memory.ts';
import { guestControlRegister, readRegister } from '../debugger/registers.ts';
import type { Machine, RunOutcome } from '../machine/machine.ts';
import { EventRecorder, type RecordedEvent } from './recorder.ts';
import type { Check, CheckSpec, GraderSpec } from './spec.ts';

/** A machine for one run, as `minivisor run FILE --mode MODE --mem MEMORY` would build it, and what COM1 printed. */
export type MachineFactory = (mode: string, memory: string) => { machine: Machine; serial: () => string };

export interface CheckResult {
  /** The check's kind (prints, event, ...), for tooling. */
  kind: string;
  says: string;
  ok: boolean;
  /** What was seen instead, when it failed. */
  detail: string;
  hint: string;
}

export interface RunResult {
  mode: string;
  memory: string;
  outcome: string;
  /** Where the CPU was at the end (CS base + EIP): in the BIOS (0xF0000 up), the guest never ran. */
  endLinear: number;
  checks: CheckResult[];
  /** How the guest went wrong, when a check failed: its first exception, or the triple fault's chain. */
  firstFault: string[];
}

export interface GradeResult {
  title: string;
  passed: boolean;
  runs: RunResult[];
}

export function grade(spec: GraderSpec, build: MachineFactory): GradeResult {
  const runs: RunResult[] = [];
  for (const memory of spec.memory) {
    for (const mode of spec.modes) runs.push(gradeRun(spec, build, mode, memory));
  }
  return { title: spec.title, passed: runs.every((r) => r.checks.every((c) => c.ok)), runs };
}

function gradeRun(spec: GraderSpec, build: MachineFactory, mode: string, memory: string): RunResult {
  const { machine, serial } = build(mode, memory);
  const recorder = new EventRecorder(() => guestControlRegister(machine, 3));
  machine.cpu.debugHook = recorder;
  // Every VM exit, as the VMM's observers see it (before its handler): reason and GPA.
  const exits: { reason: number; gpa: number }[] = [];
  machine.vcpu?.exitObservers.push((e) => exits.length < 1_000_000 && exits.push({ reason: e.reason, gpa: e.guestPhysical >>> 0 }));
  const outcome = machine.run(spec.maxInstructions);
  const seen: Seen = { machine, outcome, events: recorder.events, exits, serial: serial(), screen: machine.vga.lines().map((l) => l.trimEnd()) };
  const judged = spec.checks.filter((c) => c.modes === undefined || c.modes.includes(mode)).map((c) => ({ check: c, result: judge(c, seen) }));
  const checks = judged.map((j) => j.result);
  const failed = checks.some((c) => !c.ok);
  // Exceptions the exercise asks for (an event check that passed) are not what went wrong.
  const expected = new Set<number>();
  for (const { check, result } of judged) {
    const c = check.spec;
    if (c.kind === 'event' && c.event === 'exception' && c.vector !== undefined && (c.atLeast ?? 0) > 0 && result.ok) expected.add(c.vector);
  }
  const cpu = machine.cpu;
  const endLinear = (cpu.st[S_SEG_BASE + CS] + cpu.st[S_EIP]) >>> 0;
  return { mode, memory, outcome: describeOutcome(outcome), endLinear, checks, firstFault: failed ? firstFault(seen, expected) : [] };
}

interface Seen {
  machine: Machine;
  outcome: RunOutcome;
  events: RecordedEvent[];
  exits: { reason: number; gpa: number }[];
  serial: string;
  screen: string[];
}

function describeOutcome(o: RunOutcome): string {
  switch (o.kind) {
    case 'exit':
      return `wrote ${o.status >> 1} to the exit port`;
    case 'limit':
      return 'still running when the instruction budget ran out';
    case 'halted':
      return `halted (${o.detail})`;
    case 'shutdown':
      return `shut down (${o.detail})`;
    case 'unmapped-fetch':
      return `stopped: ${o.detail}`;
    default:
      return 'detail' in o ? `${o.kind}: ${o.detail}` : o.kind;
  }
}

/**
 * The machine's own numbers, for `{name}` in a `prints` check, which a guest cannot print
 * without finding them: {usableKiB}, {usableMiB}, {memoryMiB}; and what the CPU pushed for the
 * first exception with vector V, as print_hex writes it (0x and 8 digits): {eip:V}, {errorCode:V}, {cr2:V}.
 */
function fillPlaceholders(text: string, seen: Seen): string {
  const m = seen.machine;
  const usable = m.e820.filter((e) => e.type === 1).reduce((n, e) => n + Number(e.length), 0);
  const numbers: Record<string, number> = { usableKiB: Math.floor(usable / 1024), usableMiB: Math.floor(usable / 1048576), memoryMiB: m.config.memoryBytes >> 20 };
  return text.replace(/\{(\w+)(?::(\d+))?\}/g, (all, name: string, vector?: string) => {
    if (vector === undefined) return name in numbers ? String(numbers[name]) : all;
    const e = seen.events.find((x) => x.kind === 'exception' && x.vector === Number(vector));
    const value = e === undefined ? undefined : name === 'eip' ? e.eip : name === 'errorCode' ? e.errorCode : name === 'cr2' ? e.cr2 : undefined;
    return value === undefined ? `(no exception ${vector} was seen)` : `0x${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
  });
}

/** The BIOS's ROM in the first MiB: events raised by its code are not the guest's. */
const BIOS_START = 0xf0000;
const BIOS_END = 0x100000;

/** Lines, CR LF and LF alike, without trailing blanks. */
const lines = (text: string) => text.replace(/\r/g, '').split('\n').map((l) => l.trimEnd());

function judge(check: Check, seen: Seen): CheckResult {
  const result = (ok: boolean, detail = ''): CheckResult => ({ kind: check.spec.kind, says: check.says, ok, detail: ok ? '' : detail, hint: check.hint });
  const s: CheckSpec = check.spec;
  switch (s.kind) {
    case 'prints': {
      const want = fillPlaceholders(s.text, seen).trim();
      const where = s.where ?? 'either';
      const serial = lines(seen.serial);
      const has = (ls: string[]) => ls.some((l) => l.trim() === want);
      const ok = (where !== 'screen' && has(serial)) || (where !== 'serial' && has(seen.screen));
      // What was printed, once (COM1 and the screen mostly say the same), without the BIOS's banner.
      const printed = [...new Set([...(where !== 'screen' ? serial : []), ...(where !== 'serial' ? seen.screen : [])].map((l) => l.trim()))].filter((l) => l !== '' && !/^minivisor BIOS/.test(l));
      return result(ok, `wanted the line "${want}"; ${printed.length === 0 ? 'nothing was printed' : `printed: ${printed.slice(0, 4).map((l) => `"${l}"`).join(', ')}${printed.length > 4 ? ', ...' : ''}`}`);
    }
    case 'event': {
      // The guest's own INT n: the BIOS's INT 10h calls for its banner are not the student's
      // (exceptions and IRQs count wherever they come: an IRQ may interrupt BIOS code).
      const events = seen.events.filter((e) => e.kind !== 'software' || e.linear < BIOS_START || e.linear >= BIOS_END);
      const matching = events.filter(
        (e) => e.kind === s.event && (s.vector === undefined || e.vector === s.vector) && (s.ah === undefined || ((e.eax >>> 8) & 0xff) === s.ah) && (s.eax === undefined || e.eax === s.eax >>> 0) && (s.cpl === undefined || e.cpl === s.cpl) && (s.cr2 === undefined || e.cr2 === s.cr2 >>> 0),
      );
      const atLeast = s.atLeast ?? (s.atMost === undefined ? 1 : 0);
      const cr3s = new Set(matching.map((e) => e.cr3)).size;
      const ok = matching.length >= atLeast && (s.atMost === undefined || matching.length <= s.atMost) && (s.distinctCr3 === undefined || cr3s >= s.distinctCr3);
      if (matching.length >= atLeast && s.distinctCr3 !== undefined && cr3s < s.distinctCr3) return result(false, `seen ${matching.length} times, but with ${cr3s} value${cr3s === 1 ? '' : 's'} of CR3 (${[...new Set(matching.map((e) => hex(e.cr3)))].slice(0, 3).join(', ')})`);
      const any = events.filter((e) => e.kind === s.event && (s.vector === undefined || e.vector === s.vector));
      const what = (e: RecordedEvent) => [s.cr2 !== undefined ? `CR2 ${hex(e.cr2)}` : `EAX ${hex(e.eax)}`, `at CPL ${e.cpl}`].join(' ');
      const near = any.length > 0 && matching.length === 0 ? ` (${any.length} other${any.length === 1 ? '' : 's'}: the first with ${what(any[0])})` : '';
      return result(ok, `seen ${matching.length} time${matching.length === 1 ? '' : 's'}${near}`);
    }
    case 'ends': {
      const o = seen.outcome;
      // `status` is the value the guest wrote to the exit port, as describeOutcome says it.
      const ok = o.kind === s.outcome && (s.status === undefined || (o.kind === 'exit' && o.status >> 1 === s.status));
      return result(ok, `the guest ${describeOutcome(o)}`);
    }
    case 'register': {
      const value = readRegister(seen.machine, s.register);
      if (value === undefined) return result(false, `'${s.register}' is not a register (the grader spec is wrong)`);
      const mask = s.mask ?? 0xffffffff;
      return result((value & mask) >>> 0 === (s.value & mask) >>> 0, `${s.register} is ${hex(value)}`);
    }
    case 'maps': {
      // Through the guest's own tables, read-only (the debugger's walk: no A/D bits set).
      const gpa = new GuestMemory(seen.machine).physical(s.linear >>> 0);
      const ok = gpa >= 0 && (s.physical === undefined || gpa >>> 0 === s.physical >>> 0);
      return result(ok, gpa < 0 ? `${hex(s.linear)} is not mapped by the guest's page tables` : `${hex(s.linear)} maps to ${hex(gpa)}`);
    }
    case 'vmm': {
      const value = vmmFigure(seen.machine, s.stat);
      if (typeof value === 'string') return result(false, value);
      const ok = (s.atLeast === undefined || value >= s.atLeast) && (s.atMost === undefined || value <= s.atMost);
      const bounds = [s.atLeast !== undefined ? `at least ${s.atLeast}` : '', s.atMost !== undefined ? `at most ${s.atMost}` : ''].filter(Boolean).join(' and ');
      return result(ok, `${s.stat} is ${Number.isInteger(value) ? value : value.toFixed(3)} (wanted ${bounds})`);
    }
    case 'exits': {
      if (seen.machine.vcpu === null) return result(false, 'there is no VMM on the bare machine (the grader spec should not run this check with --mode bare)');
      const n = seen.exits.filter((e) => e.reason === s.reason && (s.gpaFrom === undefined || e.gpa >= s.gpaFrom) && (s.gpaTo === undefined || e.gpa < s.gpaTo)).length;
      const ok = n >= (s.atLeast ?? 1) && (s.atMost === undefined || n <= s.atMost);
      return result(ok, `seen ${n}`);
    }
    case 'code32': {
      const ok = (seen.machine.cpu.st[S_SEG_ATTR + CS] & ATTR_DB) !== 0;
      return result(ok, 'CS is a 16-bit code segment');
    }
  }
}

/** A figure the VMM keeps, by the name a `vmm` check gives; a string says why there is none. */
function vmmFigure(m: Machine, stat: string): number | string {
  const vcpu = m.vcpu;
  if (vcpu === null) return `${stat}: there is no VMM on the bare machine (the grader spec should not run this check with --mode bare)`;
  if (stat === 'exits') return vcpu.exitCounts.reduce((n, c) => n + c, 0);
  const reason = /^exits:(\d+)$/.exec(stat);
  if (reason) return vcpu.exitCounts[Number(reason[1])] ?? 0;
  if (stat.startsWith('shadow.')) {
    const shadow = vcpu.shadow;
    if (shadow === null) return `${stat}: this run is not under shadow paging`;
    const stats = shadow.mmu.stats;
    if (stat === 'shadow.cacheHitRate') return stats.cacheHits + stats.cacheMisses === 0 ? 1 : stats.cacheHits / (stats.cacheHits + stats.cacheMisses);
    const field = stat.slice('shadow.'.length) as keyof typeof stats;
    if (typeof stats[field] === 'number') return stats[field];
  }
  if (stat.startsWith('pv.')) {
    const pv = vcpu.pv;
    if (pv === null) return `${stat}: this run is not under paravirtual paging`;
    const stats = pv.mmu.stats;
    const field = stat.slice('pv.'.length) as keyof typeof stats;
    if (typeof stats[field] === 'number') return stats[field];
  }
  return `'${stat}' is not a figure the grader knows (the grader spec is wrong)`;
}

function firstFault(seen: Seen, expected: Set<number>): string[] {
  const cpu = seen.machine.cpu;
  if (seen.outcome.kind === 'shutdown' && cpu.faultChain.shutdown) {
    return ['the guest triple-faulted; how it came to that:', ...explainFaultChain(seen.machine, cpu.faultChain.events, () => '').map((l) => `  ${l}`)];
  }
  const e = seen.events.find((x) => x.kind === 'exception' && !expected.has(x.vector));
  if (e === undefined) return [];
  return [`the first exception: ${formatException(e.vector, e.errorCode)} at ${hex(e.cs, 4).slice(2)}:${hex(e.eip).slice(2)}, CPL ${e.cpl}${e.vector === 14 ? `, CR2 ${hex(e.cr2)}` : ''}`];
}

/** The result as a student reads it: ✓/✗ per check, and for a failure what was seen, the hint and the first fault. Runs that went alike are told once. */
export function formatGrade(result: GradeResult): string {
  const out: string[] = [`${result.title}`];
  const groups: { runs: RunResult[]; key: string }[] = [];
  for (const run of result.runs) {
    const key = JSON.stringify([run.outcome, run.checks, run.firstFault, run.endLinear]);
    const group = groups.find((g) => g.key === key);
    if (group) group.runs.push(run);
    else groups.push({ runs: [run], key });
  }
  for (const { runs } of groups) {
    const run = runs[0];
    const modes = [...new Set(runs.map((r) => r.mode))].join(', ');
    const memory = [...new Set(runs.map((r) => r.memory))].join(', ');
    out.push(`\n--mode ${modes}, --mem ${memory}: the guest ${run.outcome}`);
    for (const c of run.checks) {
      out.push(`  ${c.ok ? '✓' : '✗'} ${c.says}`);
      if (!c.ok) out.push(`      ${c.detail}`, `      hint: ${c.hint}`);
    }
    for (const l of run.firstFault) out.push(`  ${l}`);
  }
  // Counted as shown: runs that went alike are one group.
  const failed = groups.reduce((n, g) => n + g.runs[0].checks.filter((c) => !c.ok).length, 0);
  out.push('', result.passed ? 'All checks pass.' : `${failed} check${failed === 1 ? '' : 's'} failed: 'minivisor debug FILE' steps the guest; the hints say where to look.`);
  return out.join('\n');
}
