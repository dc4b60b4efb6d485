/**
 * The translation cache (DESIGN §6): a decoded block that has run often enough is compiled to
 * one JavaScript function, made with `new Function` and named after its linear address
 * (`block_00007c3a_32`), so that a profile of a guest reads as the guest's code. A block on a loop
 * of several blocks is compiled with the others, as a region (`region_...`: src/jit/region.ts,
 * which writes each of its blocks as this file writes a block that does not loop).
 *
 * The function holds no semantics of its own. For the common forms (ALU, MOV, INC/DEC, shifts
 * by a constant, TEST, LEA, PUSH/POP, MOVZX/MOVSX, IMUL, Jcc, JMP: the opcode table's entries with a `compiled`
 * form, which the decoder puts in Insn.form) an emitter (src/cpu/emit.ts, next to each form's
 * semantics) writes the calls the form's semantics function would make, with the decoded
 * operation, size, registers and immediate as constants; any other instruction is a call of
 * its semantics function. Each call site in a compiled block only ever sees one function, so V8
 * inlines it there and folds the constants: the block becomes straight-line code.
 *
 * Within a block the guest's general registers live in JavaScript locals, loaded as the function
 * starts and written back to the state array before anything could see it (a call of a
 * semantics function, a return, a fault: emit.ts says how emitters name them); and a flag nobody
 * can see before it is set again is not computed.
 *
 * A block that ends in a near relative branch back to its own first instruction (a loop) loops
 * inside its function for as long as the branch is taken, the budget lasts, the TLB is not
 * flushed and nothing needs the run loop's attention: it is chained to itself without leaving
 * the function, as the run loop would chain it.
 *
 * The contract with the run loop (runChunk in src/cpu/run-loop.ts) is the interpreter's, instruction for
 * instruction:
 * - Only the last instruction of an iteration reads EIP; before it runs, S_INSN_EIP, S_EIP and
 *   `cpu.retiredInChunk` (virtual time) are set as the interpreter sets them (a loop's closing
 *   branch that the block takes itself reads none of them: EIP is set as the loop leaves, as
 *   the interpreter would have left it, and the time between rounds where a round may read it,
 *   by an access to memory or a call: the local APIC's timer).
 * - After every instruction that is not quiet, `cpu.attention` is looked at (a quiet one cannot
 *   set it). When it is set after an instruction that is not the last, EIP is set past that
 *   instruction, the flags and registers are in the state array, `cpu.compiledEarlyStop` is
 *   true and the function returns the instructions retired.
 * - Otherwise it returns after the last instruction has run (the run loop then counts it, since
 *   it may not have retired: a REP chunk, a VM exit) with the instructions before it retired.
 * - A fault (GUEST_FAULT) leaves the function with `cpu.compiledFaultIndex` set to the index of
 *   the faulting instruction and `cpu.compiledFaultRetired` to the instructions retired before
 *   its iteration began; the state is the faulting instruction's, as in the interpreter.
 */
import type { CompiledBlock, RegionPart } from '../cpu/block-cache.ts';
import { beginEmission, flagsLiveAfter, registerUse } from '../cpu/emit.ts';
import type { Insn, Semantics } from '../cpu/insn.ts';
import { execJcc, execJmpRel } from '../cpu/ops/control.ts';
import { S_EIP, S_FLAT_SEGMENTS, S_INSN_EIP } from '../cpu/state.ts';
import { regionSource } from './region.ts';
import { blockSteps, fusedCondition, HELPER_NAMES, HELPER_VALUES, hex, NO_REGISTERS, registersIn, registersInArray, stopAndFaultLines, writeBack, type Step } from './steps.ts';

/** Opcodes of the near branches whose target is EIP-relative: Jcc, JMP rel, LOOPcc, JCXZ. */
function isNearRelativeBranch(opcode: number): boolean {
  return (opcode >= 0x70 && opcode <= 0x7f) || (opcode >= 0x180 && opcode <= 0x18f) || (opcode >= 0xe0 && opcode <= 0xe3) || opcode === 0xe9 || opcode === 0xeb;
}

/**
 * A loop's closing branch that the block can take itself: a Jcc or JMP of 32-bit operand size
 * back to the block's first instruction (it cannot fault: that instruction is inside CS's limit,
 * or the block would not run). A JZ, JNZ, JS or JNS just after an instruction whose flags are
 * deferred tests that instruction's result; any other Jcc reads the flags (a 'sync').
 *
 * Records still deferred at the branch are carried into the next round unmade: exact only for an
 * instruction none of whose flags is live at the block's start (flagsLiveAfter: whatever could see
 * them in the next round sees flags set after them). One that is not becomes a 'sync' here, which
 * makes the records before it.
 */
function closingBranch(insns: readonly Insn[], steps: Step[], liveAtStart: number, inArray: boolean): string | null {
  const last = insns.length - 1;
  const d = insns[last];
  if (!d.o32 || d.offset + d.length + d.imm !== 0) return null;
  const jump = d.execute === execJmpRel;
  if (!jump && d.execute !== execJcc) return null;
  for (let k = last - 1; k >= 0 && steps[k].flags !== 'sync'; k--) {
    if (steps[k].flags === 'deferred' && (insns[k].form!.flags(insns[k]).writes & liveAtStart) !== 0) {
      // Written out as it was: it records its flags every round, after the records before it.
      beginEmission(inArray);
      const js = insns[k].form!.emit(insns[k], `x${k}`, true)!;
      steps[k] = { ...steps[k], js, registers: inArray ? NO_REGISTERS : registerUse(), flags: 'sync' };
      break;
    }
  }
  if (jump) {
    steps[last] = { ...steps[last], flags: 'none' };
    return 'true';
  }
  const fused = fusedCondition(insns, steps, last);
  // (Tested directly, it reads no flag of the state array.)
  steps[last] = { ...steps[last], flags: fused !== null ? 'none' : 'sync' };
  return fused ?? `testCondition(st, ${d.opcode & 15})`;
}

/** The JavaScript source of a block's function: see the file comment for its contract. */
export function compiledSource(insns: readonly Insn[], name: string): string {
  const last = insns.length - 1;
  const length = insns.length;
  const loops = isNearRelativeBranch(insns[last].opcode);
  const lines: string[] = [];
  const { live, liveAtStart } = flagsLiveAfter(insns);
  const inArray = registersInArray(insns);
  const steps = blockSteps(insns, live, inArray, loops);
  const taken = loops ? closingBranch(insns, steps, liveAtStart, inArray) : null;
  // The registers live in locals for the whole function: loaded as it starts, and written back
  // before anything could see the array (a call of a semantics function, a return, a fault).
  let named = 0, written = 0;
  for (const step of steps) {
    named |= step.registers.reads | step.registers.writes;
    written |= step.registers.writes;
  }
  // (A call may load a segment register: which segments are flat is read again too.)
  const reload = registersIn(named).map((n) => `r${n} = r[${n}]; `).join('') + `flat = st[${S_FLAT_SEGMENTS}]; `;
  const temps = steps.flatMap((step, k) => (step.flags === 'deferred' ? [`p${k}_0 = 0`, `p${k}_1 = 0`] : []));
  const bindings = insns.map((_, k) => `x${k} = I[${k}], f${k} = F[${k}]`).join(', ');
  lines.push(`const ${bindings};`);
  lines.push(`return function ${name}(cpu, st, budget, retiredBefore) {`);
  lines.push(`  const base = st[${S_EIP}], r = cpu.reg, generation = cpu.translationGeneration;`);
  lines.push(`  let k = 0, done = 0, flat = st[${S_FLAT_SEGMENTS}]${registersIn(named).map((n) => `, r${n} = r[${n}]`).join('')}${temps.map((t) => `, ${t}`).join('')};`);
  lines.push(`  let stopAt = -1, stopEip = 0${taken !== null ? ', taken = false' : ''};`);
  lines.push('  try {');
  // The instructions run inside a labelled block: an early stop leaves it for the code after it.
  lines.push('    body: {');
  const pad = loops ? '        ' : '      '; // the body's indent, inside the loop or not
  if (loops) lines.push('      for (;;) {');
  // Where the records deferred before each instruction are made: at the next instruction that
  // reads or writes the flags in the state array (in a loop not closed by its own branch, the
  // branch too), else where the block returns.
  const makesRecords = steps.map((s, k) => s.flags === 'sync' || (k === last && loops && taken === null));
  const nextMaking = steps.map((_, j) => {
    for (let s = j + 1; s <= last; s++) if (makesRecords[s]) return s;
    return Infinity;
  });
  // The records deferred and not made yet, in order, on the path through the block.
  let pending: string[] = [];
  const make = () => {
    const js = pending.map((record) => `${record} `).join('');
    pending = [];
    return js;
  };
  // A call works on the array: what the locals hold goes there first, and comes back after.
  const statements = (step: Step) => (step.call ? `${writeBack(written)}${step.js} ${reload}` : step.js);
  for (let k = 0; k < last; k++) {
    const d = insns[k];
    const step = steps[k];
    const before = makesRecords[k] ? make() : '';
    // A quiet instruction can neither fault (k says which one did) nor set cpu.attention (and a
    // compiled block starts with it clear).
    lines.push(step.quiet ? `${pad}${before}${step.js}` : `${pad}k = ${k}; ${before}${statements(step)}`);
    if (step.flags === 'deferred') pending.push(step.record);
    if (!step.quiet) lines.push(`${pad}if (cpu.attention !== 0) { stopAt = ${k}; stopEip = (base + ${d.offset + d.length}) | 0; break body; }`);
  }
  const d = insns[last];
  const step = steps[last];
  const leave = (eip: string) =>
    `st[${S_INSN_EIP}] = (base + ${d.offset}) | 0; st[${S_EIP}] = ${eip}; cpu.retiredInChunk = retiredBefore + done + ${last};`;
  if (taken !== null) {
    // The branch taken by the block itself: EIP and the rest are written only as the loop leaves.
    const before = makesRecords[last] ? make() : '';
    lines.push(`        ${before}taken = ${taken};`);
    // (A round of quiet instructions can neither set cpu.attention nor flush the TLB: then only
    // the budget is looked at. A compiled block starts with nothing pending.)
    const quietRound = steps.slice(0, last).every((x) => x.quiet);
    lines.push(`        if (!taken || ${quietRound ? '' : 'cpu.attention !== 0 || cpu.translationGeneration !== generation || '}done + ${2 * length} > budget) break;`);
    // (Virtual time as the run loop leaves it between rounds, where a round may read it: an
    // access to memory, the local APIC's timer.)
    lines.push(`        ${quietRound ? '' : `cpu.retiredInChunk = retiredBefore + done + ${last}; `}done += ${length};`);
    lines.push('      }');
    // Leaving: written after the loop, not in the branch that breaks out of it. With one edge out
    // of the loop V8 makes tighter code of the same loop (the ALU loop: 3,300-3,900 MIPS in every
    // run, where it ran at 2,240-2,380 in most).
    lines.push(`      ${make()}${leave(`taken ? base : (base + ${d.offset + d.length}) | 0`)}`);
  } else {
    // (In a loop, what is deferred is made before the branch: nothing is carried into the next round.)
    const before = makesRecords[last] ? make() : '';
    lines.push(`${pad}k = ${last}; ${before}${leave(`(base + ${d.offset + d.length}) | 0`)}`);
    // A call that ends a block that does not loop leaves the array as the block's last word:
    // nothing to load back into locals, nor to write back after.
    lines.push(`${pad}${step.call && !loops ? `${writeBack(written)}${step.js}` : statements(step)}`);
    if (step.flags === 'deferred') pending.push(step.record);
    if (loops) {
      // Round again only when the branch went back to this block's start, the TLB was not flushed
      // (the interpreter follows a chain only within one translation generation: after a flush the
      // next fetch walks the page tables again, setting A bits or faulting), and the next whole
      // iteration fits the budget; anything else is the run loop's business.
      lines.push(`        if (st[${S_EIP}] !== base || cpu.attention !== 0 || cpu.incompleteInstruction || cpu.translationGeneration !== generation || done + ${2 * length} > budget) break;`);
      lines.push(`        done += ${length};`);
      lines.push('      }');
    }
  }
  lines.push(`      ${make()}${step.call && !loops ? '' : writeBack(written)}return done + ${last};`);
  lines.push('    }');
  lines.push(...stopAndFaultLines(steps, nextMaking, written, 'done + stopAt + 1', 'cpu.compiledFaultIndex = k; cpu.compiledFaultRetired = done;'));
  return lines.join('\n');
}

/**
 * Compiles a decoded block of 16- or 32-bit code, with the rest of its region when it has one
 * (`region`, first the block itself: src/jit/region.ts). It is named after `linear`, the linear
 * address the guest first ran it at (CS base + EIP), which is what a profile's reader knows it by.
 */
export function compileBlock(insns: readonly Insn[], linear: number, code32: number, region: readonly RegionPart[] = []): CompiledBlock {
  const where = `${hex(linear >>> 0, 8)}_${code32 ? 32 : 16}`;
  if (region.length > 1) {
    const factory = new Function('I', 'F', ...HELPER_NAMES, regionSource(region, `region_${where}`)) as (I: (readonly Insn[])[], F: Semantics[][], ...helpers: unknown[]) => CompiledBlock;
    return factory(region.map((part) => part.insns), region.map((part) => part.insns.map((d) => d.execute)), ...HELPER_VALUES);
  }
  const semantics: Semantics[] = insns.map((d) => d.execute);
  const factory = new Function('I', 'F', ...HELPER_NAMES, compiledSource(insns, `block_${where}`)) as (I: readonly Insn[], F: Semantics[], ...helpers: unknown[]) => CompiledBlock;
  return factory(insns, semantics, ...HELPER_VALUES);
}
