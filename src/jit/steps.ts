/**
 * What a compiled block and a compiled region (src/jit/translation-cache.ts, src/jit/region.ts)
 * are made of: each instruction's statements, with the registers and flags it uses (a Step),
 * the helpers emitted code may call, and the code both write where a fault or an early stop
 * leaves them (which lazy records to make, which locals to write back).
 */
import { beginEmission, registerUse, type RegisterUse } from '../cpu/emit.ts';
import type { Insn } from '../cpu/insn.ts';
import { S_EIP, SF, ZF } from '../cpu/state.ts';
import { resultNegative, resultZero, testCondition } from '../cpu/flags.ts';
import { pop, push } from '../cpu/operands.ts';
import { addValue, aluAdc, aluAdd, aluAnd, aluOr, aluSbb, aluSub, aluValue, aluXor, andValue, dec, decValue, inc, incValue, orValue, subValue, test, xorValue } from '../cpu/ops/alu.ts';
import { jumpNear } from '../cpu/ops/control.ts';
import { signExtend } from '../cpu/ops/move.ts';
import { imul, imulValue } from '../cpu/ops/muldiv.ts';
import {
  rotateLeft, rotateLeftThroughCarry, rotateLeftValue, rotateRight, rotateRightThroughCarry, rotateRightValue, shiftArithmeticRight,
  shiftArithmeticRightValue, shiftLeft, shiftLeftValue, shiftRight, shiftRightValue,
} from '../cpu/ops/shift.ts';

/** What emitted code may call, by name (emit.ts). */
const HELPERS = {
  aluAdd, aluOr, aluAdc, aluSbb, aluAnd, aluSub, aluXor, aluValue, addValue, orValue, andValue, subValue, xorValue, inc, incValue, dec, decValue, test, testCondition, resultZero, resultNegative, jumpNear, push, pop,
  rotateLeft, rotateRight, rotateLeftThroughCarry, rotateRightThroughCarry, shiftLeft, shiftRight, shiftArithmeticRight,
  rotateLeftValue, rotateRightValue, shiftLeftValue, shiftRightValue, shiftArithmeticRightValue, imul, imulValue, signExtend,
};
export const HELPER_NAMES = Object.keys(HELPERS);
export const HELPER_VALUES = Object.values(HELPERS);

export const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** An instruction in a compiled block: its statements, and what they do with the registers and the flags. */
export interface Step {
  js: string;
  /** It can neither fault nor need the run loop (emit.ts, FlagEffect). */
  quiet: boolean;
  /** A call of its semantics function, which works on the state array. */
  call: boolean;
  registers: RegisterUse;
  /**
   * What it does with the flags in the state array: 'deferred', its value alone, its flags
   * recorded later (`record`); 'sync', it reads or writes them there, so the records deferred
   * before it are made first; 'none', it leaves them alone.
   */
  flags: 'deferred' | 'sync' | 'none';
  record: string;
  /** For 'deferred': the expression of its result, of `size` bits (a closing branch may test its ZF or SF). */
  result: string;
  size: number;
}

/**
 * The statements of each instruction, with the registers each names (emit.ts, RegisterUse) and
 * what it does with the flags. The flags of an instruction that has a deferred form (emit.ts,
 * DeferredFlags) and whose flags someone may see are recorded only where something can see them:
 * before an instruction that reads or writes the flags in the state array, where the block
 * returns, and in the catch for a fault (the records of the instructions before the faulting
 * one). Between, the flags live as the operands of their instructions, in locals. `first` is
 * the number of the block's first instruction in its function (a region holds several blocks).
 */
export function blockSteps(insns: readonly Insn[], flagsLive: boolean[], registersInArray: boolean, loops: boolean, first = 0): Step[] {
  return insns.map((d, k): Step => {
    const g = first + k; // its number in the function, which names its variables
    const form = d.form;
    if (form === null) return { js: `f${g}(cpu, x${g});`, quiet: false, call: true, registers: NO_REGISTERS, flags: 'sync', record: '', result: '', size: 0 };
    const effect = form.flags(d);
    beginEmission(registersInArray);
    const deferred = form.defer(d, `p${g}_`);
    // (An instruction that may fault is deferred in a loop only: each one adds records to the
    // block's exits, which cost more to compile than they save in a block that runs through once.)
    if (deferred !== null && flagsLive[k] && (effect.quiet || loops)) return { js: deferred.js, quiet: effect.quiet, call: false, registers: registersInArray ? NO_REGISTERS : registerUse(), flags: 'deferred', record: deferred.record, result: deferred.result, size: deferred.size };
    beginEmission(registersInArray);
    const js = form.emit(d, `x${g}`, flagsLive[k]);
    const registers = registersInArray ? NO_REGISTERS : registerUse();
    if (js === null) return { js: `f${g}(cpu, x${g});`, quiet: false, call: true, registers: NO_REGISTERS, flags: 'sync', record: '', result: '', size: 0 };
    // Written out with dead flags, an instruction with a deferred form leaves them alone (FlagDeferrer).
    const touches = (effect.reads | effect.writes) !== 0 && (flagsLive[k] || deferred === null);
    return { js, quiet: effect.quiet, call: false, registers, flags: touches ? 'sync' : 'none', record: '', result: '', size: 0 };
  });
}

export const NO_REGISTERS: RegisterUse = { reads: 0, writes: 0, viaArray: 0 };

/**
 * Whether a block keeps its registers in the state array rather than in locals: when more than
 * one instruction in four is a call of its semantics function, around each of which the
 * locals would be written back and loaded again (random code, string and system instructions).
 */
export const registersInArray = (insns: readonly Insn[]) => insns.filter((d) => d.form === null).length * 4 > insns.length;

/** The registers in `mask`, as their numbers. */
export const registersIn = (mask: number) => [0, 1, 2, 3, 4, 5, 6, 7].filter((n) => mask & (1 << n));


/** Statements writing the locals of the registers in `mask` back to the state array. */
export const writeBack = (mask: number) => registersIn(mask).map((n) => `r[${n}] = r${n}; `).join('');

/**
 * The records still to make when compiled code stops at step `v` (a fault at step v, which has
 * not run; or an early stop after it, which has: `ran`), in order: one line per step, not per
 * place it may stop. `nextMaking[j]` is the first step after j that makes the records deferred
 * before it (Infinity: none, they are made where the code returns).
 */
function recordsAt(steps: readonly Step[], nextMaking: readonly number[], v: string, ran: boolean): string {
  return steps.map((s, j) => (s.flags !== 'deferred' ? '' : `if (${v} ${ran ? '>=' : '>'} ${j}${nextMaking[j] === Infinity ? '' : ` && ${v} < ${nextMaking[j]}`}) ${s.record} `)).join('');
}

/**
 * The lines of a catch that leave the registers as they were before the faulting step `k`: the
 * locals, but where it was a call (the array holds what the call did) or reached a register
 * through the array (there, the array's). One case per distinct write-back, the commonest last.
 */
function faultWriteBacks(steps: readonly Step[], written: number): string[] {
  const faultStatements = new Map<string, number[]>();
  steps.forEach((s, k) => {
    const js = s.call ? '' : writeBack(written & ~s.registers.viaArray);
    faultStatements.set(js, [...(faultStatements.get(js) ?? []), k]);
  });
  const cases = [...faultStatements].sort((a, b) => b[1].length - a[1].length);
  return cases.map(([js, ks], i) => {
    if (i === cases.length - 1) return i === 0 ? `    ${js}` : `    else { ${js}}`;
    return `    ${i === 0 ? '' : 'else '}if (${ks.map((k) => `k === ${k}`).join(' || ')}) { ${js}}`;
  });
}

/**
 * A JZ, JNZ, JS or JNS (instruction `k`) just after an instruction whose flags are deferred tests
 * that instruction's result: its condition as an expression that reads no flag of the state
 * array. Null for any other Jcc, which reads the flags (testCondition).
 */
export function fusedCondition(insns: readonly Insn[], steps: readonly Step[], k: number): string | null {
  const cc = insns[k].opcode & 15;
  const tested = k > 0 ? steps[k - 1] : null;
  const flag = cc >> 1 === 2 ? ZF : cc >> 1 === 4 ? SF : 0;
  if (tested === null || tested.flags !== 'deferred' || flag === 0 || (insns[k - 1].form!.flags(insns[k - 1]).writes & flag) === 0) return null;
  const test = `${flag === ZF ? 'resultZero' : 'resultNegative'}(${tested.result}, ${32 - tested.size})`;
  return cc & 1 ? `!${test}` : test;
}

/**
 * The end of a compiled function's `try` and its `catch`. An early stop (cpu.attention set by
 * instruction `stopAt`, which has run) makes the records still deferred, writes the registers
 * back and returns `stopped`; a fault at instruction `k` leaves the registers and the flags as the
 * instructions before it left them, says where it was (`faultWhere`) and throws on.
 */
export function stopAndFaultLines(steps: readonly Step[], nextMaking: readonly number[], written: number, stopped: string, faultWhere: string): string[] {
  return [
    `    ${recordsAt(steps, nextMaking, 'stopAt', true)}${writeBack(written)}st[${S_EIP}] = stopEip; cpu.compiledEarlyStop = true; return ${stopped};`,
    '  } catch (e) {',
    ...faultWriteBacks(steps, written),
    `    ${recordsAt(steps, nextMaking, 'k', false)}`,
    `    ${faultWhere}`,
    '    throw e;',
    '  }',
    '};',
  ];
}
