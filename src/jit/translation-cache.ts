/**
 * The translation cache (DESIGN §6): a decoded block that has run often enough is compiled to
 * one JavaScript function, made with `new Function` and named after its linear address
 * (`block_00007c3a_32`), so that a profile of a guest reads as the guest's code.
 *
 * The function holds no semantics of its own. For the common forms (ALU, MOV, INC/DEC, shifts
 * by a constant, TEST, LEA, PUSH/POP, Jcc, JMP) an emitter (src/cpu/emit.ts, next to each form's
 * semantics) writes the calls the form's semantics function would make, with the decoded
 * operation, size, registers and immediate as constants; any other instruction is a call of
 * its semantics function. Each call site in a compiled block only ever sees one function, so V8
 * inlines it there and folds the constants: the block becomes straight-line code.
 *
 * Within a block, the 32-bit registers of quiet instructions (register-only, which can neither
 * fault nor need the run loop) live in JavaScript locals, written back to the state array before
 * anything could see it; and a flag nobody can see before it is set again is not computed.
 *
 * A block that ends in a near relative branch back to its own first instruction (a loop) loops
 * inside its function for as long as the branch is taken, the budget lasts, the TLB is not
 * flushed and nothing needs the run loop's attention: it is chained to itself without leaving
 * the function, as the run loop would chain it.
 *
 * The contract with the run loop (runChunk in src/cpu/run-loop.ts) is the interpreter's, instruction for
 * instruction:
 * - Only the last instruction of an iteration reads EIP; before it runs, S_INSN_EIP and S_EIP
 *   are set as the interpreter sets them.
 * - After every instruction `cpu.attention` is looked at. When it is set after an instruction
 *   that is not the last, EIP is set past that instruction, `cpu.compiledEarlyStop` is true and
 *   the function returns the instructions retired.
 * - Otherwise it returns after the last instruction has run (the run loop then counts it, since
 *   it may not have retired: a REP chunk, a VM exit) with the instructions before it retired.
 * - A fault (GUEST_FAULT) leaves the function with `cpu.compiledFaultIndex` set to the index of
 *   the faulting instruction and `cpu.compiledFaultRetired` to the instructions retired before
 *   its iteration began; the state is the faulting instruction's, as in the interpreter.
 */
import type { CompiledBlock } from '../cpu/block-cache.ts';
import { NO_FLAGS_MEMORY, NO_FLAGS_REGISTERS, READS_EVERY_FLAG, noFlags, type Emitter, type FlagEffectOf } from '../cpu/emit.ts';
import type { Insn, Semantics } from '../cpu/insn.ts';
import { testCondition } from '../cpu/flags.ts';
import { pop, push, readReg, writeReg } from '../cpu/operands.ts';
import {
  alu, aluValue, dec, decValue, emitAluAccImm, emitAluEG, emitAluEImm, emitAluGE, emitIncDecE, emitIncDecReg, emitTestAccImm, emitTestEG,
  execAluAccImm, execAluEG, execAluEImm, execAluGE, execIncDecE, execIncDecReg, execTestAccImm, execTestEG, flagsAluAccImm, flagsAluEGorGE,
  flagsAluEImm, flagsIncDec, flagsTest, inc, incValue, test,
} from '../cpu/ops/alu.ts';
import { emitJcc, emitJmpRel, execJcc, execJmpRel, jumpNear } from '../cpu/ops/control.ts';
import { emitLea, emitMovEG, emitMovEImm, emitMovGE, emitMovRegImm, emitNop, execLea, execMovEG, execMovEImm, execMovGE, execMovRegImm, execNop } from '../cpu/ops/move.ts';
import {
  emitShiftGroup, execShiftGroup, flagsShiftGroup, rotateLeft, rotateLeftThroughCarry, rotateRight, rotateRightThroughCarry, shiftArithmeticRight,
  shiftLeft, shiftRight,
} from '../cpu/ops/shift.ts';
import { emitPopReg, emitPushReg, execPopReg, execPushReg } from '../cpu/ops/stack.ts';
import { ARITH_FLAGS, S_EIP, S_INSN_EIP } from '../cpu/state.ts';

/** The forms the translation cache writes out itself: each semantics function with its emitter and its effect on the flags. */
const FORMS = new Map<Semantics, { emit: Emitter; flags: FlagEffectOf }>([
  [execAluEG, { emit: emitAluEG, flags: flagsAluEGorGE }],
  [execAluGE, { emit: emitAluGE, flags: flagsAluEGorGE }],
  [execAluAccImm, { emit: emitAluAccImm, flags: flagsAluAccImm }],
  [execAluEImm, { emit: emitAluEImm, flags: flagsAluEImm }],
  [execIncDecReg, { emit: emitIncDecReg, flags: flagsIncDec }],
  [execIncDecE, { emit: emitIncDecE, flags: flagsIncDec }],
  [execTestEG, { emit: emitTestEG, flags: flagsTest }],
  [execTestAccImm, { emit: emitTestAccImm, flags: flagsTest }],
  [execMovEG, { emit: emitMovEG, flags: noFlags }],
  [execMovGE, { emit: emitMovGE, flags: noFlags }],
  [execMovEImm, { emit: emitMovEImm, flags: noFlags }],
  [execMovRegImm, { emit: emitMovRegImm, flags: () => NO_FLAGS_REGISTERS }],
  [execLea, { emit: emitLea, flags: () => NO_FLAGS_REGISTERS }],
  [execNop, { emit: emitNop, flags: () => NO_FLAGS_REGISTERS }],
  [execShiftGroup, { emit: emitShiftGroup, flags: flagsShiftGroup }],
  [execPushReg, { emit: emitPushReg, flags: () => NO_FLAGS_MEMORY }],
  [execPopReg, { emit: emitPopReg, flags: () => NO_FLAGS_MEMORY }],
  [execJcc, { emit: emitJcc, flags: () => READS_EVERY_FLAG }],
  [execJmpRel, { emit: emitJmpRel, flags: () => NO_FLAGS_MEMORY }], // not quiet: a target past CS's limit is #GP
]);

/**
 * Which instructions' flags someone may see, by a backward pass over the block: a flag is live
 * after the block, before any instruction that is not quiet (a fault or an exit to the run loop
 * shows EFLAGS to the guest), and where an instruction reads it. An instruction whose flags are
 * all overwritten before any of that may leave them alone: its lazy record is never written,
 * and the previous one stands for the flags it does not set.
 */
export function flagsLiveAfter(insns: readonly Insn[]): boolean[] {
  const live: boolean[] = new Array(insns.length);
  let liveFlags = ARITH_FLAGS;
  for (let k = insns.length - 1; k >= 0; k--) {
    const effect = FORMS.get(insns[k].execute)?.flags(insns[k]) ?? READS_EVERY_FLAG;
    live[k] = !effect.quiet || (effect.writes & liveFlags) !== 0;
    liveFlags = effect.quiet ? (liveFlags & ~effect.writes) | effect.reads : ARITH_FLAGS;
  }
  return live;
}

/** What emitted code may call, by name (emit.ts). */
const HELPERS = {
  alu, aluValue, inc, incValue, dec, decValue, test, testCondition, jumpNear, readReg, writeReg, push, pop,
  rotateLeft, rotateRight, rotateLeftThroughCarry, rotateRightThroughCarry, shiftLeft, shiftRight, shiftArithmeticRight,
};
const HELPER_NAMES = Object.keys(HELPERS);
const HELPER_VALUES = Object.values(HELPERS);

/** Opcodes of the near branches whose target is EIP-relative: Jcc, JMP rel, LOOPcc, JCXZ. */
function isNearRelativeBranch(opcode: number): boolean {
  return (opcode >= 0x70 && opcode <= 0x7f) || (opcode >= 0x180 && opcode <= 0x18f) || (opcode >= 0xe0 && opcode <= 0xe3) || opcode === 0xe9 || opcode === 0xeb;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** An instruction in a compiled block: its statements, and whether it is quiet (emit.ts, FlagEffect). */
interface Step {
  js: string;
  quiet: boolean;
}

/**
 * The statements of the block's instructions, with the 32-bit registers of the quiet ones in
 * locals (r0..r7): V8 cannot keep r[n] in a machine register itself, because the state array
 * the flags are recorded in shares r's buffer. A local is loaded before its first use, and
 * written back before anything that could see the array: an instruction that is not quiet
 * (a fault shows the registers), a call of a semantics function, the block's end.
 */
function blockSteps(insns: readonly Insn[]): { steps: Step[]; localsUsed: number } {
  const flagsLive = flagsLiveAfter(insns);
  let loaded = 0, dirty = 0, used = 0;
  const writeBack = () => {
    let js = '';
    for (let n = 0; n < 8; n++) if (dirty & (1 << n)) js += `r[${n}] = r${n}; `;
    dirty = 0;
    return js;
  };
  const steps = insns.map((d, k): Step => {
    const form = FORMS.get(d.execute);
    const js = form?.emit(d, `x${k}`, flagsLive[k]) ?? `f${k}(cpu, x${k});`;
    const quiet = form !== undefined && form.flags(d).quiet;
    // Registers in locals: a quiet instruction that names them only as r[0]..r[7] (8- and
    // 16-bit ones go through readReg/writeReg, which read the array).
    if (!quiet || /readReg|writeReg/.test(js)) {
      const withArray = writeBack() + js;
      // A jump leaves the general registers alone, so the locals stay valid across it.
      if (d.execute !== execJcc && d.execute !== execJmpRel) loaded = 0;
      return { js: withArray, quiet };
    }
    // Reads first (an assignment's right side runs before it), then what it assigns.
    let load = '';
    for (const [, digit, assigns] of js.matchAll(/r\[(\d)\]( = )?/g)) {
      const bit = 1 << Number(digit);
      if (!assigns && !(loaded & bit)) load += `r${digit} = r[${digit}]; `;
      if (!assigns) loaded |= bit;
    }
    for (const [, digit, assigns] of js.matchAll(/r\[(\d)\]( = )?/g)) {
      const bit = 1 << Number(digit);
      used |= bit;
      if (assigns) loaded |= bit, dirty |= bit;
    }
    return { js: load + js.replace(/r\[(\d)\]/g, 'r$1'), quiet };
  });
  // Whatever is still dirty after the last instruction is written back before the block ends.
  steps[steps.length - 1].js += writeBack();
  return { steps, localsUsed: used };
}

/** The JavaScript source of a block's function: see the file comment for its contract. */
export function compiledSource(insns: readonly Insn[], name: string): string {
  const last = insns.length - 1;
  const length = insns.length;
  const loops = isNearRelativeBranch(insns[last].opcode);
  const lines: string[] = [];
  const { steps, localsUsed } = blockSteps(insns);
  const bindings = insns.map((_, k) => `x${k} = I[${k}], f${k} = F[${k}]`).join(', ');
  lines.push(`const ${bindings};`);
  lines.push(`return function ${name}(cpu, st, budget, retiredBefore) {`);
  lines.push(`  const base = st[${S_EIP}], r = cpu.reg, generation = cpu.translationGeneration;`);
  const locals = [0, 1, 2, 3, 4, 5, 6, 7].filter((n) => localsUsed & (1 << n)).map((n) => `r${n} = 0`);
  lines.push(`  let k = 0, done = 0${locals.length > 0 ? ', ' + locals.join(', ') : ''};`);
  lines.push('  try {');
  const pad = loops ? '      ' : '    '; // the body's indent, inside the loop or not
  if (loops) lines.push('    for (;;) {');
  for (let k = 0; k < last; k++) {
    const d = insns[k];
    // A quiet instruction can neither fault (k says which one did) nor set cpu.attention (and a
    // compiled block starts with it clear).
    lines.push(steps[k].quiet ? `${pad}${steps[k].js}` : `${pad}k = ${k}; ${steps[k].js}`);
    if (!steps[k].quiet) lines.push(`${pad}if (cpu.attention !== 0) { st[${S_EIP}] = (base + ${d.offset + d.length}) | 0; cpu.compiledEarlyStop = true; return done + ${k + 1}; }`);
  }
  const d = insns[last];
  lines.push(`${pad}k = ${last}; st[${S_INSN_EIP}] = (base + ${d.offset}) | 0; st[${S_EIP}] = (base + ${d.offset + d.length}) | 0;`);
  lines.push(`${pad}cpu.retiredInChunk = retiredBefore + done + ${last}; ${steps[last].js}`);
  if (loops) {
    // Round again only when the branch went back to this block's start, the TLB was not flushed
    // (the interpreter follows a chain only within one translation generation: after a flush the
    // next fetch walks the page tables again, setting A bits or faulting), and the next whole
    // iteration fits the budget; anything else is the run loop's business.
    lines.push(`      if (st[${S_EIP}] !== base || cpu.attention !== 0 || cpu.incompleteInstruction || cpu.translationGeneration !== generation || done + ${2 * length} > budget) break;`);
    lines.push(`      done += ${length};`);
    lines.push('    }');
  }
  lines.push(`    return done + ${last};`);
  lines.push('  } catch (e) {');
  lines.push('    cpu.compiledFaultIndex = k; cpu.compiledFaultRetired = done;');
  lines.push('    throw e;');
  lines.push('  }');
  lines.push('};');
  return lines.join('\n');
}

/**
 * Compiles a decoded block of 16- or 32-bit code. It is named after `linear`, the linear address
 * the guest first ran it at (CS base + EIP), which is what a profile's reader knows it by.
 */
export function compileBlock(insns: readonly Insn[], linear: number, code32: number): CompiledBlock {
  const name = `block_${hex(linear >>> 0, 8)}_${code32 ? 32 : 16}`;
  const semantics: Semantics[] = insns.map((d) => d.execute);
  const factory = new Function('I', 'F', ...HELPER_NAMES, compiledSource(insns, name)) as (I: readonly Insn[], F: Semantics[], ...helpers: unknown[]) => CompiledBlock;
  return factory(insns, semantics, ...HELPER_VALUES);
}
