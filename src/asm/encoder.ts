/**
 * Turns one instruction (mnemonic, prefixes, operands) into bytes: finds the first row of the
 * instruction table that the operands fit, then lays out prefixes, opcode, ModRM/SIB,
 * displacement and immediates.
 */
import { AsmError } from './diagnostics.ts';
import type { Expr, Value } from './expression.ts';
import { type EncodedAddress, addressSizeOf, encodeAddress } from './effective-address.ts';
import { type Form, formsOf, mnemonics } from './instruction-table.ts';
import type { ImmOperand, MemOperand, Operand } from './operands.ts';
import { SEGMENT_PREFIX } from './registers.ts';

export interface Prefix {
  name: string;
  column: number;
}

export interface Instruction {
  prefixes: Prefix[];
  mnemonic: string;
  column: number;
  operands: Operand[];
}

/** What the encoder needs from the assembler for one instruction. */
export interface EncodeEnv {
  bits: 16 | 32;
  /** Absolute address of the instruction's first byte. */
  address: bigint;
  /** The section the instruction is in. */
  section: string;
  evaluate(expr: Expr): Value;
  warn(message: string, column: number): void;
  /** Reports an error but lets the instruction keep its size, so that later addresses stay right. */
  error(message: string, column: number): void;
  /** Sticky per-statement state: once a jump needed the near form it keeps it, so passes converge. */
  jump: { long: boolean };
}

export const PREFIX_BYTES: Record<string, number> = {
  rep: 0xf3, repe: 0xf3, repz: 0xf3, repne: 0xf2, repnz: 0xf2, lock: 0xf0,
  ...SEGMENT_PREFIX,
};
export const PREFIX_NAMES = new Set([...Object.keys(PREFIX_BYTES), 'o16', 'o32', 'a16', 'a32']);

/** Operand values for one pass. */
interface Evaluated {
  op: Operand;
  value?: Value;
  segment?: Value;
}

export function isMnemonic(name: string): boolean {
  return formsOf(name.toLowerCase()) !== undefined;
}

export function allMnemonics(): string[] {
  return mnemonics();
}

export function encodeInstruction(insn: Instruction, env: EncodeEnv): number[] {
  const mnemonic = insn.mnemonic.toLowerCase();
  const forms = formsOf(mnemonic);
  if (!forms) throw new AsmError(`unknown instruction '${insn.mnemonic}'`, insn.column);
  const evaluated: Evaluated[] = insn.operands.map((op) => evaluateOperand(op, env));
  const userOpsize = insn.prefixes.some((p) => p.name === 'o16') ? 16 : insn.prefixes.some((p) => p.name === 'o32') ? 32 : undefined;
  const defaultOpsize = userOpsize ?? env.bits;
  const regSizes: number[] = [];
  for (const e of evaluated) if (e.op.kind === 'reg') regSizes.push(e.op.reg.size);

  for (const form of forms) {
    if (form.operands.length !== evaluated.length) continue;
    if (!fits(form, evaluated, regSizes, defaultOpsize, env, insn, false)) continue;
    return emit(form, evaluated, insn, env, userOpsize);
  }
  const sizeless = forms.some((form) => form.operands.length === evaluated.length && fits(form, evaluated, regSizes, defaultOpsize, env, insn, true));
  const unsized = evaluated.find((e) => e.op.kind === 'mem' && e.op.size === undefined);
  if (sizeless) {
    throw new AsmError(
      `operation size not specified for '${mnemonic}': write byte, word or dword before the memory operand`,
      unsized?.op.column ?? insn.column,
    );
  }
  // `mov dword [bx], word 5`, `mov eax, word 5`: a form fits once the immediate's size is dropped.
  const sizedImmediate = insn.operands.find((op): op is ImmOperand => op.kind === 'imm' && op.size !== undefined);
  if (sizedImmediate) {
    const unsized = evaluated.map((e) => (e.op.kind === 'imm' ? { ...e, op: { ...e.op, size: undefined } } : e));
    if (forms.some((form) => form.operands.length === unsized.length && fits(form, unsized, regSizes, defaultOpsize, env, insn, false))) {
      throw new AsmError(
        `mismatch in operand sizes for '${mnemonic}': the immediate is written as ${SIZE_NAMES[sizedImmediate.size!] ?? 'sized'}, which the other operand does not match; drop the size or make the two agree`,
        sizedImmediate.column,
      );
    }
  }
  const shapes = [...new Set(forms.map((f) => `${mnemonic}${f.operands.length ? ' ' : ''}${f.operands.map(describePattern).join(', ')}`))];
  throw new AsmError(
    `invalid combination of operands for '${mnemonic}'; it has the forms: ${shapes.join(' | ')}`,
    insn.operands[0]?.column ?? insn.column,
  );
}

const SIZE_NAMES: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword', 80: 'tword', 128: 'oword' };

function describePattern(p: string): string {
  const names: Record<string, string> = {
    s8: 'imm', i8: 'imm8', i16: 'imm16', i32: 'imm32', ib8: 'byte imm', one: '1', rel8: 'short label', 'rel8!': 'label',
    rel: 'label', far: 'seg:offset', mfar: 'far [mem]', moffs: '[addr]', m: '[mem]', m8: 'byte [mem]', m16: 'word [mem]',
    m32: 'dword [mem]', m64: 'qword [mem]', rm8: 'r/m8', rm16: 'r/m16', rm32: 'r/m32',
  };
  return names[p] ?? p;
}

function evaluateOperand(op: Operand, env: EncodeEnv): Evaluated {
  switch (op.kind) {
    case 'reg': return { op };
    case 'imm': return { op, value: env.evaluate(op.expr) };
    case 'mem': return { op, value: op.disp ? env.evaluate(op.disp) : undefined };
    case 'far': return { op, value: env.evaluate(op.offset), segment: env.evaluate(op.segment) };
  }
}

const GPR_PATTERNS: Record<string, number> = { r8: 8, r16: 16, r32: 32 };
const RM_PATTERNS: Record<string, number> = { rm8: 8, rm16: 16, rm32: 32, m8: 8, m16: 16, m32: 32, m64: 64 };

/** Whether a sign-extended byte can stand for `n` at this operand size (nasm's test). */
function fitsSignExtended(n: bigint, opsize: number): boolean {
  const width = BigInt(opsize || 32);
  return BigInt.asUintN(Number(width), n + 128n) <= 255n;
}

/**
 * Whether the operands fit a table row. `lenient` lets an unsized memory operand take any size:
 * used only to tell "operation size not specified" apart from a wrong operand combination.
 */
function fits(form: Form, ops: Evaluated[], regSizes: number[], defaultOpsize: number, env: EncodeEnv, insn: Instruction, lenient: boolean): boolean {
  let sizeFromUser = false;
  let sizeFromDefault = false;
  for (let i = 0; i < ops.length; i++) {
    const pattern = form.operands[i]!;
    const { op, value } = ops[i]!;
    const opsizeDependent = form.opsize !== 0;
    if (op.kind === 'reg') {
      const reg = op.reg;
      if (pattern in GPR_PATTERNS || pattern in RM_PATTERNS) {
        const size = GPR_PATTERNS[pattern] ?? RM_PATTERNS[pattern]!;
        if (reg.kind !== 'gpr' || reg.size !== size || pattern.startsWith('m')) return false;
        if (opsizeDependent && size !== 8) sizeFromUser = true;
      } else if (pattern === 'sreg' || pattern === 'cr' || pattern === 'dr' || pattern === 'tr') {
        if (reg.kind !== pattern) return false;
      } else if (pattern !== reg.name) {
        return false;
      } else if (opsizeDependent && reg.kind === 'gpr' && reg.size !== 8) {
        sizeFromUser = true;
      }
    } else if (op.kind === 'mem') {
      if (pattern === 'm') {
        if (op.far) return false;
      } else if (pattern === 'mfar') {
        if (!op.far) return false;
        if (op.size !== undefined) {
          if (op.size !== form.opsize) return false;
          sizeFromUser = true;
        } else sizeFromDefault = true;
      } else if (pattern === 'moffs') {
        if (op.regs.length !== 0 || op.dispSize === 8 || op.far) return false;
      } else if (pattern in RM_PATTERNS) {
        if (op.far) return false;
        const size = RM_PATTERNS[pattern]!;
        if (op.size !== undefined) {
          if (op.size !== size) return false;
          if (opsizeDependent) sizeFromUser = true;
        } else if (sizedByOthers(form, ops, regSizes, size) || form.flags.includes('u') || lenient) {
          if (opsizeDependent && sizedByOthers(form, ops, regSizes, size)) sizeFromUser = true;
        } else if (form.flags.includes('d')) {
          sizeFromDefault = true;
        } else {
          return false;
        }
      } else {
        return false;
      }
    } else if (op.kind === 'far') {
      if (pattern !== 'far') return false;
      if (op.size !== undefined) {
        if (op.size !== form.opsize) return false;
        sizeFromUser = true;
      } else sizeFromDefault = true;
    } else {
      // Immediate.
      const v = value!;
      if (op.distance === 'far') return false;
      const isJumpTarget = pattern === 'rel8' || pattern === 'rel8!' || pattern === 'rel';
      if (op.distance && !isJumpTarget) return false;
      switch (pattern) {
        case 'i8':
          if (op.size !== undefined && op.size !== 8) return false;
          break;
        case 'ib8':
          if (op.size !== 8) return false;
          break;
        case 'i16':
        case 'i32': {
          const size = pattern === 'i16' ? 16 : 32;
          if (op.size !== undefined) {
            if (op.size !== size) return false;
            if (opsizeDependent) sizeFromUser = true;
          } else if (opsizeDependent) sizeFromDefault = true;
          break;
        }
        case 's8':
          if (op.size === 8) break;
          if (op.size !== undefined) {
            if (op.size !== form.opsize) return false;
            sizeFromUser = true;
          } else sizeFromDefault = true;
          if (op.strict || v.reloc !== 0 || !fitsSignExtended(v.n, form.opsize)) return false;
          break;
        case 'one':
          if (op.strict || op.size !== undefined || v.reloc !== 0 || v.unknown || v.n !== 1n) return false;
          break;
        case 'rel8!':
          if (op.distance === 'near') return false;
          break;
        case 'rel8': {
          if (op.distance === 'near') return false;
          if (op.distance === 'short') break;
          if (op.size !== undefined && op.size !== 8) return false;
          if (env.jump.long) return false;
          if (v.unknown) break;
          if (v.section !== undefined && v.section !== env.section) return false;
          const length = prefixBytes(form, ops, insn, env).length + form.baseLength;
          const distance = v.n - (env.address + BigInt(length));
          if (distance < -128n || distance > 127n) {
            env.jump.long = true;
            return false;
          }
          break;
        }
        case 'rel':
          if (op.distance === 'short') return false;
          if (op.size !== undefined) {
            if (op.size !== form.opsize) return false;
            sizeFromUser = true;
          } else sizeFromDefault = true;
          break;
        default:
          return false;
      }
    }
  }
  if (sizeFromDefault && !sizeFromUser && form.opsize !== 0 && form.opsize !== defaultOpsize) return false;
  return true;
}

/**
 * Whether the other operands give unsized memory the size `size`: a register of that size, or
 * (rows flagged s, where the immediate is as wide as the operation) an immediate written with it.
 */
function sizedByOthers(form: Form, ops: Evaluated[], regSizes: number[], size: number): boolean {
  return regSizes.includes(size) || (form.flags.includes('s') && ops.some((e) => e.op.kind === 'imm' && e.op.size === size));
}

/** The memory operand of an instruction, if any. */
function memoryOperand(ops: Evaluated[]): MemOperand | undefined {
  const m = ops.find((e) => e.op.kind === 'mem');
  return m?.op.kind === 'mem' ? m.op : undefined;
}

function addressSizeNeeded(form: Form, ops: Evaluated[], insn: Instruction, env: EncodeEnv): 16 | 32 | undefined {
  if (form.encoding.includes('a16')) return 16;
  if (form.encoding.includes('a32')) return 32;
  const userAddr = insn.prefixes.some((p) => p.name === 'a16') ? 16 : insn.prefixes.some((p) => p.name === 'a32') ? 32 : undefined;
  const mem = memoryOperand(ops);
  if (mem) return addressSizeOf(mem, userAddr ?? env.bits);
  return userAddr;
}

function prefixBytes(form: Form, ops: Evaluated[], insn: Instruction, env: EncodeEnv, userOpsize?: number): number[] {
  const out: number[] = [];
  for (const p of insn.prefixes) {
    if (p.name.startsWith('rep')) out.push(PREFIX_BYTES[p.name]!);
  }
  if (insn.prefixes.some((p) => p.name === 'lock')) out.push(0xf0);
  const mem = memoryOperand(ops);
  const seg = mem?.segment ?? insn.prefixes.find((p) => p.name in SEGMENT_PREFIX)?.name;
  if (seg) out.push(SEGMENT_PREFIX[seg]!);
  const opsize = userOpsize ?? form.opsize;
  if (opsize !== 0 && opsize !== env.bits) out.push(0x66);
  const addr = addressSizeNeeded(form, ops, insn, env);
  if (addr !== undefined && addr !== env.bits) out.push(0x67);
  return out;
}

function pushLE(out: number[], n: bigint, bytes: number): void {
  if (bytes <= 4) {
    // Number arithmetic is much cheaper than BigInt for the usual 1-4 byte fields.
    let small = Number(BigInt.asUintN(32, n));
    for (let i = 0; i < bytes; i++) {
      out.push(small & 0xff);
      small = Math.floor(small / 256);
    }
    return;
  }
  let v = BigInt.asUintN(bytes * 8, n);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
}

function checkRange(v: Value, bytes: number, signedOnly: boolean, env: EncodeEnv, column: number): void {
  if (v.unknown) return;
  const bits = BigInt(bytes * 8);
  const min = -(1n << (bits - 1n));
  const max = signedOnly ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v.n < min || v.n > max) {
    const what = signedOnly ? 'signed byte value' : bytes === 1 ? 'byte data' : bytes === 2 ? 'word data' : 'dword data';
    env.warn(`${what} exceeds bounds (${v.n} does not fit in ${bytes * 8} bits; it is truncated)`, column);
  }
}

function emit(form: Form, ops: Evaluated[], insn: Instruction, env: EncodeEnv, userOpsize?: number): number[] {
  const out = prefixBytes(form, ops, insn, env, userOpsize);
  let nextImm = 0;
  const opsize = form.opsize || userOpsize || env.bits;
  // Relative targets are measured from the end of the instruction, so they are written last.
  let relative: { size: number; target: Value; column: number; short: boolean } | undefined;

  for (const step of form.steps) {
    switch (step.kind) {
      case 'byte':
        out.push(step.value);
        break;
      case '+r':
        out.push(step.value + regCode(ops[form.regOperand]));
        break;
      case '/r':
      case '/n': {
        const regField = step.kind === '/r' ? regCode(ops[form.regOperand]) : step.value;
        const bytes = modrm(ops[form.rmOperand]!, regField, env);
        for (const b of bytes) out.push(b);
        break;
      }
      case 'ib':
      case 'ibs':
      case 'iw':
      case 'id': {
        const e = ops[form.immediateOperands[nextImm++]!]!;
        const bytes = step.kind === 'iw' ? 2 : step.kind === 'id' ? 4 : 1;
        checkRange(e.value!, bytes, step.kind === 'ibs' && e.op.kind === 'imm' && e.op.size === 8, env, e.op.column);
        pushLE(out, e.value!.n, bytes);
        break;
      }
      case 'mo': {
        const e = ops[form.immediateOperands[nextImm++]!]!;
        pushLE(out, e.value?.n ?? 0n, addressSizeOf(e.op as MemOperand, env.bits) === 16 ? 2 : 4);
        break;
      }
      case 'fp': {
        const e = ops[form.immediateOperands[nextImm++]!]!;
        pushLE(out, e.value!.n, opsize === 16 ? 2 : 4);
        pushLE(out, e.segment!.n, 2);
        break;
      }
      case 'rb':
      case 'rw':
      case 'rd': {
        const e = ops[form.immediateOperands[nextImm++]!]!;
        relative = { size: step.kind === 'rb' ? 1 : step.kind === 'rw' ? 2 : 4, target: e.value!, column: e.op.column, short: step.kind === 'rb' };
        break;
      }
    }
  }
  if (relative) {
    const end = env.address + BigInt(out.length + relative.size);
    const distance = relative.target.n - end;
    if (relative.short && !relative.target.unknown && (distance < -128n || distance > 127n)) {
      env.error(`short jump is out of range: the target is ${distance} bytes away, a short jump reaches -128..127`, relative.column);
    }
    pushLE(out, distance, relative.size);
  }
  return out;
}

function regCode(e: Evaluated | undefined): number {
  return e?.op.kind === 'reg' ? e.op.reg.code : 0;
}

function modrm(e: Evaluated, regField: number, env: EncodeEnv): number[] {
  if (e.op.kind === 'reg') return [0xc0 | (regField << 3) | e.op.reg.code];
  const mem = e.op as MemOperand;
  const a: EncodedAddress = encodeAddress(mem, e.value, env.bits);
  const out = [(a.mod << 6) | (regField << 3) | a.rm];
  if (a.sib !== undefined) out.push(a.sib);
  if (a.dispSize > 0) {
    if (a.dispSize === 1 && mem.dispSize === 8 && e.value && !e.value.unknown) {
      const n = BigInt.asIntN(a.addrSize, e.value.n);
      if (n < -128n || n > 127n) env.warn('byte displacement exceeds bounds', mem.column);
    }
    pushLE(out, a.disp, a.dispSize);
  }
  return out;
}
