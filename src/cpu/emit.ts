/**
 * What the translation cache (src/jit/translation-cache.ts) writes for one instruction: an emitter
 * takes a decoded Insn and returns JavaScript statements that do what its semantics function
 * does, with everything the decoder fixed (operation, size, registers, immediate) written in as
 * constants. The statements call the same semantic functions as the interpreter (alu, dec,
 * rotateLeft, testCondition...) and the CPU's own memory accesses (cpu.read, cpu.write), so an
 * instruction's meaning is still written once; what an emitter adds is only which calls, with
 * which constants. The helpers below mirror operands.ts, one for one. V8 inlines the calls into
 * the block's function and folds the constants.
 *
 * An emitter returns null for a form it does not specialize; the block then calls the
 * semantics function itself (still a direct call, from a site that sees only that function).
 *
 * In the statements: `cpu`, `st` (cpu.st), `r` (cpu.reg), the Insn's own variable (for helpers
 * that take one, such as jumpNear), and the helpers of src/jit/translation-cache.ts by name.
 */
import type { Insn } from './insn.ts';
import { ARITH_FLAGS } from './state.ts';

/**
 * JavaScript for one instruction, or null: call its semantics function. `x` names its Insn.
 * `flagsLive` false says that no flag it sets is read before being set again (the translation
 * cache's liveness pass, from the FlagEffects): it may then leave the flags alone.
 */
export type Emitter = (d: Insn, x: string, flagsLive: boolean) => string | null;

/**
 * What an instruction does to the six arithmetic flags, for the translation cache's liveness
 * pass: the flags it reads, the flags it always sets, and whether it is quiet: it can neither
 * fault nor need the run loop's attention, so nothing can observe the flags while it runs. An
 * instruction without a FlagEffect counts as reading every flag.
 */
export interface FlagEffect {
  reads: number;
  writes: number;
  quiet: boolean;
}
export type FlagEffectOf = (d: Insn) => FlagEffect;

/** A form that touches no flag; quiet when its operands are registers. */
export const NO_FLAGS_REGISTERS: FlagEffect = { reads: 0, writes: 0, quiet: true };
export const NO_FLAGS_MEMORY: FlagEffect = { reads: 0, writes: 0, quiet: false };
export const noFlags = (d: Insn): FlagEffect => (d.modrm >= 0xc0 ? NO_FLAGS_REGISTERS : NO_FLAGS_MEMORY);
/** What an instruction without a FlagEffect counts as. */
export const READS_EVERY_FLAG: FlagEffect = { reads: ARITH_FLAGS, writes: 0, quiet: false };

/** A register of `size` bits as an expression (readReg's meaning). */
export function regJs(n: number, size: number): string {
  return size === 32 ? `r[${n}]` : `readReg(cpu, ${n}, ${size})`;
}

/** A statement storing `value` in a register of `size` bits (writeReg's meaning). */
export function setRegJs(n: number, size: number, value: string): string {
  return size === 32 ? `r[${n}] = ${value};` : `writeReg(cpu, ${n}, ${size}, ${value});`;
}

/**
 * The memory operand's offset as an expression (effectiveAddress's meaning): the decoded
 * displacement, base and index as constants, the registers read when it runs.
 */
export function offsetJs(d: Insn): string {
  let sum = String(d.eaDisp);
  if (d.eaBase >= 0) sum += ` + r[${d.eaBase}]`;
  if (d.eaIndex >= 0) sum += ` + (r[${d.eaIndex}] << ${d.eaShift})`;
  return d.a32 !== 0 ? `((${sum}) | 0)` : `((${sum}) & 0xffff)`;
}

/** The ModRM r/m operand as an expression: a register, or memory (readE's meaning). */
export function readEJs(d: Insn, size: number): string {
  return d.modrm >= 0xc0 ? regJs(d.modrm & 7, size) : `cpu.read(${d.eaSeg}, ${offsetJs(d)}, ${size})`;
}

/**
 * A read-modify-write of the r/m operand: `update` gets the expression of the old value and
 * returns that of the new one. Memory is checked for writing before it is read, as
 * readEForUpdate does, so a fault leaves nothing changed.
 */
export function updateEJs(d: Insn, size: number, update: (old: string) => string): string {
  if (d.modrm >= 0xc0) return setRegJs(d.modrm & 7, size, update(regJs(d.modrm & 7, size)));
  const seg = d.eaSeg;
  return `{ const ea = ${offsetJs(d)}; cpu.checkWritable(${seg}, ea, ${size}); cpu.write(${seg}, ea, ${update(`cpu.read(${seg}, ea, ${size})`)}, ${size}); }`;
}

/** A statement storing `value` in the r/m operand (writeE's meaning). */
export function writeEJs(d: Insn, size: number, value: string): string {
  return d.modrm >= 0xc0 ? setRegJs(d.modrm & 7, size, value) : `cpu.write(${d.eaSeg}, ${offsetJs(d)}, ${value}, ${size});`;
}

/** The ModRM reg field's register. */
export const regField = (d: Insn): number => (d.modrm >> 3) & 7;
