/**
 * nasm preprocesses and assembles line by line, on every pass, so a preprocessor expression
 * (%if, %assign, %rep) can use a symbol that a line above defines:
 *
 *   TEST_BASE equ 0x20000
 *   %assign B1 TEST_BASE+0x40000
 *
 * What nasm 2.16 does, measured: the symbol must be defined on a line above ("symbol not defined
 * before use" otherwise, even when a later line defines it); its value is the one it has in the
 * final pass, so an EQU above may itself use symbols defined further on (`X equ Y` above,
 * `Y equ 2` below); a label, or an EQU of one, is not a number ("non-constant value"), but the
 * difference of two labels is.
 *
 * This assembler preprocesses the whole source first, so it gets the same answers by rounds: each
 * round preprocesses with the symbols of the previous round's assembly, then assembles; when every
 * answer the preprocessor was given is what this round's assembly says, the round is final. A
 * source whose preprocessor uses no assembler symbol (nearly all) takes a single round.
 */
import { type AssemblyOutput, type BinaryReader, type SourceLine, assembleLines } from './assembler.ts';
import type { Value } from './expression.ts';
import { type AssemblerSymbols, type PreprocessOptions, preprocess } from './preprocessor.ts';

/** Enough for chains such as `%assign` from an EQU of an `%assign` of an EQU...; then give up. */
const MAX_ROUNDS = 12;

/** One answer the preprocessor was given, to check against the assembly. */
interface Lookup {
  name: string;
  line: number;
  at: SourceLine;
  answer: Value | undefined;
}

export function preprocessAndAssemble(source: string, options: Omit<PreprocessOptions, 'symbols'>, readBinary: BinaryReader): AssemblyOutput {
  // The first round knows no symbol: it answers with a stand-in (0, marked unknown, like a
  // forward reference in nasm's first pass), so that the round gets as far as it can.
  let known: AssemblyOutput | undefined;
  let out: AssemblyOutput | undefined;
  let mismatch: Lookup | undefined;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const lookups: Lookup[] = [];
    const previous = known;
    const symbols: AssemblerSymbols = {
      valueBefore(name, line, at) {
        const answer = previous ? valueBefore(previous, name, line) : { n: 0n, reloc: 0, unknown: true };
        lookups.push({ name, line, at, answer });
        return answer;
      },
    };
    const pre = preprocess(source, { ...options, symbols });
    out = assembleLines(pre.lines, readBinary, pre.diagnostics);
    const assembled = out;
    mismatch = lookups.find((l) => !sameValue(l.answer, valueBefore(assembled, l.name, l.line)));
    if (!mismatch) return out;
    known = out;
  }
  // Only a source whose preprocessor decisions keep changing what they depend on gets here.
  const { at, name } = mismatch!;
  out!.diagnostics.push({
    severity: 'error', file: at.file, line: at.line, column: 1 + Math.max(0, at.text.indexOf(name)), sourceLine: at.text,
    message: `'${name}' has no consistent value: what the preprocessor decides from it here changes it (nasm gives up too); make sure this %if or %assign does not change how '${name}' is defined`,
  });
  return out!;
}

/** What the preprocessor is told about `name` when it asks before output line `line`. */
function valueBefore(out: AssemblyOutput, name: string, line: number): Value | undefined {
  const local = name.startsWith('.') && !name.startsWith('..');
  const scope = out.scopes[Math.min(line, out.scopes.length - 1)] ?? '';
  const definition = out.definitions.get(local ? scope + name : name);
  return definition && definition.line < line ? definition.value : undefined;
}

function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.n === b.n && a.reloc === b.reloc && a.unknown === b.unknown && a.section === b.section;
}
