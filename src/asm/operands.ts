/**
 * Operand syntax: registers, immediates (with size and jump-distance keywords), memory references
 * `[seg:base+index*scale+disp]` with their size keywords, and far pointers `seg:offset`.
 * Parsed once per line; the expressions inside are evaluated on each pass.
 */
import { AsmError } from './diagnostics.ts';
import { type Expr, TokenStream, mentionsRegister, parseExpression, evaluate, mapSymbols } from './expression.ts';
import { type Register, findRegister } from './registers.ts';

export interface RegOperand {
  kind: 'reg';
  reg: Register;
  column: number;
}

export interface ImmOperand {
  kind: 'imm';
  expr: Expr;
  /** From `byte`/`word`/`dword`/`qword`, in bits. */
  size?: number;
  strict: boolean;
  distance?: 'short' | 'near' | 'far';
  column: number;
}

export interface MemOperand {
  kind: 'mem';
  size?: number;
  far: boolean;
  near: boolean;
  segment?: string;
  /** Registers in the address, with their (merged) scale factors. */
  regs: Array<{ reg: Register; scale: number }>;
  disp?: Expr;
  /** `[byte bx+1]`, `[dword x]`: a forced displacement size (or address size for a bare displacement). */
  dispSize?: number;
  nosplit: boolean;
  column: number;
}

export interface FarOperand {
  kind: 'far';
  segment: Expr;
  offset: Expr;
  size?: number;
  column: number;
}

export type Operand = RegOperand | ImmOperand | MemOperand | FarOperand;

const SIZE_WORDS: Record<string, number> = { byte: 8, word: 16, dword: 32, qword: 64, tword: 80, oword: 128 };

export function parseOperand(ts: TokenStream): Operand {
  const column = ts.column();
  let size: number | undefined;
  let strict = false;
  let distance: 'short' | 'near' | 'far' | undefined;
  for (;;) {
    const t = ts.peek();
    if (!t || t.kind !== 'id') break;
    const word = t.text.toLowerCase();
    if (word in SIZE_WORDS) size = SIZE_WORDS[word];
    else if (word === 'strict') strict = true;
    else if (word === 'short' || word === 'near' || word === 'far') distance = word;
    else break;
    ts.next();
  }
  if (ts.isOp('[')) return parseMemory(ts, column, size, distance);
  const t = ts.peek();
  if (t && t.kind === 'id') {
    const reg = findRegister(t.text);
    const following = ts.peek(1);
    const ends = !following || (following.kind === 'op' && following.text === ',');
    if (reg && ends) {
      ts.next();
      return { kind: 'reg', reg, column: t.column };
    }
  }
  // Point diagnostics at the value itself, after any `short`/`byte`/... keywords.
  const valueColumn = ts.column();
  const expr = parseExpression(ts);
  if (mentionsRegister(expr)) throw new AsmError('a register cannot be part of an immediate value (did you mean a memory reference in [ ]?)', column);
  if (ts.isOp(':')) {
    ts.next();
    const offset = parseExpression(ts);
    return { kind: 'far', segment: expr, offset, size, column: valueColumn };
  }
  return { kind: 'imm', expr, size, strict, distance, column: valueColumn };
}

function parseMemory(ts: TokenStream, column: number, size: number | undefined, distance: string | undefined): MemOperand {
  ts.expectOp('[');
  let dispSize: number | undefined;
  let nosplit = false;
  let segment: string | undefined;
  for (;;) {
    const t = ts.peek();
    if (!t || t.kind !== 'id') break;
    const word = t.text.toLowerCase();
    if (word === 'byte' || word === 'word' || word === 'dword') dispSize = SIZE_WORDS[word];
    else if (word === 'nosplit') nosplit = true;
    else if (word === 'rel' || word === 'abs') { /* 64-bit only; harmless */ }
    else break;
    ts.next();
  }
  const first = ts.peek();
  if (first && first.kind === 'id' && ts.isOp(':', 1)) {
    const reg = findRegister(first.text);
    if (!reg || reg.kind !== 'sreg') throw new AsmError(`'${first.text}' is not a segment register`, first.column);
    segment = reg.name;
    ts.next();
    ts.next();
  }
  const expr = ts.isOp(']') ? undefined : parseExpression(ts);
  ts.expectOp(']');
  const mem: MemOperand = {
    kind: 'mem', size, far: distance === 'far', near: distance === 'near', segment, regs: [], dispSize, nosplit, column,
  };
  if (expr) splitAddress(expr, mem);
  return mem;
}

/** Separates `base + index*scale + displacement` into registers and a register-free displacement. */
function splitAddress(expr: Expr, mem: MemOperand): void {
  const dispTerms: Expr[] = [];
  const addReg = (name: string, scale: number, col: number): void => {
    const reg = findRegister(name)!;
    if (reg.kind !== 'gpr' || reg.size === 8) throw new AsmError(`register '${name}' cannot be used in a memory address`, col);
    const existing = mem.regs.find((r) => r.reg.name === reg.name);
    if (existing) existing.scale += scale;
    else mem.regs.push({ reg, scale });
  };
  const walk = (e: Expr, sign: number): void => {
    if (!mentionsRegister(e)) {
      dispTerms.push(sign < 0 ? { kind: 'unary', op: '-', arg: e, column: e.column } : e);
      return;
    }
    if (e.kind === 'reg') {
      addReg(e.name, sign, e.column);
    } else if (e.kind === 'binary' && (e.op === '+' || e.op === '-')) {
      walk(e.left, sign);
      walk(e.right, e.op === '-' ? -sign : sign);
    } else if (e.kind === 'unary' && e.op === '+') {
      walk(e.arg, sign);
    } else if (e.kind === 'binary' && e.op === '*') {
      const [regSide, scaleSide] = e.left.kind === 'reg' ? [e.left, e.right] : [e.right, e.left];
      if (regSide.kind !== 'reg' || mentionsRegister(scaleSide)) throw new AsmError('invalid effective address', e.column);
      const scale = evaluate(scaleSide, {
        symbol: () => { throw new AsmError('the scale factor must be a constant', e.column); },
        here: () => { throw new AsmError('the scale factor must be a constant', e.column); },
        sectionStart: () => { throw new AsmError('the scale factor must be a constant', e.column); },
      });
      addReg(regSide.name, sign * Number(scale.n), e.column);
    } else {
      throw new AsmError('invalid effective address', e.column);
    }
  };
  walk(expr, 1);
  mem.regs = mem.regs.filter((r) => r.scale !== 0);
  if (mem.regs.some((r) => r.scale < 0)) throw new AsmError('invalid effective address: a register cannot be subtracted', mem.column);
  mem.disp = dispTerms.reduce<Expr | undefined>(
    (acc, term) => (acc ? { kind: 'binary', op: '+', left: acc, right: term, column: term.column } : term),
    undefined,
  );
}

/** Rewrites symbol names inside an operand (for `.local` label qualification). */
export function mapOperandSymbols(op: Operand, rename: (name: string) => string): Operand {
  switch (op.kind) {
    case 'reg': return op;
    case 'imm': return { ...op, expr: mapSymbols(op.expr, rename) };
    case 'mem': return { ...op, disp: op.disp && mapSymbols(op.disp, rename) };
    case 'far': return { ...op, segment: mapSymbols(op.segment, rename), offset: mapSymbols(op.offset, rename) };
  }
}
