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
 * In the statements: `cpu`, `st` (cpu.st), the guest's general registers as the locals r0..r7,
 * `flat` (S_FLAT_SEGMENTS: which segments the memory accesses may take straight to the TLB),
 * the Insn's own variable (for helpers that take one, such as jumpNear), and the helpers of
 * src/jit/translation-cache.ts by name. The registers are locals for the whole compiled block
 * (V8 keeps them in machine registers; the state array `cpu.reg` shares its buffer with `st`,
 * where every flag is recorded, so V8 could not): the helpers below name them, and note which
 * ones an instruction reads and writes (`registerUse`), so that the translation cache knows
 * what to load and write back without reading the statements. A step assigns its registers
 * only after everything in it that can fault.
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
/**
 * A flag-setting instruction in a compiled loop, written so that the loop records its flags only
 * as it leaves (translation-cache.ts): `js` computes its value alone and keeps its operands in
 * the locals named by the prefix it was given (t0, t1); the loop's branch may test ZF or SF of
 * `result`, of `size` bits; `record` sets the flags as the instruction does, from t0 and t1.
 */
export interface DeferredFlags {
  js: string;
  result: string;
  size: number;
  record: string;
}
/**
 * The deferred form of an instruction, its operands kept in the locals `temp`0 and `temp`1, or
 * null where there is none (an instruction that reads a flag, a shift by CL). An instruction
 * that has one is also written out with `flagsLive` false as its value alone: the flags left alone.
 */
export type FlagDeferrer = (d: Insn, temp: string) => DeferredFlags | null;

/**
 * How the translation cache writes out a form of the opcode table (its entries' `compiled`):
 * the emitter, what the form does to the flags, and, for some, its deferred form.
 */
export interface CompiledForm {
  emit: Emitter;
  flags: FlagEffectOf;
  /** Null for an instruction without a deferred form (every one of a form that has none). */
  defer: FlagDeferrer;
}

/** What an instruction without a FlagEffect counts as. */
export const READS_EVERY_FLAG: FlagEffect = { reads: ARITH_FLAGS, writes: 0, quiet: false };

/**
 * Which instructions' flags someone may see, by a backward pass over the block: a flag is live
 * after the block, before any instruction that is not quiet (a fault or an exit to the run loop
 * shows EFLAGS to the guest), and where an instruction reads it. An instruction whose flags are
 * all overwritten before any of that may leave them alone: its lazy record is never written,
 * and the previous one stands for the flags it does not set. The translation cache and the
 * interpreter's hot forms (hot-forms.ts) both use it.
 */
export function flagsLiveAfter(insns: readonly Insn[]): { live: boolean[]; liveAtStart: number } {
  const live: boolean[] = new Array(insns.length);
  let liveFlags = ARITH_FLAGS;
  for (let k = insns.length - 1; k >= 0; k--) {
    const effect = insns[k].form?.flags(insns[k]) ?? READS_EVERY_FLAG;
    live[k] = !effect.quiet || (effect.writes & liveFlags) !== 0;
    liveFlags = effect.quiet ? (liveFlags & ~effect.writes) | effect.reads : ARITH_FLAGS;
  }
  return { live, liveAtStart: liveFlags };
}

/**
 * The 32-bit registers the statements of one instruction read, write (a 16- or 8-bit write
 * reads the rest of its register too), and reach through the state array instead of their
 * local (`arrayRegisterJs`): bit n for register n. Noted by the helpers below as an emitter
 * calls them, between `beginEmission` and `registerUse`.
 */
export interface RegisterUse {
  reads: number;
  writes: number;
  viaArray: number;
}
const use: RegisterUse = { reads: 0, writes: 0, viaArray: 0 };
/** The registers as the state array's elements (r[n]) rather than locals: see `beginEmission`. */
let inArray = false;

/**
 * Starts noting the registers of the next instruction's statements. `registersInArray`: name them
 * as the state array's elements, for a block that calls semantics functions so often that
 * writing its locals back and loading them again around each call would cost more than they save.
 */
export function beginEmission(registersInArray = false): void {
  use.reads = 0;
  use.writes = 0;
  use.viaArray = 0;
  inArray = registersInArray;
}

/** Register `n` as the statements name it. */
const name = (n: number) => (inArray ? `r[${n}]` : `r${n}`);

/** The registers noted since `beginEmission`. */
export function registerUse(): RegisterUse {
  return { ...use };
}

/** A register of `size` bits as an expression (readReg's meaning): AL..BL are low bytes, AH..BH the next ones. */
export function regJs(n: number, size: number): string {
  const r = size === 8 ? n & 3 : n;
  use.reads |= 1 << r;
  const reg = name(r);
  if (size === 32) return reg;
  if (size === 16) return `(${reg} & 0xffff)`;
  return n < 4 ? `(${reg} & 0xff)` : `((${reg} >> 8) & 0xff)`;
}

/** A statement storing `value` in a register of `size` bits (writeReg's meaning: the rest of the register stays). */
export function setRegJs(n: number, size: number, value: string): string {
  const r = size === 8 ? n & 3 : n;
  use.writes |= 1 << r;
  const reg = name(r);
  if (size === 32) return `${reg} = (${value}) | 0;`;
  use.reads |= 1 << r;
  if (size === 16) return `${reg} = (${reg} & -65536) | ((${value}) & 0xffff);`;
  return n < 4 ? `${reg} = (${reg} & -256) | ((${value}) & 0xff);` : `${reg} = (${reg} & -65281) | (((${value}) & 0xff) << 8);`;
}

/**
 * For statements that call a helper working on the state array's register `n` (push and pop
 * move ESP there): the statement that puts the local into the array before the call, and the
 * one that takes it back after.
 */
export function arrayRegisterJs(n: number): { before: string; after: string } {
  if (inArray) return { before: '', after: '' };
  use.reads |= 1 << n;
  use.writes |= 1 << n;
  use.viaArray |= 1 << n;
  return { before: `r[${n}] = r${n};`, after: `r${n} = r[${n}];` };
}

/**
 * The memory operand's offset as an expression (effectiveAddress's meaning): the decoded
 * displacement, base and index as constants, the registers read when it runs.
 */
export function offsetJs(d: Insn): string {
  let sum = String(d.eaDisp);
  if (d.eaBase >= 0) sum += ` + ${regJs(d.eaBase, 32)}`;
  if (d.eaIndex >= 0) sum += ` + (${regJs(d.eaIndex, 32)} << ${d.eaShift})`;
  return d.a32 !== 0 ? `((${sum}) | 0)` : `((${sum}) & 0xffff)`;
}

/** The ModRM r/m operand as an expression: a register, or memory (readE's meaning). */
export function readEJs(d: Insn, size: number): string {
  return d.modrm >= 0xc0 ? regJs(d.modrm & 7, size) : `cpu.readSeg(flat, ${d.eaSeg}, ${offsetJs(d)}, ${size})`;
}

/**
 * A read-modify-write of the r/m operand: `update` gets the expression of the old value and
 * returns that of the new one. Memory is checked for writing before it is read, as
 * readEForUpdate does, so a fault leaves nothing changed.
 */
export function updateEJs(d: Insn, size: number, update: (old: string) => string): string {
  if (d.modrm >= 0xc0) return setRegJs(d.modrm & 7, size, update(regJs(d.modrm & 7, size)));
  const seg = d.eaSeg;
  // One translation for both accesses when the TLB allows (Cpu.hostForUpdate); else as readEForUpdate and writeE.
  return `{ const ea = ${offsetJs(d)}, at = cpu.hostForUpdate(flat, ${seg}, ea, ${size}), ` +
    `v = ${update(`(at >= 0 ? cpu.hostRead(at, ${size}) : cpu.readForUpdate(${seg}, ea, ${size}))`)}; ` +
    `if (at >= 0) cpu.hostWrite(at, ${size}, v); else cpu.write(${seg}, ea, v, ${size}); }`;
}

/** A statement storing `value` in the r/m operand (writeE's meaning). */
export function writeEJs(d: Insn, size: number, value: string): string {
  return d.modrm >= 0xc0 ? setRegJs(d.modrm & 7, size, value) : `cpu.writeSeg(flat, ${d.eaSeg}, ${offsetJs(d)}, ${value}, ${size});`;
}

/** The ModRM reg field's register. */
export const regField = (d: Insn): number => (d.modrm >> 3) & 7;
