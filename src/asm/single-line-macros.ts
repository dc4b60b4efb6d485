/**
 * `%define` macros: replaces identifiers (outside strings and comments) by their bodies,
 * substituting arguments for parameterised ones, and rescans the result. A macro is not
 * expanded inside its own expansion, so `%define a a+1` terminates, as in NASM.
 */
import { AsmError } from './diagnostics.ts';
import { IDENT_CHAR, IDENT_START } from './lexer.ts';

export interface SingleLineMacro {
  params?: string[];
  body: string;
}

export type DefineTable = Map<string, SingleLineMacro>;

const MAX_DEPTH = 64;

/** Splits `a, (b, c), "d,e"` at top-level commas. */
export function splitArguments(text: string, braces = false): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
      current += c;
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      current += c;
    } else if (c === '(' || (braces && c === '{')) {
      depth++;
      current += c;
    } else if (c === ')' || (braces && c === '}')) {
      depth--;
      current += c;
    } else if (c === ',' && depth === 0) {
      args.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  args.push(current);
  return args.map((a) => {
    const t = a.trim();
    return braces && t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1) : t;
  });
}

/** Replaces whole-word occurrences of `names[i]` by `values[i]` outside quotes. */
export function substituteWords(text: string, names: string[], values: string[]): string {
  if (names.length === 0) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const j = text.indexOf(c, i + 1);
      const end = j < 0 ? text.length : j + 1;
      out += text.slice(i, end);
      i = end;
    } else if (IDENT_START.test(c) || c === '$') {
      let j = i + 1;
      while (j < text.length && IDENT_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j);
      const k = names.indexOf(word);
      out += k >= 0 ? values[k] : word;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

export function expandDefines(text: string, defines: DefineTable, active: Set<string> = new Set(), depth = 0): string {
  if (defines.size === 0) return text;
  if (depth > MAX_DEPTH) throw new AsmError('macro expansion is nested too deeply (a %define that refers to itself?)');
  let out = '';
  let i = 0;
  let changed = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ';') {
      out += text.slice(i);
      break;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' && c === '`' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    // Parts of numbers (`0x10`, `10h`) are not identifiers.
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[0-9A-Za-z_.$]/.test(text[j]!)) j++;
      out += text.slice(i, j);
      i = j;
      continue;
    }
    if (IDENT_START.test(c) || (c === '$' && IDENT_START.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < text.length && IDENT_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j);
      const macro = active.has(word) ? undefined : defines.get(word);
      if (!macro) {
        out += word;
        i = j;
        continue;
      }
      if (macro.params) {
        let k = j;
        while (text[k] === ' ' || text[k] === '\t') k++;
        if (text[k] !== '(') {
          out += word;
          i = j;
          continue;
        }
        const close = findClosingParen(text, k);
        if (close < 0) throw new AsmError(`missing ')' in the call of macro '${word}'`, k + 1);
        const args = splitArguments(text.slice(k + 1, close)).map((a) => expandDefines(a, defines, active, depth + 1));
        if (args.length !== macro.params.length && !(macro.params.length === 0 && args.length === 1 && args[0] === '')) {
          throw new AsmError(`macro '${word}' takes ${macro.params.length} argument(s), not ${args.length}`, i + 1);
        }
        const body = substituteWords(macro.body, macro.params, args);
        out += expandDefines(body, defines, new Set([...active, word]), depth + 1);
        i = close + 1;
      } else {
        out += expandDefines(macro.body, defines, new Set([...active, word]), depth + 1);
        i = j;
      }
      changed = true;
      continue;
    }
    out += c;
    i++;
  }
  return changed ? out : text;
}

function findClosingParen(text: string, open: number): number {
  let depth = 0;
  let quote = '';
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}
