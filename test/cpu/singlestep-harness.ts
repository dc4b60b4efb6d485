/**
 * Runs the SingleStepTests 80286 real-mode vectors (test/fixtures/singlestep-80286, see its
 * README) against minivisor's CPU. Shared by the vitest suite and tools/singlestep.ts, which
 * prints the failures of one form for debugging.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Cpu } from '../../src/cpu/cpu.ts';
import { PhysicalMemory } from '../../src/cpu/physical-memory.ts';
import { setEflags } from '../../src/cpu/flags.ts';
import { ATTR_REAL_MODE_CODE, ATTR_REAL_MODE_DATA, CS, DS, ES, SS, S_EIP } from '../../src/cpu/state.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'singlestep-80286');

interface Regs {
  ax?: number; bx?: number; cx?: number; dx?: number; cs?: number; ss?: number; ds?: number; es?: number;
  sp?: number; bp?: number; si?: number; di?: number; ip?: number; flags?: number;
}
export interface Vector {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Required<Regs>; ram: [number, number][] };
  final: { regs: Regs; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

interface Metadata {
  opcodes: Record<string, { 'flags-mask'?: number; reg?: Record<string, { 'flags-mask'?: number }> }>;
}

const metadata = JSON.parse(readFileSync(join(FIXTURES, 'metadata.json'), 'utf8')) as Metadata;
const revoked = new Set(
  readFileSync(join(FIXTURES, 'revocation_list.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')),
);

/** The forms in the sample: "00", "80.3", ... */
export function forms(): string[] {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.json.gz')).map((f) => f.replace('.json.gz', '')).sort();
}

export function loadVectors(form: string): Vector[] {
  const tests = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, `${form}.json.gz`))).toString('utf8')) as Vector[];
  return tests.filter((t) => !revoked.has(t.hash));
}

function flagsMask(form: string): number {
  const [op, reg] = form.split('.');
  const entry = metadata.opcodes[op];
  const mask = reg !== undefined ? entry?.reg?.[reg]?.['flags-mask'] : undefined;
  return mask ?? entry?.['flags-mask'] ?? 0xffff;
}

const REG16: [keyof Regs, number][] = [['ax', 0], ['cx', 1], ['dx', 2], ['bx', 3], ['sp', 4], ['bp', 5], ['si', 6], ['di', 7]];
const SEGS: [keyof Regs, number][] = [['es', ES], ['cs', CS], ['ss', SS], ['ds', DS]];

/** One CPU with 16 MiB, reused across vectors (a fresh 16 MiB per vector would dominate the run time). */
export class SingleStepRunner {
  readonly phys = PhysicalMemory.withRam(16 * 1024 * 1024);
  readonly cpu = new Cpu(this.phys);

  /** Runs one vector; returns null when it passes, else a description of every mismatch. */
  run(form: string, t: Vector): string | null {
    const { cpu, phys } = this;
    cpu.reset();
    cpu.setA20(true);
    cpu.lastSegmentFault.seg = -1;
    for (const [addr, value] of t.initial.ram) phys.write8(addr, value);
    const init = t.initial.regs;
    for (const [name, r] of REG16) cpu.reg16[r * 2] = init[name] as number;
    for (const [name, seg] of SEGS) cpu.setRealModeSegment(seg, init[name] as number, seg === CS ? ATTR_REAL_MODE_CODE : ATTR_REAL_MODE_DATA);
    cpu.st[S_EIP] = init.ip;
    setEflags(cpu.st, init.flags & 0x0fff);
    cpu.flushTlb();

    let steps = 0;
    let crash: unknown = null;
    try {
      while (!cpu.halted && steps < 64) {
        const reason = cpu.run(1);
        steps++;
        if (reason === 'shutdown') break;
      }
    } catch (e) {
      crash = e;
    }

    const problems: string[] = [];
    if (crash) problems.push(`host exception: ${crash instanceof Error ? crash.stack : String(crash)}`);
    if (!cpu.halted) problems.push(`did not reach HLT (${cpu.stopReason ?? 'ran out of steps'} ${cpu.stopDetail})`);
    const mask = flagsMask(form);
    const op = form.split('.')[0];
    const ignoreHighFlags = op === '9D' || op === 'CF';
    for (const [name, r] of REG16) {
      const want = t.final.regs[name] ?? init[name];
      const got = cpu.reg16[r * 2];
      if (got !== want) problems.push(`${name}: got ${hex(got)} want ${hex(want)}`);
    }
    for (const [name, seg] of SEGS) {
      const want = t.final.regs[name] ?? init[name];
      const got = cpu.segmentSelector(seg);
      if (got !== want) problems.push(`${name}: got ${hex(got)} want ${hex(want)}`);
    }
    const wantIp = t.final.regs.ip ?? init.ip;
    if ((cpu.eip & 0xffff) !== wantIp) problems.push(`ip: got ${hex(cpu.eip)} want ${hex(wantIp)}`);
    let flagMask = mask & 0xffff;
    if (ignoreHighFlags) flagMask &= 0x0fff;
    const wantFlags = t.final.regs.flags ?? init.flags & 0x0fff;
    const gotFlags = cpu.eflags & 0xffff;
    if ((gotFlags & flagMask) !== (wantFlags & flagMask)) {
      problems.push(`flags: got ${hex(gotFlags)} want ${hex(wantFlags)} (mask ${hex(flagMask)}, differing ${hex((gotFlags ^ wantFlags) & flagMask)})`);
    }
    // The FLAGS word an exception pushed: found from the final SS:SP (the vectors' flag_address
    // field points one byte below it).
    const finalSs = t.final.regs.ss ?? init.ss;
    const finalSp = t.final.regs.sp ?? init.sp;
    const flagAddress = t.exception ? finalSs * 16 + ((finalSp + 4) & 0xffff) : undefined;
    for (const [addr, want] of t.final.ram) {
      let got = phys.read8(addr);
      let expected = want;
      if (flagAddress !== undefined && (addr === flagAddress || addr === flagAddress + 1)) {
        const byteMask = addr === flagAddress ? flagMask & 0xff : (flagMask >> 8) & 0xff;
        got &= byteMask;
        expected &= byteMask;
      }
      if (got !== expected) problems.push(`ram[${hex(addr)}]: got ${hex(phys.read8(addr))} want ${hex(want)}`);
    }
    // Leave memory zeroed for the next vector.
    for (const [addr] of t.initial.ram) phys.write8(addr, 0);
    for (const [addr] of t.final.ram) phys.write8(addr, 0);
    return problems.length === 0 ? null : problems.join('; ');
  }
}

/**
 * Vectors where a 386 honestly differs from the 286 the sample was captured on. Each rule is
 * one line: which vectors, and why. A vector an exclusion covers is not counted as passed.
 */
export const EXCLUSIONS: { reason: string; applies(form: string, t: Vector, runner: SingleStepRunner): boolean }[] = [
  {
    reason: '8C/8E with ModRM sreg 4 or 5: FS and GS exist on a 386; the 286 raises #UD',
    applies: (form, t) => (form === '8C' || form === '8E') && [4, 5].includes((modrmOf(t) >> 3) & 7),
  },
  {
    reason: 'instruction longer than 10 bytes: the 286 raises #GP(13); a 386 accepts up to 15',
    applies: (_form, t) => t.bytes.length - 1 > 10,
  },
  {
    reason: 'word crossing offset FFFF: a 386 raises #GP or #SS (SDM Vol. 3, segment wraparound); the 286 wraps string accesses and raises #GP for the stack',
    applies: (_form, _t, runner) => {
      const f = runner.cpu.lastSegmentFault;
      return f.seg >= 0 && f.offset <= 0xffff && f.offset + f.bytes - 1 > 0xffff;
    },
  },
  {
    reason: 'x87 escape whose memory operand faults: the 286 checks the operand for its coprocessor; this 386 has none and does not touch it',
    applies: (form, t) => form >= 'D8' && form <= 'DF' && t.exception !== undefined,
  },
];

/** The ModRM byte of a vector's instruction (after its prefixes). */
function modrmOf(t: Vector): number {
  let i = 0;
  while ([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3].includes(t.bytes[i])) i++;
  return t.bytes[i + 1];
}

/** Which exclusion covers a failed vector, if any. */
export function exclusionFor(runner: SingleStepRunner, form: string, t: Vector): string | undefined {
  return EXCLUSIONS.find((e) => e.applies(form, t, runner))?.reason;
}

function hex(v: number): string {
  return v.toString(16).toUpperCase();
}
