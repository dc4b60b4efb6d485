/**
 * An exercise's grader spec (guests/exercises/NN-name/grader.json): how to run the student's
 * guest (modes, memory sizes, a budget) and what to check, each check with the sentence a
 * student reads when it passes or fails and a hint for when it fails. Declarative, so that a
 * teacher writes a new exercise without writing TypeScript; grade.ts judges each kind of check.
 */

export type CheckSpec =
  /** A line of output (COM1, or the text screen), CR LF or LF alike; `{usableKiB}` and friends are the machine's own numbers. */
  | { kind: 'prints'; text: string; where?: 'serial' | 'screen' | 'either' }
  /** Events delivered: INT n (software), exceptions, IRQs; with AH, EAX, the CPL or CR2 at the time; counted; `distinctCr3`: in at least so many address spaces. */
  | { kind: 'event'; event: 'software' | 'exception' | 'external'; vector?: number; ah?: number; eax?: number; cpl?: number; cr2?: number; atLeast?: number; atMost?: number; distinctCr3?: number }
  /** How the run ended: halted (HLT with nothing to wake it), exit (the exit port, with `status`), shutdown... */
  | { kind: 'ends'; outcome: string; status?: number }
  /** A register at the end (`registers` names: eax, cr0, cs, cpl...), under `mask` (all bits when absent). */
  | { kind: 'register'; register: string; mask?: number; value: number }
  /** The code segment at the end is 32-bit (D bit set). */
  | { kind: 'code32' }
  /** At the end, the guest's page tables map linear `linear` to guest-physical `physical` (or map it at all, without `physical`). */
  | { kind: 'maps'; linear: number; physical?: number }
  /**
   * A VMM figure at the end, within bounds: `exits` (all VM exits), `exits:N` (of reason N),
   * `shadow.cacheHitRate` (0 to 1), a shadow counter (`shadow.writeProtectTraps`, `shadow.filled`...),
   * or a paravirtual paging counter (`pv.updates`, `pv.rejected`, `pv.pins`, `pv.baseLoads`).
   */
  | { kind: 'vmm'; stat: string; atLeast?: number; atMost?: number }
  /** VM exits of one reason (Intel's number) seen during the run, those of an EPT violation limited to a GPA range [gpaFrom, gpaTo), counted. */
  | { kind: 'exits'; reason: number; gpaFrom?: number; gpaTo?: number; atLeast?: number; atMost?: number };

export interface Check {
  spec: CheckSpec;
  /** The modes it is judged in (all the spec's when absent): a VMM figure means nothing on bare. */
  modes?: string[];
  /** What passing means, in a sentence: "the text appears on the screen". */
  says: string;
  /** What to look at when it fails. */
  hint: string;
}

export interface GraderSpec {
  title: string;
  /** Memory modes to run in (bare, ept, shadow, pv): the guest must pass in each. */
  modes: string[];
  /** RAM sizes to run with ("32M"): a guest that must find its memory is run with more than one. */
  memory: string[];
  maxInstructions: number;
  /** More options for `minivisor run` (an exit port, say). */
  runOptions: string[];
  checks: Check[];
}

/** Each kind of check, and the fields it may have (besides kind, says, hint, modes): a misspelt field would loosen a check unseen. */
const CHECK_FIELDS: Record<string, string[]> = {
  prints: ['text', 'where'],
  event: ['event', 'vector', 'ah', 'eax', 'cpl', 'cr2', 'atLeast', 'atMost', 'distinctCr3'],
  ends: ['outcome', 'status'],
  register: ['register', 'mask', 'value'],
  code32: [],
  maps: ['linear', 'physical'],
  vmm: ['stat', 'atLeast', 'atMost'],
  exits: ['reason', 'gpaFrom', 'gpaTo', 'atLeast', 'atMost'],
};
const CHECK_KINDS = Object.keys(CHECK_FIELDS);

/** Reads grader.json; a mistake in it is the teacher's, said with what and where. */
export function parseGraderSpec(text: string, file: string): GraderSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const o = raw as Record<string, unknown>;
  const want = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${file}: ${what}`);
  };
  want(typeof o === 'object' && o !== null, 'the spec is an object: {"title": ..., "checks": [...]}');
  want(typeof o.title === 'string', '"title" (a string) is missing');
  const modes = (o.modes ?? ['bare', 'ept', 'shadow']) as string[];
  want(Array.isArray(modes) && modes.every((m) => ['bare', 'ept', 'shadow', 'pv'].includes(m)), '"modes" lists memory modes: bare, ept, shadow, pv');
  const memory = (o.memory ?? ['32M']) as string[];
  want(Array.isArray(memory) && memory.every((m) => typeof m === 'string'), '"memory" lists RAM sizes such as "32M"');
  const maxInstructions = (o.maxInstructions ?? 50_000_000) as number;
  want(Number.isInteger(maxInstructions) && maxInstructions > 0, '"maxInstructions" is a positive whole number');
  const runOptions = (o.runOptions ?? []) as string[];
  want(Array.isArray(runOptions) && runOptions.every((a) => typeof a === 'string'), '"runOptions" lists options of minivisor run');
  want(Array.isArray(o.checks) && (o.checks as unknown[]).length > 0, '"checks" lists at least one check');
  const checks = (o.checks as Record<string, unknown>[]).map((c, i): Check => {
    want(typeof c === 'object' && c !== null && CHECK_KINDS.includes(c.kind as string), `check ${i + 1}: "kind" is one of ${CHECK_KINDS.join(', ')}`);
    want(typeof c.says === 'string' && typeof c.hint === 'string', `check ${i + 1}: "says" and "hint" (sentences for the student) are missing`);
    const { says, hint, modes: only, ...spec } = c;
    const unknown = Object.keys(spec).filter((k) => k !== 'kind' && !CHECK_FIELDS[c.kind as string].includes(k));
    want(unknown.length === 0, `check ${i + 1} (${c.kind}): no field ${unknown.map((k) => `"${k}"`).join(', ')}; it may have ${CHECK_FIELDS[c.kind as string].join(', ') || 'no others'}`);
    want(only === undefined || (Array.isArray(only) && only.every((m) => modes.includes(m as string))), `check ${i + 1}: its "modes" must be among the spec's`);
    return { spec: spec as unknown as CheckSpec, says: says as string, hint: hint as string, modes: only as string[] | undefined };
  });
  return { title: o.title as string, modes, memory, maxInstructions, runOptions, checks };
}
