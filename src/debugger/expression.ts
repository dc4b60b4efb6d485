/**
 * Expressions in debugger commands (`break print if eax == 4`, `x/4x esp+8`, `set ecx = ecx*2`):
 * numbers (decimal, 0x hex, 10h, 'c'), registers (with or without gdb's `$`), symbols, memory
 * as NASM writes it (`[esp+4]` is a dword, `byte [esi]`, `word [...]`), and C's operators with
 * C's precedence. Values are 32-bit unsigned, as the machine's.
 */

export class ExpressionError extends Error {}

export interface EvaluationContext {
  /** A register's value, or undefined when `name` is not one. */
  register(name: string): number | undefined;
  /** A symbol's value, or undefined. */
  symbol(name: string): number | undefined;
  /** Memory at a linear address, `bytes` wide; throws ExpressionError when it is not mapped. */
  memory(address: number, bytes: 1 | 2 | 4): number;
}

type Token = { kind: 'num'; value: number } | { kind: 'name'; text: string } | { kind: 'op'; text: string };

const OPERATORS = ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '(', ')', '[', ']'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    const num = /^(0x[0-9a-f]+|0b[01]+|[0-9][0-9a-f]*h\b|[0-9]+)/i.exec(rest);
    if (num) {
      const t = num[1].toLowerCase();
      const value = t.startsWith('0x') ? parseInt(t.slice(2), 16) : t.startsWith('0b') ? parseInt(t.slice(2), 2) : t.endsWith('h') ? parseInt(t.slice(0, -1), 16) : parseInt(t, 10);
      tokens.push({ kind: 'num', value });
      i += num[1].length;
      continue;
    }
    const char = /^'(.)'/.exec(rest);
    if (char) {
      tokens.push({ kind: 'num', value: char[1].charCodeAt(0) });
      i += 3;
      continue;
    }
    const name = /^\$?[A-Za-z_.?@][\w.?@$#]*/.exec(rest);
    if (name) {
      tokens.push({ kind: 'name', text: name[0] });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (!op) throw new ExpressionError(`unexpected '${c}' in '${text}'`);
    tokens.push({ kind: 'op', text: op });
    i += op.length;
  }
  return tokens;
}

/** Binary operators by precedence, loosest first (C's). */
const LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
const SIZES: Record<string, 1 | 2 | 4> = { byte: 1, word: 2, dword: 4 };

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
    private readonly context: EvaluationContext,
  ) {}

  parse(): number {
    if (this.tokens.length === 0) throw new ExpressionError('an expression is missing');
    const value = this.binary(0);
    if (this.pos < this.tokens.length) throw new ExpressionError(`unexpected '${this.describe(this.tokens[this.pos])}' in '${this.text}'`);
    return value >>> 0;
  }

  private describe(t: Token): string {
    return t.kind === 'num' ? String(t.value) : t.text;
  }

  private peekOp(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'op' ? t.text : undefined;
  }

  private expect(op: string): void {
    if (this.peekOp() !== op) throw new ExpressionError(`'${op}' expected in '${this.text}'`);
    this.pos++;
  }

  private binary(level: number): number {
    if (level === LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const op = this.peekOp();
      if (op === undefined || !LEVELS[level].includes(op)) return left;
      this.pos++;
      const right = this.binary(level + 1);
      left = apply(op, left >>> 0, right >>> 0, this.text);
    }
  }

  private unary(): number {
    const op = this.peekOp();
    if (op === '-' || op === '~' || op === '!' || op === '+') {
      this.pos++;
      const v = this.unary();
      return op === '-' ? -v >>> 0 : op === '~' ? ~v >>> 0 : op === '!' ? (v === 0 ? 1 : 0) : v;
    }
    if (op === '*') {
      // gdb's *ADDR: the dword there.
      this.pos++;
      return this.context.memory(this.unary() >>> 0, 4);
    }
    return this.primary();
  }

  private primary(): number {
    const t = this.tokens[this.pos];
    if (t === undefined) throw new ExpressionError(`'${this.text}' ends too early`);
    if (t.kind === 'num') {
      this.pos++;
      return t.value;
    }
    if (t.kind === 'op') {
      if (t.text === '(') {
        this.pos++;
        const v = this.binary(0);
        this.expect(')');
        return v;
      }
      if (t.text === '[') return this.memory(4);
      throw new ExpressionError(`unexpected '${t.text}' in '${this.text}'`);
    }
    this.pos++;
    const size = SIZES[t.text.toLowerCase()];
    if (size !== undefined && this.peekOp() === '[') return this.memory(size);
    const name = t.text.startsWith('$') ? t.text.slice(1) : t.text;
    const register = this.context.register(name.toLowerCase());
    if (register !== undefined) return register;
    const symbol = this.context.symbol(name);
    if (symbol !== undefined) return symbol;
    throw new ExpressionError(`'${name}' is not a register or a symbol`);
  }

  private memory(size: 1 | 2 | 4): number {
    this.expect('[');
    const address = this.binary(0);
    this.expect(']');
    return this.context.memory(address >>> 0, size);
  }
}

function apply(op: string, a: number, b: number, text: string): number {
  switch (op) {
    case '+': return (a + b) >>> 0;
    case '-': return (a - b) >>> 0;
    case '*': return Math.imul(a, b) >>> 0;
    case '/':
    case '%':
      if (b === 0) throw new ExpressionError(`division by zero in '${text}'`);
      return op === '/' ? Math.floor(a / b) >>> 0 : a % b;
    case '<<': return (a << (b & 31)) >>> 0;
    case '>>': return a >>> (b & 31);
    case '&': return (a & b) >>> 0;
    case '|': return (a | b) >>> 0;
    case '^': return (a ^ b) >>> 0;
    case '<': return a < b ? 1 : 0;
    case '<=': return a <= b ? 1 : 0;
    case '>': return a > b ? 1 : 0;
    case '>=': return a >= b ? 1 : 0;
    case '==': return a === b ? 1 : 0;
    case '!=': return a !== b ? 1 : 0;
    case '&&': return a !== 0 && b !== 0 ? 1 : 0;
    default: return a !== 0 || b !== 0 ? 1 : 0; // ||
  }
}

/** Evaluates `text`; throws ExpressionError with what is wrong. */
export function evaluate(text: string, context: EvaluationContext): number {
  return new Parser(tokenize(text), text.trim(), context).parse();
}
