/**
 * NASM's preprocessor, the parts students use: %define/%xdefine/%undef (with parameters),
 * %assign, %if/%elif/%else/%endif and the %ifdef/%ifndef/%ifidn/%ifnum/%ifstr families,
 * %include, %macro/%endmacro (parameters %1.., %0, %%local labels, ranges, defaults, greedy
 * last parameter, %rotate), %rep/%exitrep/%endrep, %error/%warning. The output is a list of
 * plain lines, each with the file and line it came from. Expressions may also use EQU constants
 * and labels from the lines above (through AssemblerSymbols, see interleave.ts) and registers.
 */
import type { SourceLine } from './assembler.ts';
import { AsmError, type Diagnostic, type Severity } from './diagnostics.ts';
import { TokenStream, type Value, evaluate, parseExpression } from './expression.ts';
import { commentStart, tokenize } from './lexer.ts';
import { dirname, joinPath } from './path.ts';
import { describeTerms } from './register-terms.ts';
import { type DefineTable, expandDefines, splitArguments } from './single-line-macros.ts';

export type FileReader = (path: string) => string | Uint8Array | undefined;

/**
 * The assembler's symbols as the preprocessor may see them. nasm preprocesses and assembles line
 * by line, so %if, %assign and %rep can use an EQU constant or a label defined above them; here
 * the whole source is preprocessed first, and interleave.ts supplies what the assembly says.
 */
export interface AssemblerSymbols {
  /**
   * The value of the symbol `name` (as written: a `.local` name is still unqualified) if one of
   * the first `line` output lines defines it, else undefined. `at` is the line that asks.
   */
  valueBefore(name: string, line: number, at: SourceLine): Value | undefined;
}

export interface PreprocessOptions {
  fileName: string;
  defines: Record<string, string>;
  includePaths: string[];
  readFile?: FileReader;
  /** Without it, a preprocessor expression can use no assembler symbol. */
  symbols?: AssemblerSymbols;
}

interface MacroDefinition {
  name: string;
  minParams: number;
  maxParams: number;
  greedy: boolean;
  defaults: string[];
  body: SourceLine[];
}

/** The arguments of the macro call being expanded, for %1.., %0 and %%labels. */
interface MacroFrame {
  args: string[];
  id: number;
}

class ExitRep extends Error {}

const MAX_INCLUDE_DEPTH = 32;
const MAX_MACRO_DEPTH = 200;
const MAX_REP = 1_000_000;

export function preprocess(source: string, options: PreprocessOptions): { lines: SourceLine[]; diagnostics: Diagnostic[] } {
  const p = new Preprocessor(options);
  p.run(source, options.fileName);
  return { lines: p.output, diagnostics: p.diagnostics };
}

/** Splits text into lines, joining those that end in a backslash. */
function splitSource(text: string, file: string): SourceLine[] {
  const raw = text.split(/\r?\n/);
  const lines: SourceLine[] = [];
  for (let i = 0; i < raw.length; i++) {
    let t = raw[i]!;
    const line = i + 1;
    while (/\\\s*$/.test(t.slice(0, commentStart(t))) && i + 1 < raw.length) {
      t = t.slice(0, commentStart(t)).replace(/\\\s*$/, '') + raw[++i]!;
    }
    lines.push({ text: t, file, line });
  }
  if (lines.length > 0 && lines[lines.length - 1]!.text === '') lines.pop();
  return lines;
}

/** The directive word of a `%word ...` line, lowercased, or undefined for ordinary lines. */
function directiveOf(text: string): { word: string; rest: string; column: number } | undefined {
  const m = /^(\s*)%([a-zA-Z]+)\b(.*)$/.exec(text);
  if (!m) return undefined;
  return { word: m[2]!.toLowerCase(), rest: m[3]!, column: m[1]!.length + 1 };
}

const IF_WORDS = /^(if|ifn)(def|macro|idn|idni|num|str|id|empty|ctx)?$/;
const ELIF_WORDS = /^(elif|elifn)(def|macro|idn|idni|num|str|id|empty|ctx)?$/;

class Preprocessor {
  output: SourceLine[] = [];
  diagnostics: Diagnostic[] = [];
  private defines: DefineTable = new Map();
  private macros = new Map<string, MacroDefinition[]>();
  private nextMacroId = 1;
  private includeDepth = 0;
  private macroDepth = 0;

  constructor(private readonly options: PreprocessOptions) {
    for (const [name, value] of Object.entries(options.defines)) this.defines.set(name, { body: value });
  }

  run(source: string, file: string): void {
    this.processLines(splitSource(source, file), undefined);
  }

  private report(severity: Severity, at: SourceLine, message: string, column = 1): void {
    this.diagnostics.push({ severity, file: at.file, line: at.line, column, message, sourceLine: at.text });
  }

  private processLines(lines: SourceLine[], frame: MacroFrame | undefined, callSite?: SourceLine): void {
    for (let i = 0; i < lines.length; i++) {
      const original = lines[i]!;
      let line = original;
      try {
        if (frame) line = { ...line, text: this.substituteMacroParams(line.text, frame) };
        const d = directiveOf(line.text);
        if (!d) {
          this.processTextLine(line, callSite);
          continue;
        }
        if (IF_WORDS.test(d.word)) {
          i = this.processConditional(lines, i, frame, callSite);
        } else if (d.word === 'macro' || d.word === 'imacro') {
          i = this.defineMacro(lines, i, d.rest, line);
        } else if (d.word === 'rep') {
          i = this.processRep(lines, i, frame, callSite, d.rest, line);
        } else if (d.word === 'rotate') {
          if (!frame) throw new AsmError('%rotate outside a macro', d.column);
          const n = Number(this.evaluateCondition(d.rest, line, '%rotate'));
          const count = frame.args.length;
          if (count > 0) {
            const k = ((n % count) + count) % count;
            frame.args = [...frame.args.slice(k), ...frame.args.slice(0, k)];
          }
        } else if (d.word === 'exitrep') {
          throw new ExitRep();
        } else if (['elif', 'else', 'endif', 'endmacro', 'endm', 'endrep'].includes(d.word) || ELIF_WORDS.test(d.word)) {
          throw new AsmError(`%${d.word} without a matching %${d.word === 'endmacro' || d.word === 'endm' ? 'macro' : d.word === 'endrep' ? 'rep' : 'if'}`, d.column);
        } else {
          this.processDirective(d.word, d.rest, line, d.column);
        }
      } catch (e) {
        if (e instanceof ExitRep) throw e;
        if (!(e instanceof AsmError)) throw e;
        this.report('error', callSite ?? line, e.message, callSite ? 1 : e.column);
      }
    }
  }

  /** %1..%9, %{n}, %0 and %%name inside a macro body. */
  private substituteMacroParams(text: string, frame: MacroFrame): string {
    return text.replace(/%%([A-Za-z_.?$@][A-Za-z0-9_.?$@#~]*)|%\{(-?\d+)\}|%(\d+)/g, (whole, local: string | undefined, braced: string | undefined, plain: string | undefined) => {
      if (local !== undefined) return `..@${frame.id}.${local}`;
      const n = Number(braced ?? plain);
      if (n === 0) return String(frame.args.length);
      return frame.args[n - 1] ?? '';
    });
  }

  private processTextLine(line: SourceLine, callSite: SourceLine | undefined): void {
    const text = expandDefines(line.text, this.defines);
    const located = callSite ? { text, file: callSite.file, line: callSite.line } : { ...line, text };
    // A multi-line macro call: `name args` or `label: name args`.
    const m = /^(\s*(?:[A-Za-z_.?$@][\w.?$@#~]*:\s*)?)([A-Za-z_.?][\w.?$@#~]*)(\s+(.*))?$/.exec(text.slice(0, commentStart(text)));
    if (m) {
      const name = m[2]!;
      const candidates = this.macros.get(name) ?? this.macros.get(name.toLowerCase());
      if (candidates) {
        const argText = (m[4] ?? '').trim();
        const macro = this.pickMacro(name, candidates, argText, line);
        if (m[1]!.trim() !== '') this.output.push({ ...located, text: m[1]!.trim() });
        this.expandMacro(macro, argText, located);
        return;
      }
    }
    this.output.push(located);
  }

  private pickMacro(name: string, candidates: MacroDefinition[], argText: string, line: SourceLine): MacroDefinition {
    const count = argText === '' ? 0 : splitArguments(argText, true).length;
    for (const m of candidates) {
      if (count >= m.minParams && (count <= m.maxParams || m.greedy)) return m;
    }
    const forms = candidates.map((m) => (m.minParams === m.maxParams ? `${m.minParams}` : `${m.minParams}-${m.maxParams === Infinity ? '*' : m.maxParams}`)).join(' or ');
    throw new AsmError(`macro '${name}' takes ${forms} parameter(s), but was given ${count}`, 1 + line.text.indexOf(name));
  }

  private expandMacro(macro: MacroDefinition, argText: string, callSite: SourceLine): void {
    if (++this.macroDepth > MAX_MACRO_DEPTH) {
      this.macroDepth--;
      throw new AsmError(`macro '${macro.name}' expands itself too deeply`);
    }
    try {
      let args = argText === '' ? [] : splitArguments(argText, true);
      if (macro.greedy && args.length > macro.maxParams) {
        const k = macro.maxParams - 1;
        // The greedy parameter takes the rest of the line, commas included.
        const parts = splitArguments(argText, false);
        args = [...args.slice(0, k), parts.slice(k).join(', ')];
      }
      for (let i = args.length; i < macro.maxParams && i - macro.minParams < macro.defaults.length; i++) {
        if (i >= macro.minParams) args.push(macro.defaults[i - macro.minParams]!);
      }
      const frame: MacroFrame = { args, id: this.nextMacroId++ };
      this.processLines(macro.body, frame, callSite);
    } finally {
      this.macroDepth--;
    }
  }

  private defineMacro(lines: SourceLine[], start: number, header: string, at: SourceLine): number {
    const m = /^\s*([A-Za-z_.?][\w.?$@#~]*)\s*(\d+)?(?:\s*-\s*(\d+|\*))?(\+)?(?:\.nolist)?\s*(.*)$/.exec(header.slice(0, commentStart(header)));
    if (!m) throw new AsmError('%macro needs a name and a parameter count, as in `%macro name 2`', 1);
    const name = m[1]!;
    const minParams = Number(m[2] ?? 0);
    const maxParams = m[3] === '*' ? Infinity : m[3] !== undefined ? Number(m[3]) : minParams;
    const defaults = m[5] && m[5].trim() !== '' ? splitArguments(m[5].trim(), true) : [];
    let depth = 1;
    let i = start + 1;
    const body: SourceLine[] = [];
    for (; i < lines.length; i++) {
      const d = directiveOf(lines[i]!.text);
      if (d && (d.word === 'macro' || d.word === 'imacro')) depth++;
      if (d && (d.word === 'endmacro' || d.word === 'endm') && --depth === 0) break;
      body.push(lines[i]!);
    }
    if (i >= lines.length) {
      this.report('error', at, `unterminated macro '${name}': %endmacro is missing`, 1 + at.text.indexOf('%'));
      return lines.length;
    }
    const def: MacroDefinition = { name, minParams, maxParams, greedy: m[4] === '+', defaults, body };
    const list = (this.macros.get(name) ?? []).filter((x) => !(x.minParams === minParams && x.maxParams === maxParams));
    list.push(def);
    this.macros.set(name, list);
    return i;
  }

  private processRep(lines: SourceLine[], start: number, frame: MacroFrame | undefined, callSite: SourceLine | undefined, countText: string, at: SourceLine): number {
    let depth = 1;
    let i = start + 1;
    const body: SourceLine[] = [];
    for (; i < lines.length; i++) {
      const d = directiveOf(lines[i]!.text);
      if (d?.word === 'rep') depth++;
      if (d?.word === 'endrep' && --depth === 0) break;
      body.push(lines[i]!);
    }
    if (i >= lines.length) {
      this.report('error', callSite ?? at, '%rep without %endrep', 1 + at.text.indexOf('%'));
      return lines.length;
    }
    const count = this.evaluateCondition(countText, at, '%rep');
    if (count > BigInt(MAX_REP)) throw new AsmError(`%rep count ${count} is too large`);
    try {
      for (let k = 0n; k < count; k++) this.processLines(body, frame, callSite);
    } catch (e) {
      if (!(e instanceof ExitRep)) throw e;
    }
    return i;
  }

  /** Handles %if...%endif starting at lines[start]; returns the index of its %endif. */
  private processConditional(lines: SourceLine[], start: number, frame: MacroFrame | undefined, callSite: SourceLine | undefined): number {
    // Find the branches at this nesting level.
    const branches: Array<{ at: number; word: string; rest: string }> = [];
    let depth = 0;
    let end = -1;
    for (let i = start; i < lines.length; i++) {
      const d = directiveOf(lines[i]!.text);
      if (!d) continue;
      if (IF_WORDS.test(d.word)) {
        if (depth === 0) branches.push({ at: i, word: d.word, rest: d.rest });
        depth++;
      } else if (d.word === 'endif') {
        if (--depth === 0) {
          end = i;
          break;
        }
      } else if (depth === 1 && (ELIF_WORDS.test(d.word) || d.word === 'else')) {
        branches.push({ at: i, word: d.word, rest: d.rest });
      }
    }
    const opening = lines[start]!;
    if (end < 0) {
      this.report('error', callSite ?? opening, `%${branches[0]!.word} without %endif`, 1 + opening.text.indexOf('%'));
      return lines.length;
    }
    let taken = -1;
    for (let b = 0; b < branches.length && taken < 0; b++) {
      const br = branches[b]!;
      const text = frame ? this.substituteMacroParams(br.rest, frame) : br.rest;
      const lineAt = lines[br.at]!;
      try {
        if (br.word === 'else' || this.testCondition(br.word.replace(/^el/, ''), text, lineAt)) taken = b;
      } catch (e) {
        if (!(e instanceof AsmError)) throw e;
        this.report('error', callSite ?? lineAt, e.message, callSite ? 1 : e.column ?? 1);
        return end;
      }
    }
    if (taken >= 0) {
      const from = branches[taken]!.at + 1;
      const to = taken + 1 < branches.length ? branches[taken + 1]!.at : end;
      this.processLines(lines.slice(from, to), frame, callSite);
    }
    return end;
  }

  private testCondition(word: string, rest: string, at: SourceLine): boolean {
    const m = /^if(n?)(def|macro|idn|idni|num|str|id|empty|ctx)?$/.exec(word);
    if (!m) throw new AsmError(`%${word} is not supported by this assembler`);
    const negate = m[1] === 'n';
    const kind = m[2] ?? '';
    const arg = rest.slice(0, commentStart(rest)).trim();
    let result: boolean;
    switch (kind) {
      case '':
        result = this.evaluateCondition(rest, at, `%${word}`) !== 0n;
        break;
      case 'def':
        result = this.defines.has(arg);
        break;
      case 'macro':
        result = this.macros.has(arg.split(/\s+/)[0] ?? '');
        break;
      case 'idn':
      case 'idni': {
        const parts = splitArguments(expandDefines(arg, this.defines));
        if (parts.length !== 2) throw new AsmError(`%if${kind} needs two comma-separated texts`);
        const [a, b] = parts.map((s) => s.replace(/\s+/g, '')) as [string, string];
        result = kind === 'idn' ? a === b : a.toLowerCase() === b.toLowerCase();
        break;
      }
      case 'num':
        result = /^[-+]?(0x[0-9a-f]+|[0-9][0-9a-f_]*[hqobdty]?|\$[0-9a-f]+)$/i.test(expandDefines(arg, this.defines).trim());
        break;
      case 'str':
        result = /^(['"`]).*\1$/.test(expandDefines(arg, this.defines).trim());
        break;
      case 'id':
        result = /^[A-Za-z_.?][\w.?$@#~]*$/.test(expandDefines(arg, this.defines).trim());
        break;
      case 'empty':
        result = expandDefines(arg, this.defines).trim() === '';
        break;
      default:
        throw new AsmError(`%${word} is not supported by this assembler`);
    }
    return negate ? !result : result;
  }

  /**
   * Evaluates the expression of `directive` (%if, %assign, %rep...). Besides numbers and %define'd
   * names it may use, as in nasm, EQU constants and labels defined on the lines above, and
   * register names (a macro tests `%if %1 = cs`); but the result must be a plain number.
   */
  evaluateCondition(text: string, at: SourceLine, directive: string): bigint {
    const offset = at.text.indexOf(text);
    const expanded = expandDefines(text, this.defines);
    const tokens = tokenize(expanded);
    if (tokens.length === 0) throw new AsmError('an expression is missing', offset + 1);
    const ts = new TokenStream(tokens, expanded.length + 1);
    const expr = parseExpression(ts);
    if (!ts.atEnd()) throw new AsmError(`unexpected '${ts.peek()!.text}' in the expression`, (expanded === text ? offset : 0) + ts.peek()!.column);
    // Columns inside the expression are columns of the line only if no %define changed it;
    // otherwise point at the start of the expression.
    const start = offset < 0 ? 1 : offset + 1 + text.length - text.trimStart().length;
    const place = (column: number | undefined): number => (expanded === text && column !== undefined && offset >= 0 ? offset + column : start);
    const noHere = (what: string, column: number): never => {
      throw new AsmError(`'${what}' cannot be used in ${directive} by this assembler: put a label on a line and use the difference of two labels instead`, column);
    };
    let v: Value;
    try {
      v = evaluate(expr, {
        symbol: (name, column) => {
          const value = this.options.symbols?.valueBefore(name, this.output.length, at);
          if (value === undefined) {
            throw new AsmError(`symbol '${name}' is not defined before this line: ${directive} can only use %define'd names, and EQU constants and labels defined above it`, column);
          }
          return value;
        },
        here: (column) => noHere('$', column),
        sectionStart: (column) => noHere('$$', column),
        registers: true,
      });
    } catch (e) {
      if (e instanceof AsmError) throw new AsmError(e.message, place(e.column));
      throw e;
    }
    if (v.regs) {
      throw new AsmError(`${directive} needs a number, but this value contains the register ${describeTerms(v.regs)} (registers can only be compared, as in \`%if %1 = cs\`)`, start);
    }
    if (v.reloc !== 0) {
      throw new AsmError(`${directive} needs a number, but this value is a label's address (the difference of two labels is a number)`, start);
    }
    return v.n;
  }

  private processDirective(word: string, rest: string, at: SourceLine, column: number): void {
    const body = rest.slice(0, commentStart(rest)).trim();
    switch (word) {
      case 'define':
      case 'xdefine':
      case 'idefine':
      case 'xidefine': {
        const m = /^([A-Za-z_.?$@][\w.?$@#~]*)(\(([^)]*)\))?\s*(.*)$/.exec(body);
        if (!m) throw new AsmError(`%${word} needs a name`, column);
        const params = m[2] !== undefined ? (m[3]!.trim() === '' ? [] : m[3]!.split(',').map((s) => s.trim())) : undefined;
        const value = word.startsWith('x') ? expandDefines(m[4]!, this.defines) : m[4]!;
        this.defines.set(m[1]!, { params, body: value });
        return;
      }
      case 'undef':
        this.defines.delete(body.split(/\s+/)[0] ?? '');
        return;
      case 'assign':
      case 'iassign': {
        const m = /^([A-Za-z_.?$@][\w.?$@#~]*)\s+(.*)$/.exec(body);
        if (!m) throw new AsmError('%assign needs a name and an expression', column);
        this.defines.set(m[1]!, { body: String(this.evaluateCondition(m[2]!, at, `%${word}`)) });
        return;
      }
      case 'include':
        this.include(body, at, column);
        return;
      case 'error':
      case 'fatal':
        throw new AsmError(unquote(expandDefines(body, this.defines)), column);
      case 'warning':
        this.report('warning', at, unquote(expandDefines(body, this.defines)), column);
        return;
      case 'unmacro':
        this.macros.delete(body.split(/\s+/)[0] ?? '');
        return;
      case 'line':
      case 'pragma':
      case 'use':
        return;
      default:
        throw new AsmError(`unknown preprocessor directive '%${word}'`, column);
    }
  }

  private include(body: string, at: SourceLine, column: number): void {
    const m = /^(["'<])(.*)[">']$/.exec(body);
    if (!m) throw new AsmError('%include needs a file name in quotes', column);
    const name = m[2]!;
    const read = this.options.readFile;
    const candidates = [joinPath(dirname(at.file), name), ...this.options.includePaths.map((dir) => joinPath(dir, name)), name];
    let text: string | undefined;
    let found = '';
    for (const path of candidates) {
      const data = read?.(path);
      if (data !== undefined) {
        text = typeof data === 'string' ? data : decodeLatin1(data);
        found = path;
        break;
      }
    }
    if (text === undefined) {
      throw new AsmError(`cannot find the include file '${name}' (looked in: ${[...new Set(candidates)].join(', ')})`, column + at.text.slice(column - 1).indexOf(m[1]!) );
    }
    if (this.includeDepth >= MAX_INCLUDE_DEPTH) throw new AsmError('%include is nested too deeply (does a file include itself?)', column);
    this.includeDepth++;
    try {
      this.processLines(splitSource(text, found), undefined);
    } finally {
      this.includeDepth--;
    }
  }
}

function unquote(text: string): string {
  const m = /^(["'`])(.*)\1$/.exec(text.trim());
  return m ? m[2]! : text.trim();
}

function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
