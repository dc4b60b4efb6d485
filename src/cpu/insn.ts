/**
 * A decoded instruction: everything the decoder learned from its bytes, so that its semantics
 * never look at the instruction stream. The single-step path decodes into one scratch Insn;
 * the decoded-block cache (block-cache.ts) keeps one per cached instruction, so a loop is
 * decoded once and executed many times.
 *
 * A memory operand is kept as its recipe (segment, base, index, scale, displacement) because
 * its address depends on registers at the time it executes.
 */
import { snapshotClasses } from './state-graph.ts';
import type { Cpu } from './cpu.ts';
import type { CompiledForm } from './emit.ts';

export type Semantics = (cpu: Cpu, d: Insn) => void;

export class Insn {
  /** 0x00-0xFF, or 0x100 | second byte for 0F xx. */
  opcode = 0;
  modrm = 0;
  /** 1 when the operand size is 32 bits, 1 when the address size is 32 bits. */
  o32 = 0;
  a32 = 0;
  /** P_REP, P_REPNE, P_LOCK, P_SEG (decoder.ts). */
  prefixes = 0;
  imm = 0;
  imm2 = 0;
  /** Memory operand: segment register, base and index registers (-1: none), index shift, displacement. */
  eaSeg = 0;
  eaBase = -1;
  eaIndex = -1;
  eaShift = 0;
  eaDisp = 0;
  /** Offset of the instruction from the start of its block, and its length in bytes. */
  offset = 0;
  length = 0;
  execute: Semantics = notDecoded;
  /** How the translation cache writes it out (the opcode table's entry), or null: a call of `execute`. */
  form: CompiledForm | null = null;
  /** The table entry's decode-info bits (opcode-table.ts, D_*). */
  info = 0;
  /** Its hot form's number for the interpreter, or 0: run `execute` (hot-forms.ts). */
  hot = 0;
  /**
   * The operands of a hot form, as its chooser decoded them from the ModRM byte or the opcode:
   * the register it writes (or CMP and TEST compare; -1: none), and the register it reads
   * besides (-1: none) or, for a shift, its count.
   */
  dst = 0;
  src = -1;
}

function notDecoded(): void {
  throw new Error('executing an instruction that was never decoded');
}

/** The offset of the memory operand, from the registers as they are now. */
export function effectiveAddress(cpu: Cpu, d: Insn): number {
  const r = cpu.reg;
  let ea = d.eaDisp;
  if (d.eaBase >= 0) ea += r[d.eaBase];
  if (d.eaIndex >= 0) ea += r[d.eaIndex] << d.eaShift;
  return d.a32 !== 0 ? ea | 0 : ea & 0xffff;
}

// An instruction held to resume (Cpu.resumeInsn) is saved as decoded; its semantics are named statics.
snapshotClasses(Insn);
