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
 * In the statements: `cpu`, `st` (cpu.st), `r` (cpu.reg), the Insn's own variable (for memory
 * operands, whose address is computed when they run), and the helpers of src/jit/translation-cache.ts
 * by name.
 */
import type { Insn } from './insn.ts';

/** JavaScript for one instruction, or null: call its semantics function. `x` names its Insn. */
export type Emitter = (d: Insn, x: string) => string | null;

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
export function readEJs(d: Insn, _x: string, size: number): string {
  return d.modrm >= 0xc0 ? regJs(d.modrm & 7, size) : `cpu.read(${d.eaSeg}, ${offsetJs(d)}, ${size})`;
}

/**
 * A read-modify-write of the r/m operand: `update` gets the expression of the old value and
 * returns that of the new one. Memory is checked for writing before it is read, as
 * readEForUpdate does, so a fault leaves nothing changed.
 */
export function updateEJs(d: Insn, _x: string, size: number, update: (old: string) => string): string {
  if (d.modrm >= 0xc0) return setRegJs(d.modrm & 7, size, update(regJs(d.modrm & 7, size)));
  const seg = d.eaSeg;
  return `{ const ea = ${offsetJs(d)}; cpu.checkWritable(${seg}, ea, ${size}); cpu.write(${seg}, ea, ${update(`cpu.read(${seg}, ea, ${size})`)}, ${size}); }`;
}

/** A statement storing `value` in the r/m operand (writeE's meaning). */
export function writeEJs(d: Insn, _x: string, size: number, value: string): string {
  return d.modrm >= 0xc0 ? setRegJs(d.modrm & 7, size, value) : `cpu.write(${d.eaSeg}, ${offsetJs(d)}, ${value}, ${size});`;
}

/** The ModRM reg field's register. */
export const regField = (d: Insn): number => (d.modrm >> 3) & 7;
