/**
 * Expressions with NASM's operators and precedence, parsed once into a tree and evaluated on
 * every pass (labels may move between passes). Values are 64-bit, as in NASM.
 */
import { AsmError } from './diagnostics.ts';
import type { Token } from './lexer.ts';
import { type RegisterTerms, addTerms, describeTerms, scaleTerms } from './register-terms.ts';
import { findRegister } from './registers.ts';

export type Expr =
  | { kind: 'num'; value: bigint; column: number }
  | { kind: 'sym'; name: string; column: number }
  | { kind: 'reg'; name: string; column: number }
  | { kind: 'here'; column: number }
  | { kind: 'sectionStart'; column: number }
  | { kind: 'unary'; op: string; arg: Expr; column: number }
  | { kind: 'binary'; op: string; left: Expr; right: Expr; column: number }
  | { kind: 'cond'; test: Expr; then: Expr; else: Expr; column: number };

/**
 * The value of an expression. `reloc` counts label addresses in it (+1 for each added, -1 for
 * each subtracted): NASM only shortens encodings for "simple" values, where they cancel out.
 * `unknown` marks values that used a symbol not yet defined (a forward reference).
 */
export interface Value {
  n: bigint;
  reloc: number;
  unknown: boolean;
  /** The section a label address belongs to (when reloc is 1): jumps across sections are never short. */
  section?: string;
  /** Registers in the value (only where the context allows them: preprocessor conditions). */
  regs?: RegisterTerms;
}

export const known = (n: bigint): Value => ({ n, reloc: 0, unknown: false });

export interface EvalContext {
  /** The symbol's value, or undefined if it is not (yet) defined. */
  symbol(name: string, column: number): Value | undefined;
  here(column: number): Value;
  sectionStart(column: number): Value;
  /**
   * True in preprocessor conditions: there a register is a term of the value, as in nasm, so that
   * a macro can test `%if %1 = cs`. Elsewhere a register in an expression is an error.
   */
  registers?: boolean;
}

/** A cursor over a line's tokens, shared by the expression and operand parsers. */
export class TokenStream {
  pos = 0;
  constructor(
    readonly tokens: Token[],
    /** Column to blame when the line ends too early. */
    readonly endColumn: number,
  ) {}
  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }
  next(): Token | undefined {
    return this.tokens[this.pos++];
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.kind === 'op' && t.text === text;
  }
  isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.kind === 'id' && t.text.toLowerCase() === word;
  }
  column(): number {
    return this.peek()?.column ?? this.endColumn;
  }
  expectOp(text: string): void {
    if (!this.isOp(text)) {
      const t = this.peek();
      throw new AsmError(t ? `expected '${text}' but found '${t.text}'` : `expected '${text}' at end of line`, this.column());
    }
    this.pos++;
  }
}

const BINARY_LEVELS: string[][] = [
  ['||'],
  ['^^'],
  ['&&'],
  ['=', '==', '!=', '<>', '<', '<=', '>', '>=', '<=>'],
  ['|'],
  ['^'],
  ['&'],
  ['<<', '>>', '<<<', '>>>'],
  ['+', '-'],
  ['*', '/', '//', '%', '%%'],
];

/** Parses an expression starting at the stream's position; stops before `,`, `]`, `:` and the like. */
export function parseExpression(ts: TokenStream): Expr {
  const test = parseLevel(ts, 0);
  if (ts.isOp('?')) {
    const column = ts.column();
    ts.next();
    const then = parseExpression(ts);
    ts.expectOp(':');
    const otherwise = parseExpression(ts);
    return { kind: 'cond', test, then, else: otherwise, column };
  }
  return test;
}

function parseLevel(ts: TokenStream, level: number): Expr {
  if (level >= BINARY_LEVELS.length) return parseUnary(ts);
  let left = parseLevel(ts, level + 1);
  for (;;) {
    const t = ts.peek();
    if (!t || t.kind !== 'op' || !BINARY_LEVELS[level]!.includes(t.text)) return left;
    ts.next();
    const right = parseLevel(ts, level + 1);
    left = { kind: 'binary', op: t.text, left, right, column: t.column };
  }
}

function parseUnary(ts: TokenStream): Expr {
  const t = ts.peek();
  if (t && t.kind === 'op' && ['-', '+', '~', '!'].includes(t.text)) {
    ts.next();
    return { kind: 'unary', op: t.text, arg: parseUnary(ts), column: t.column };
  }
  return parsePrimary(ts);
}

function parsePrimary(ts: TokenStream): Expr {
  const t = ts.next();
  if (!t) throw new AsmError('expected an expression at end of line', ts.endColumn);
  switch (t.kind) {
    case 'num':
      return { kind: 'num', value: t.value, column: t.column };
    case 'str': {
      let value = 0n;
      for (let i = Math.min(t.bytes.length, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(t.bytes[i]!);
      return { kind: 'num', value, column: t.column };
    }
    case 'id':
      if (t.text === '$') return { kind: 'here', column: t.column };
      if (t.text === '$$') return { kind: 'sectionStart', column: t.column };
      if (findRegister(t.text)) return { kind: 'reg', name: t.text.toLowerCase(), column: t.column };
      return { kind: 'sym', name: t.text, column: t.column };
    case 'op':
      if (t.text === '(') {
        const inner = parseExpression(ts);
        ts.expectOp(')');
        return inner;
      }
      throw new AsmError(`expected an expression but found '${t.text}'`, t.column);
  }
}

const MASK64 = (1n << 64n) - 1n;
const signed = (n: bigint): bigint => BigInt.asIntN(64, n);
const unsigned = (n: bigint): bigint => n & MASK64;
const bool = (b: boolean): bigint => (b ? 1n : 0n);

export function evaluate(expr: Expr, ctx: EvalContext): Value {
  switch (expr.kind) {
    case 'num':
      return known(signed(expr.value));
    case 'sym':
      return ctx.symbol(expr.name, expr.column) ?? { n: 0n, reloc: 0, unknown: true };
    case 'reg':
      if (!ctx.registers) throw new AsmError(`register '${expr.name}' cannot be used in an expression here`, expr.column);
      return { n: 0n, reloc: 0, unknown: false, regs: { [expr.name]: 1n } };
    case 'here':
      return ctx.here(expr.column);
    case 'sectionStart':
      return ctx.sectionStart(expr.column);
    case 'unary': {
      const a = evaluate(expr.arg, ctx);
      if (a.regs && (expr.op === '~' || expr.op === '!')) throw registerOperand(expr.op, a.regs, expr.column);
      const n = expr.op === '-' ? -a.n : expr.op === '~' ? ~a.n : expr.op === '!' ? bool(a.n === 0n) : a.n;
      const reloc = expr.op === '-' ? -a.reloc : expr.op === '+' ? a.reloc : 0;
      const regs = expr.op === '-' ? scaleTerms(a.regs, -1n) : a.regs;
      return { n: signed(n), reloc, unknown: a.unknown, section: reloc === 1 ? a.section : undefined, ...(regs && { regs }) };
    }
    case 'cond': {
      const t = evaluate(expr.test, ctx);
      if (t.regs) throw new AsmError(`the condition before '?' must be a number, but it contains the register ${describeTerms(t.regs)}`, expr.column);
      const chosen = evaluate(t.n !== 0n ? expr.then : expr.else, ctx);
      return { ...chosen, unknown: chosen.unknown || t.unknown };
    }
    case 'binary':
      return evaluateBinary(expr.op, evaluate(expr.left, ctx), evaluate(expr.right, ctx), expr.column);
  }
}

/** What nasm says when an operator other than + - * = <> meets a register. */
function registerOperand(op: string, regs: RegisterTerms, column: number): AsmError {
  return new AsmError(`'${op}' cannot be applied to the register ${describeTerms(regs)}: registers can only be compared with = or <> (or added, subtracted and multiplied by a number)`, column);
}

const EQUALITY = new Set(['=', '==', '!=', '<>']);
const ORDERING = new Set(['<', '<=', '>', '>=', '<=>']);

function evaluateBinary(op: string, a: Value, b: Value, column: number): Value {
  const unknown = a.unknown || b.unknown;
  if (EQUALITY.has(op)) {
    // nasm compares the difference of the two sides: only a plain number (no register left over,
    // no label address that does not cancel out) can be zero. So `ss = cs` is false, `eax = eax`
    // true, and `label = 0x100` false even when the label is at 0x100.
    const diffRegs = addTerms(a.regs, b.regs, -1n);
    const comparable = !diffRegs && a.reloc === b.reloc && (a.reloc === 0 || a.section === b.section);
    const equal = comparable && a.n === b.n;
    return { n: bool(op === '=' || op === '==' ? equal : !equal), reloc: 0, unknown };
  }
  if (ORDERING.has(op) && !unknown) {
    const diffRegs = addTerms(a.regs, b.regs, -1n);
    if (diffRegs) throw new AsmError(`'${op}' cannot order values that differ by the register ${describeTerms(diffRegs)}: registers can only be compared with = or <>`, column);
    if (a.reloc !== b.reloc) throw new AsmError(`'${op}' cannot order values that differ by a label's address (compare the difference of two labels, or use = or <>)`, column);
  }
  if (a.regs || b.regs) return registerArithmetic(op, a, b, column);
  let reloc = 0;
  if (op === '+') reloc = a.reloc + b.reloc;
  else if (op === '-') reloc = a.reloc - b.reloc;
  else if (a.reloc !== 0 || b.reloc !== 0) reloc = a.reloc !== 0 ? a.reloc : b.reloc;
  const x = a.n;
  const y = b.n;
  const divisor = (): bigint => {
    if (y === 0n) {
      if (unknown) return 1n; // a forward reference may still be zero in an early pass
      throw new AsmError('division by zero', column);
    }
    return y;
  };
  let n: bigint;
  switch (op) {
    case '+': n = x + y; break;
    case '-': n = x - y; break;
    case '*': n = x * y; break;
    case '/': n = unsigned(x) / unsigned(divisor()); break;
    case '%': n = unsigned(x) % unsigned(divisor()); break;
    case '//': n = x / divisor(); break;
    case '%%': n = x % divisor(); break;
    case '<<': case '<<<': n = y >= 64n || y < 0n ? 0n : x << y; break;
    case '>>': n = y >= 64n || y < 0n ? 0n : unsigned(x) >> y; break;
    case '>>>': n = x >> (y >= 64n || y < 0n ? 63n : y); break;
    case '&': n = x & y; break;
    case '|': n = x | y; break;
    case '^': n = x ^ y; break;
    case '&&': n = bool(x !== 0n && y !== 0n); break;
    case '||': n = bool(x !== 0n || y !== 0n); break;
    case '^^': n = bool((x !== 0n) !== (y !== 0n)); break;
    case '<': n = bool(x < y); break;
    case '<=': n = bool(x <= y); break;
    case '>': n = bool(x > y); break;
    case '>=': n = bool(x >= y); break;
    case '<=>': n = x < y ? -1n : x > y ? 1n : 0n; break;
    default: throw new AsmError(`unknown operator '${op}'`, column);
  }
  const section = reloc === 1 ? (op === '-' ? a.section : (a.section ?? b.section)) : undefined;
  return { n: signed(n), reloc, unknown, section };
}

/** + - and * on values with registers (nasm's vector arithmetic); other operators are errors. */
function registerArithmetic(op: string, a: Value, b: Value, column: number): Value {
  const unknown = a.unknown || b.unknown;
  if (op === '+' || op === '-') {
    const sign = op === '-' ? -1n : 1n;
    const n = a.n + sign * b.n;
    const regs = addTerms(a.regs, b.regs, sign);
    return { n: signed(n), reloc: a.reloc + Number(sign) * b.reloc, unknown, ...(regs && { regs }) };
  }
  if (op === '*') {
    if (a.regs && b.regs) throw new AsmError(`'*' cannot multiply two registers (${describeTerms(a.regs)} and ${describeTerms(b.regs)})`, column);
    const [vector, factor] = a.regs ? [a, b] : [b, a];
    if (factor.reloc !== 0) throw new AsmError("'*' cannot multiply a register by a label's address", column);
    const regs = scaleTerms(vector.regs, factor.n);
    return { n: signed(vector.n * factor.n), reloc: vector.reloc, unknown, ...(regs && { regs }) };
  }
  throw registerOperand(op, (a.regs ?? b.regs)!, column);
}

/** True if the tree mentions a register (then it is an address, not a plain number). */
export function mentionsRegister(expr: Expr): boolean {
  switch (expr.kind) {
    case 'reg': return true;
    case 'unary': return mentionsRegister(expr.arg);
    case 'binary': return mentionsRegister(expr.left) || mentionsRegister(expr.right);
    case 'cond': return mentionsRegister(expr.test) || mentionsRegister(expr.then) || mentionsRegister(expr.else);
    default: return false;
  }
}

/** Applies `rename` to every symbol name in the tree (used to qualify `.local` labels). */
export function mapSymbols(expr: Expr, rename: (name: string) => string): Expr {
  switch (expr.kind) {
    case 'sym': return { ...expr, name: rename(expr.name) };
    case 'unary': return { ...expr, arg: mapSymbols(expr.arg, rename) };
    case 'binary': return { ...expr, left: mapSymbols(expr.left, rename), right: mapSymbols(expr.right, rename) };
    case 'cond': return { ...expr, test: mapSymbols(expr.test, rename), then: mapSymbols(expr.then, rename), else: mapSymbols(expr.else, rename) };
    default: return expr;
  }
}
