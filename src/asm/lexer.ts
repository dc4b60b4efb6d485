/**
 * Splits one (already preprocessed) source line into tokens. Columns are 1-based and point into
 * the line as written, so diagnostics can put a caret under the token.
 */
import { AsmError } from './diagnostics.ts';
import { parseNumber, stringBytes } from './numbers.ts';

export type Token =
  | { kind: 'num'; value: bigint; text: string; column: number }
  | { kind: 'str'; bytes: number[]; text: string; column: number }
  | { kind: 'id'; text: string; column: number }
  | { kind: 'op'; text: string; column: number };

/** Characters that may continue an identifier (NASM also allows these inside labels). */
export const IDENT_CHAR = /[A-Za-z0-9_$#@~.?]/;
/** Characters that may start an identifier. */
export const IDENT_START = /[A-Za-z_.?@]/;

// Longest first, so that `<<<` is not read as `<<` then `<`.
const OPERATORS = [
  '<<<', '>>>', '<=>', '<<', '>>', '//', '%%', '==', '!=', '<>', '<=', '>=', '&&', '||', '^^',
  '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '=', '(', ')', '[', ']', ',', ':', '?',
];

/** Where a `;` comment starts in the line (outside quotes), or the line length. */
export function commentStart(line: string): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote === '`') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === ';') {
      return i;
    }
  }
  return line.length;
}

export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  const end = commentStart(line);
  let i = 0;
  while (i < end) {
    const c = line[i]!;
    const column = i + 1;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < line.length && line[j] !== c) j += line[j] === '\\' && c === '`' ? 2 : 1;
      if (j >= line.length) throw new AsmError(`unterminated string (missing closing ${c})`, column);
      const body = line.slice(i + 1, j);
      tokens.push({ kind: 'str', bytes: stringBytes(body, c, column), text: line.slice(i, j + 1), column });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '$' && /[0-9]/.test(line[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < end && /[0-9A-Za-z_.]/.test(line[j]!)) j++;
      const text = line.slice(i, j);
      tokens.push({ kind: 'num', value: parseNumber(text, column), text, column });
      i = j;
    } else if (c === '$') {
      // `$$`, `$`, or `$name` (a `$` prefix lets a label be called like a register).
      if (line[i + 1] === '$') {
        tokens.push({ kind: 'id', text: '$$', column });
        i += 2;
      } else if (IDENT_START.test(line[i + 1] ?? '')) {
        let j = i + 1;
        while (j < end && IDENT_CHAR.test(line[j]!)) j++;
        tokens.push({ kind: 'id', text: line.slice(i + 1, j), column });
        i = j;
      } else {
        tokens.push({ kind: 'id', text: '$', column });
        i++;
      }
    } else if (IDENT_START.test(c) && !(c === '?' && !IDENT_CHAR.test(line[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < end && IDENT_CHAR.test(line[j]!)) j++;
      tokens.push({ kind: 'id', text: line.slice(i, j), column });
      i = j;
    } else {
      const op = OPERATORS.find((o) => line.startsWith(o, i));
      if (!op) throw new AsmError(`unexpected character '${c}'`, column);
      tokens.push({ kind: 'op', text: op, column });
      i += op.length;
    }
  }
  return tokens;
}
