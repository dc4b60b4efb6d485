/**
 * Parses one preprocessed line into a statement: an optional label, then an instruction, a data
 * or reservation directive, TIMES, ALIGN, EQU, or an assembler directive (BITS, ORG, SECTION...).
 * Parsing happens once; the assembler evaluates the statements on every pass.
 */
import { AsmError } from './diagnostics.ts';
import { type Expr, TokenStream, mapSymbols, parseExpression } from './expression.ts';
import { type Instruction, PREFIX_NAMES, type Prefix, allMnemonics, isMnemonic } from './encoder.ts';
import { type Token, tokenize } from './lexer.ts';
import { type Operand, mapOperandSymbols, parseOperand } from './operands.ts';
import { closest } from './suggest.ts';

export type DataItem = { kind: 'bytes'; bytes: number[] } | { kind: 'expr'; expr: Expr; column: number };

export interface SectionAttributes {
  align?: Expr;
  start?: Expr;
  vstart?: Expr;
  follows?: string;
  vfollows?: string;
  nobits?: boolean;
}

export type Body =
  | { kind: 'empty' }
  | { kind: 'insn'; insn: Instruction }
  | { kind: 'data'; unit: number; items: DataItem[] }
  | { kind: 'reserve'; unit: number; count: Expr; column: number }
  | { kind: 'times'; count: Expr; body: Body; column: number }
  | { kind: 'align'; boundary: Expr; fill?: Body; reserve: boolean; column: number }
  | { kind: 'incbin'; file: string; skip?: Expr; length?: Expr; column: number }
  | { kind: 'bits'; bits: 16 | 32 }
  | { kind: 'org'; expr: Expr; column: number }
  | { kind: 'section'; name: string; attributes: SectionAttributes; column: number }
  | { kind: 'absolute'; expr: Expr; column: number }
  | { kind: 'struc'; name: string; column: number }
  | { kind: 'endstruc'; column: number }
  | { kind: 'istruc'; name: string; column: number }
  | { kind: 'at'; field: Expr; body: Body; column: number }
  | { kind: 'iend'; column: number };

export interface Statement {
  label?: { name: string; column: number; local: boolean };
  /** A label defined with EQU rather than by position. */
  equ?: Expr;
  body: Body;
}

const DATA_UNITS: Record<string, number> = { db: 1, dw: 2, dd: 4, dq: 8, dt: 10, do: 16 };
const RESERVE_UNITS: Record<string, number> = { resb: 1, resw: 2, resd: 4, resq: 8, rest: 10, reso: 16 };
/** Directives accepted and ignored: they matter for object formats, not for `-f bin`. */
const IGNORED = new Set(['global', 'extern', 'common', 'cpu', 'default', 'static', 'required', 'warning', 'list', 'map', 'float', 'sectalign']);
const DIRECTIVES = new Set([
  ...Object.keys(DATA_UNITS), ...Object.keys(RESERVE_UNITS), ...IGNORED,
  'bits', 'use16', 'use32', 'org', 'section', 'segment', 'times', 'align', 'alignb', 'incbin', 'equ', 'absolute',
  'struc', 'endstruc', 'istruc', 'at', 'iend',
]);

export function isKeyword(word: string): boolean {
  const w = word.toLowerCase();
  return DIRECTIVES.has(w) || isMnemonic(w) || PREFIX_NAMES.has(w);
}

/** Everything a user might have meant to type as an instruction or directive. */
export function knownWords(): string[] {
  return [...allMnemonics(), ...DIRECTIVES];
}

export interface ParseContext {
  /** The last non-local label, which `.local` labels hang off. */
  scope: string;
  /** Warnings found while parsing (e.g. a bare label that looks like a typo). */
  warn(message: string, column: number): void;
}

/** Parses a line; updates the local-label scope when the line defines a global label. */
export function parseStatement(line: string, ctx: ParseContext): Statement {
  let tokens = tokenize(line);
  // `[bits 32]`, `[org 0x100]`, `[section .text]`: the primitive (bracketed) directive forms.
  if (tokens.length >= 2 && tokens[0]!.kind === 'op' && tokens[0]!.text === '[' && tokens[1]!.kind === 'id' && DIRECTIVES.has(tokens[1]!.text.toLowerCase())) {
    const last = tokens[tokens.length - 1]!;
    if (last.kind !== 'op' || last.text !== ']') throw new AsmError("missing ']' after the directive", last.column);
    tokens = tokens.slice(1, -1);
  }
  const ts = new TokenStream(tokens, line.length + 1);
  const statement: Statement = { body: { kind: 'empty' } };
  const first = ts.peek();
  if (!first) return statement;

  if (first.kind === 'id' && !first.text.startsWith('$') && (ts.isOp(':', 1) || !isKeyword(first.text))) {
    const hasColon = ts.isOp(':', 1);
    const second = ts.peek(hasColon ? 2 : 1);
    if (!hasColon && second && !(second.kind === 'id' && isKeyword(second.text))) {
      const guess = closest(first.text.toLowerCase(), knownWords());
      throw new AsmError(`unknown instruction '${first.text}'${guess ? ` (did you mean '${guess}'?)` : ''}`, first.column);
    }
    statement.label = qualifyLabel(first, ctx);
    if (!hasColon && !second) {
      const guess = closest(first.text.toLowerCase(), knownWords(), 1);
      if (guess) ctx.warn(`label '${first.text}' alone on a line without a colon: did you mean the instruction '${guess}'?`, first.column);
    }
    ts.pos += hasColon ? 2 : 1;
    if (ts.isWord('equ')) {
      ts.next();
      statement.equ = qualify(parseExpression(ts), ctx);
      expectEnd(ts);
      return statement;
    }
  }
  if (!ts.atEnd()) {
    try {
      statement.body = parseBody(ts, ctx);
    } catch (e) {
      // Keep the label of a line whose instruction is wrong, so that it is still defined
      // (and a later duplicate is still reported).
      if (e instanceof AsmError && statement.label) (e as AsmError & { partial?: Statement }).partial = statement;
      throw e;
    }
  }
  return statement;
}

function qualifyLabel(token: Token, ctx: ParseContext): { name: string; column: number; local: boolean } {
  const name = token.text;
  if (name.startsWith('.') && !name.startsWith('..')) return { name: ctx.scope + name, column: token.column, local: true };
  if (!name.startsWith('..@')) ctx.scope = name;
  return { name, column: token.column, local: false };
}

function localName(name: string, ctx: ParseContext): string {
  return name.startsWith('.') && !name.startsWith('..') ? ctx.scope + name : name;
}

function qualify(expr: Expr, ctx: ParseContext): Expr {
  return mapSymbols(expr, (n) => localName(n, ctx));
}

function expectEnd(ts: TokenStream): void {
  const t = ts.peek();
  if (t) throw new AsmError(`unexpected '${t.text}' after the end of the statement`, t.column);
}

function parseBody(ts: TokenStream, ctx: ParseContext): Body {
  const prefixes: Prefix[] = [];
  for (;;) {
    const t = ts.peek();
    if (t && t.kind === 'id' && PREFIX_NAMES.has(t.text.toLowerCase())) {
      prefixes.push({ name: t.text.toLowerCase(), column: t.column });
      ts.next();
    } else break;
  }
  const head = ts.next();
  if (!head) {
    if (prefixes.length === 0) return { kind: 'empty' };
    // A prefix alone on its line (`rep` then the instruction on the next line): emit just the prefix.
    return { kind: 'insn', insn: { prefixes, mnemonic: '', column: prefixes[0]!.column, operands: [] } };
  }
  if (head.kind !== 'id') throw new AsmError(`expected an instruction or directive but found '${head.text}'`, head.column);
  const word = head.text.toLowerCase();
  if (prefixes.length > 0 && DIRECTIVES.has(word) && word !== 'times') {
    throw new AsmError(`the prefix '${prefixes[0]!.name}' cannot be used with '${word}'`, prefixes[0]!.column);
  }

  if (word in DATA_UNITS) return { kind: 'data', unit: DATA_UNITS[word]!, items: parseDataItems(ts, ctx, head) };
  if (word in RESERVE_UNITS) {
    const count = qualify(parseExpression(ts), ctx);
    expectEnd(ts);
    return { kind: 'reserve', unit: RESERVE_UNITS[word]!, count, column: head.column };
  }
  if (IGNORED.has(word)) return { kind: 'empty' };
  switch (word) {
    case 'times': {
      const count = qualify(parseExpression(ts), ctx);
      if (ts.atEnd()) throw new AsmError('TIMES needs an instruction or data after the count', ts.column());
      return { kind: 'times', count, body: parseBody(ts, ctx), column: head.column };
    }
    case 'bits': {
      const t = ts.next();
      if (!t || t.kind !== 'num' || (t.value !== 16n && t.value !== 32n)) {
        throw new AsmError('BITS must be 16 or 32 (this assembler targets 386/486 code)', t?.column ?? head.column);
      }
      expectEnd(ts);
      return { kind: 'bits', bits: Number(t.value) as 16 | 32 };
    }
    case 'use16':
    case 'use32':
      return { kind: 'bits', bits: word === 'use16' ? 16 : 32 };
    case 'org': {
      const expr = qualify(parseExpression(ts), ctx);
      expectEnd(ts);
      return { kind: 'org', expr, column: head.column };
    }
    case 'section':
    case 'segment':
      return parseSection(ts, ctx, head);
    case 'absolute': {
      const expr = qualify(parseExpression(ts), ctx);
      expectEnd(ts);
      return { kind: 'absolute', expr, column: head.column };
    }
    case 'align':
    case 'alignb': {
      const boundary = qualify(parseExpression(ts), ctx);
      let fill: Body | undefined;
      if (ts.isOp(',')) {
        ts.next();
        fill = parseBody(ts, ctx);
      }
      expectEnd(ts);
      return { kind: 'align', boundary, fill, reserve: word === 'alignb', column: head.column };
    }
    case 'incbin': {
      const t = ts.next();
      if (!t || t.kind !== 'str') throw new AsmError('INCBIN needs a file name in quotes', t?.column ?? head.column);
      const file = String.fromCharCode(...t.bytes);
      let skip: Expr | undefined;
      let length: Expr | undefined;
      if (ts.isOp(',')) {
        ts.next();
        skip = qualify(parseExpression(ts), ctx);
        if (ts.isOp(',')) {
          ts.next();
          length = qualify(parseExpression(ts), ctx);
        }
      }
      expectEnd(ts);
      return { kind: 'incbin', file, skip, length, column: t.column };
    }
    case 'struc':
    case 'istruc': {
      const t = ts.next();
      if (!t || t.kind !== 'id') throw new AsmError(`${word.toUpperCase()} needs a structure name`, head.column);
      expectEnd(ts);
      if (word === 'struc') ctx.scope = t.text;
      return { kind: word, name: t.text, column: head.column };
    }
    case 'endstruc':
    case 'iend':
      expectEnd(ts);
      return { kind: word, column: head.column };
    case 'at': {
      const field = qualify(parseExpression(ts), ctx);
      if (ts.isOp(',')) ts.next();
      return { kind: 'at', field, body: ts.atEnd() ? { kind: 'empty' } : parseBody(ts, ctx), column: head.column };
    }
    case 'equ':
      throw new AsmError('EQU needs a label before it', head.column);
  }
  if (!isMnemonic(word)) {
    const guess = closest(word, knownWords());
    throw new AsmError(`unknown instruction '${head.text}'${guess ? ` (did you mean '${guess}'?)` : ''}`, head.column);
  }
  const operands: Operand[] = [];
  if (!ts.atEnd()) {
    for (;;) {
      operands.push(mapOperandSymbols(parseOperand(ts), (n) => localName(n, ctx)));
      if (!ts.isOp(',')) break;
      ts.next();
    }
  }
  expectEnd(ts);
  return { kind: 'insn', insn: { prefixes, mnemonic: word, column: head.column, operands } };
}

function parseDataItems(ts: TokenStream, ctx: ParseContext, head: Token): DataItem[] {
  const items: DataItem[] = [];
  if (ts.atEnd()) throw new AsmError(`${head.text.toUpperCase()} needs at least one value`, head.column);
  for (;;) {
    const t = ts.peek()!;
    const after = ts.peek(1);
    if (t.kind === 'str' && (!after || (after.kind === 'op' && after.text === ','))) {
      ts.next();
      items.push({ kind: 'bytes', bytes: t.bytes });
    } else {
      items.push({ kind: 'expr', expr: qualify(parseExpression(ts), ctx), column: t.column });
    }
    if (!ts.isOp(',')) break;
    ts.next();
    if (ts.atEnd()) throw new AsmError('a value is missing after the last comma', ts.column());
  }
  expectEnd(ts);
  return items;
}

function parseSection(ts: TokenStream, ctx: ParseContext, head: Token): Body {
  const nameToken = ts.next();
  if (!nameToken || nameToken.kind !== 'id') throw new AsmError('SECTION needs a name', nameToken?.column ?? head.column);
  const attributes: SectionAttributes = {};
  while (!ts.atEnd()) {
    const t = ts.next()!;
    if (t.kind !== 'id') throw new AsmError(`unexpected '${t.text}' in the section attributes`, t.column);
    const key = t.text.toLowerCase();
    if (key === 'progbits' || key === 'nobits') {
      attributes.nobits = key === 'nobits';
      continue;
    }
    if (!ts.isOp('=')) {
      continue; // attributes such as `exec`, `write`, `private` mean nothing to a flat binary
    }
    ts.next();
    if (key === 'follows' || key === 'vfollows') {
      const target = ts.next();
      if (!target || target.kind !== 'id') throw new AsmError(`${key}= needs a section name`, t.column);
      attributes[key] = target.text;
    } else if (key === 'align' || key === 'start' || key === 'vstart') {
      attributes[key] = qualify(parseExpression(ts), ctx);
    } else {
      throw new AsmError(`unknown section attribute '${t.text}'`, t.column);
    }
  }
  return { kind: 'section', name: nameToken.text, attributes, column: head.column };
}
