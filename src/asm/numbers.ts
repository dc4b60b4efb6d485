/**
 * NASM's numeric and string constants: every radix spelling (0x.., ..h, $.., 0b.., ..b, 0o/0q..,
 * ..o/..q, 0d/0t.., ..d/..t, plain decimal, `_` separators) and the three quote styles.
 */
import { AsmError } from './diagnostics.ts';

const RADIX_FORMS: Array<[RegExp, number]> = [
  [/^0[xh]([0-9a-f_]+)$/, 16],
  [/^0[by]([01_]+)$/, 2],
  [/^0[oq]([0-7_]+)$/, 8],
  [/^0[dt]([0-9_]+)$/, 10],
  // Suffix forms; the hex suffix first, because `0bh` is hex and not a binary prefix.
  [/^([0-9][0-9a-f_]*)h$/, 16],
  [/^([01_]+)[by]$/, 2],
  [/^([0-7_]+)[oq]$/, 8],
  [/^([0-9_]+)[dt]$/, 10],
  [/^([0-9_]+)$/, 10],
];

/** The value of a number token such as `0x7c00`, `0AA55h`, `$ff` or `1010b`; throws if malformed. */
export function parseNumber(text: string, column?: number): bigint {
  const lower = text.toLowerCase();
  if (lower.startsWith('$')) return digitsToBigInt(lower.slice(1), 16, text, column);
  for (const [pattern, radix] of RADIX_FORMS) {
    const m = pattern.exec(lower);
    if (m) return digitsToBigInt(m[1]!, radix, text, column);
  }
  if (/^[0-9][0-9_]*\.[0-9_]*(e[+-]?[0-9]+)?$/.test(lower)) {
    throw new AsmError(`floating-point constant '${text}' is not supported here`, column);
  }
  throw new AsmError(`invalid number '${text}'`, column);
}

function digitsToBigInt(digits: string, radix: number, text: string, column?: number): bigint {
  const clean = digits.replace(/_/g, '');
  if (clean === '') throw new AsmError(`invalid number '${text}'`, column);
  let value = 0n;
  const big = BigInt(radix);
  for (const ch of clean) {
    const d = parseInt(ch, radix);
    if (Number.isNaN(d)) throw new AsmError(`invalid digit '${ch}' in number '${text}'`, column);
    value = value * big + BigInt(d);
  }
  return BigInt.asUintN(64, value);
}

/** UTF-8 bytes of a JS string, without TextEncoder so that it works the same everywhere. */
export function utf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  "'": 0x27, '"': 0x22, '`': 0x60, '\\': 0x5c, '?': 0x3f,
  a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, e: 27,
};

/**
 * The bytes of a quoted string's body. Single and double quotes take the text literally;
 * backquotes understand C-style escapes, as in NASM.
 */
export function stringBytes(body: string, quote: string, column?: number): number[] {
  if (quote !== '`') return utf8Bytes(body);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      out.push(...utf8Bytes(ch));
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new AsmError('backslash at the end of a string', column);
    if (e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]!);
    } else if (/[0-7]/.test(e)) {
      let digits = e;
      while (digits.length < 3 && /[0-7]/.test(body[i + 1] ?? '')) digits += body[++i];
      out.push(parseInt(digits, 8) & 0xff);
    } else if (e === 'x') {
      let digits = '';
      while (digits.length < 2 && /[0-9a-fA-F]/.test(body[i + 1] ?? '')) digits += body[++i];
      out.push(digits === '' ? 0 : parseInt(digits, 16));
    } else if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      let digits = '';
      while (digits.length < len && /[0-9a-fA-F]/.test(body[i + 1] ?? '')) digits += body[++i];
      out.push(...utf8Bytes(String.fromCodePoint(parseInt(digits || '0', 16))));
    } else {
      out.push(...utf8Bytes(e));
    }
  }
  return out;
}

/** A character constant such as 'ab' as a number: the first character in the lowest byte. */
export function bytesToNumber(bytes: number[]): bigint {
  let value = 0n;
  for (let i = Math.min(bytes.length, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}
