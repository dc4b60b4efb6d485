/**
 * Expressions in debugger commands (`break print if eax == 4`, `x/4x esp+8`, `set ecx = ecx*2`):
 * numbers (decimal, 0x hex, 10h, 'c'), registers (with or without gdb's `$`), symbols, memory
 * as NASM writes it (`[esp+4]` is a dword, `byte [esi]`, `word [...]`), and C's operators with
 * C's precedence.
 *
 * Values are 32 bits, signed or unsigned as C (and gdb) would type them: small literals,
 * general registers and memory are signed ints, so `eax < 0` and `-7/2` mean what they say;
 * addresses (labels, ESP, EBP, EIP, control registers) and literals past 0x7FFFFFFF are
 * unsigned, and an operation with an unsigned operand is unsigned, so `0xC0000000/4096` is a
 * page number. The result is the 32 bits.
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

/** Registers that hold addresses (gdb types them as pointers): unsigned. */
const UNSIGNED_REGISTERS = new Set(['esp', 'ebp', 'eip', 'pc', 'ip', 'sp', 'bp', 'eflags', 'flags', 'cr0', 'cr2', 'cr3', 'cr4', 'dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7']);

/** A 32-bit value and how C types it. */
interface Value {
  bits: number;
  unsigned: boolean;
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
      if (value > 0xffffffff) throw new ExpressionError(`${num[1]} does not fit in 32 bits`);
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

const int = (bits: number): Value => ({ bits: bits >>> 0, unsigned: false });
const literal = (value: number): Value => ({ bits: value >>> 0, unsigned: value > 0x7fffffff });

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
    return value.bits >>> 0;
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

  private binary(level: number): Value {
    if (level === LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const op = this.peekOp();
      if (op === undefined || !LEVELS[level].includes(op)) return left;
      this.pos++;
      const right = this.binary(level + 1);
      left = apply(op, left, right, this.text);
    }
  }

  private unary(): Value {
    const op = this.peekOp();
    if (op === '-' || op === '~' || op === '!' || op === '+') {
      this.pos++;
      const v = this.unary();
      if (op === '!') return int(v.bits === 0 ? 1 : 0);
      return { bits: (op === '-' ? -v.bits : op === '~' ? ~v.bits : v.bits) >>> 0, unsigned: v.unsigned };
    }
    if (op === '*') {
      // gdb's *ADDR: the dword there.
      this.pos++;
      return int(this.context.memory(this.unary().bits >>> 0, 4));
    }
    return this.primary();
  }

  private primary(): Value {
    const t = this.tokens[this.pos];
    if (t === undefined) throw new ExpressionError(`'${this.text}' ends too early`);
    if (t.kind === 'num') {
      this.pos++;
      return literal(t.value);
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
    if (register !== undefined) return { bits: register >>> 0, unsigned: UNSIGNED_REGISTERS.has(name.toLowerCase()) };
    const symbol = this.context.symbol(name);
    // A label is an address; an EQU constant is typed as a literal is.
    if (symbol !== undefined) return literal(symbol >>> 0);
    throw new ExpressionError(`'${name}' is not a register or a symbol`);
  }

  private memory(size: 1 | 2 | 4): Value {
    this.expect('[');
    const address = this.binary(0);
    this.expect(']');
    return int(this.context.memory(address.bits >>> 0, size));
  }
}

/** C's binary operators on 32-bit values, with C's usual arithmetic conversions. */
function apply(op: string, a: Value, b: Value, text: string): Value {
  const unsigned = a.unsigned || b.unsigned;
  const x = a.bits >>> 0, y = b.bits >>> 0;
  const sx = x | 0, sy = y | 0;
  const result = (bits: number): Value => ({ bits: bits >>> 0, unsigned });
  switch (op) {
    case '+': return result(x + y);
    case '-': return result(x - y);
    case '*': return result(Math.imul(x, y));
    case '/':
    case '%':
      if (y === 0) throw new ExpressionError(`division by zero in '${text}'`);
      if (unsigned) return result(op === '/' ? Math.floor(x / y) : x % y);
      return result(op === '/' ? Math.trunc(sx / sy) : sx % sy);
    // A shift by 32 or more leaves nothing (C leaves it undefined; x86 would take the count mod 32).
    case '<<': return { bits: y >= 32 ? 0 : (x << y) >>> 0, unsigned: a.unsigned };
    case '>>': return { bits: y >= 32 ? (a.unsigned || sx >= 0 ? 0 : -1) >>> 0 : (a.unsigned ? x >>> y : sx >> y) >>> 0, unsigned: a.unsigned };
    case '&': return result(x & y);
    case '|': return result(x | y);
    case '^': return result(x ^ y);
    case '<': return int((unsigned ? x < y : sx < sy) ? 1 : 0);
    case '<=': return int((unsigned ? x <= y : sx <= sy) ? 1 : 0);
    case '>': return int((unsigned ? x > y : sx > sy) ? 1 : 0);
    case '>=': return int((unsigned ? x >= y : sx >= sy) ? 1 : 0);
    case '==': return int(x === y ? 1 : 0);
    case '!=': return int(x !== y ? 1 : 0);
    case '&&': return int(x !== 0 && y !== 0 ? 1 : 0);
    default: return int(x !== 0 || y !== 0 ? 1 : 0); // ||
  }
}

/** Evaluates `text` to its 32 bits; throws ExpressionError with what is wrong. */
export function evaluate(text: string, context: EvaluationContext): number {
  return new Parser(tokenize(text), text.trim(), context).parse();
}
