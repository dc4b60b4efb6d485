/**
 * The multi-pass assembler proper. Statements are parsed once; each pass walks them, placing
 * labels and encoding instructions with the label values of the previous pass. Jumps start
 * short and grow when they must (nasm's -Ox behaviour), so the passes repeat until no label
 * moves; the last pass's bytes and diagnostics are the result.
 */
import { AsmError, type Diagnostic, type Severity, type SourceLocation } from './diagnostics.ts';
import { encodeInstruction } from './encoder.ts';
import { type EvalContext, type Expr, type Value, evaluate, known } from './expression.ts';
import { type Section, buildImage, layoutSections, newSection, type Placement } from './sections.ts';
import { type Body, type Statement, parseStatement } from './statements.ts';

/** One line after preprocessing, with where it came from. */
export interface SourceLine {
  text: string;
  file: string;
  line: number;
}

/** What one source line produced in the final pass: for the listing and the line map. */
export interface LineRecord {
  source: SourceLine;
  address: bigint;
  section: string;
  offset: number;
  length: number;
  nobits: boolean;
  /** The bytes the line produced (empty for reserved space). */
  bytes: number[];
}

/** A symbol as the last pass left it, and the index of the line (in the input) that defines it. */
export interface SymbolDefinition {
  value: Value;
  line: number;
}

export interface AssemblyOutput {
  bytes: Uint8Array;
  symbols: Map<string, number>;
  /** Which symbols are labels (addresses in the image), not EQU constants. */
  labels: Set<string>;
  /** Every symbol with its value (a label's is relocatable) and where it is defined: what the preprocessor may use. */
  definitions: Map<string, SymbolDefinition>;
  /** For each input line, and after the last, the non-local label that a `.local` name there hangs off. */
  scopes: string[];
  records: LineRecord[];
  diagnostics: Diagnostic[];
}

/** Resolves an INCBIN file name (relative to the including file, then the include paths). */
export type BinaryReader = (name: string, fromFile: string) => Uint8Array | undefined;

interface ParsedLine {
  source: SourceLine;
  /** Its index in the input lines. */
  index: number;
  statement?: Statement;
  jump: { long: boolean };
  /** Where the line started in the previous pass (section and offset), to estimate forward labels. */
  lastSection?: string;
  lastOffset: number;
}

interface SymbolEntry {
  /** For EQU symbols (and labels inside ABSOLUTE): the value. */
  value: Value;
  /** For labels: the section and offset, so the address follows the section's placement. */
  section?: string;
  offset?: number;
  location: SourceLocation;
  /** The index of the defining line. */
  line: number;
  isLabel: boolean;
}

const MAX_PASSES = 60;

export function assembleLines(lines: SourceLine[], readBinary: BinaryReader, initialDiagnostics: Diagnostic[] = []): AssemblyOutput {
  const parseDiagnostics: Diagnostic[] = [];
  const diag = (severity: Severity, source: SourceLine, message: string, column = 1): Diagnostic => ({
    severity, file: source.file, line: source.line, column, message, sourceLine: source.text,
  });
  const scope = { scope: '', warn: (_m: string, _c: number) => {} };
  const scopes: string[] = [];
  const parsed: ParsedLine[] = lines.map((source, index) => {
    scope.warn = (m, c) => parseDiagnostics.push(diag('warning', source, m, c));
    scopes.push(scope.scope);
    try {
      return { source, index, statement: parseStatement(source.text, scope), jump: { long: false }, lastOffset: 0 };
    } catch (e) {
      if (!(e instanceof AsmError)) throw e;
      parseDiagnostics.push(diag('error', source, e.message, e.column));
      const partial = (e as AsmError & { partial?: Statement }).partial;
      return { source, index, statement: partial, jump: { long: false }, lastOffset: 0 };
    }
  });
  scopes.push(scope.scope);

  const symbols = new Map<string, SymbolEntry>();
  let placements = new Map<string, Placement>();
  let org = 0n;
  let result: AssemblyOutput | undefined;
  for (let pass = 1; pass <= MAX_PASSES && !result; pass++) {
    const run = runPass(parsed, symbols, placements, org, pass, readBinary, diag);
    const stable = pass > 1 && !run.changed && !run.unknown && samePlacements(placements, run.placements) && org === run.org;
    placements = run.placements;
    org = run.org;
    if (stable || pass === MAX_PASSES) {
      const diagnostics = [...initialDiagnostics, ...parseDiagnostics, ...run.diagnostics];
      if (!stable) diagnostics.push({ severity: 'error', file: lines[0]?.file ?? '', line: 1, column: 1, message: 'label addresses did not settle; the program is not assemblable', sourceLine: '' });
      let bytes: Uint8Array = new Uint8Array(0);
      if (!diagnostics.some((d) => d.severity === 'error')) {
        try {
          bytes = buildImage(run.sections, placements, org);
        } catch (e) {
          if (!(e instanceof AsmError)) throw e;
          diagnostics.push({ severity: 'error', file: lines[0]?.file ?? '', line: 1, column: 1, message: e.message, sourceLine: '' });
        }
      }
      for (const r of run.records) {
        const s = run.sections.find((x) => x.name === r.section);
        if (s && !r.nobits && r.length > 0) r.bytes = s.bytes.slice(r.offset, r.offset + r.length);
      }
      const symbolValues = new Map<string, number>();
      for (const [name, entry] of symbols) if (entry.isLabel || entry.value.reloc !== 0) symbolValues.set(name, Number(BigInt.asUintN(32, entry.value.n)));
      for (const [name, entry] of symbols) if (!symbolValues.has(name)) symbolValues.set(name, Number(BigInt.asIntN(53, entry.value.n)));
      const labels = new Set<string>();
      for (const [name, entry] of symbols) if (entry.isLabel) labels.add(name);
      const definitions = new Map<string, SymbolDefinition>();
      for (const [name, entry] of symbols) definitions.set(name, { value: { ...entry.value, section: entry.section ?? entry.value.section }, line: entry.line });
      result = { bytes, symbols: symbolValues, labels, definitions, scopes, records: run.records, diagnostics: sortDiagnostics(diagnostics, lines) };
    }
  }
  return result!;
}

function sortDiagnostics(diagnostics: Diagnostic[], lines: SourceLine[]): Diagnostic[] {
  // Source order: by file (in the order files first appear), then by line.
  const fileOrder = new Map<string, number>();
  for (const f of [...lines.map((l) => l.file), ...diagnostics.map((d) => d.file)]) if (!fileOrder.has(f)) fileOrder.set(f, fileOrder.size);
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => fileOrder.get(a.d.file)! - fileOrder.get(b.d.file)! || a.d.line - b.d.line || a.i - b.i)
    .map((x) => x.d);
}

function samePlacements(a: Map<string, Placement>, b: Map<string, Placement>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, p] of a) {
    const q = b.get(name);
    if (!q || q.start !== p.start || q.vstart !== p.vstart) return false;
  }
  return true;
}

interface PassResult {
  changed: boolean;
  unknown: boolean;
  placements: Map<string, Placement>;
  org: bigint;
  sections: Section[];
  records: LineRecord[];
  diagnostics: Diagnostic[];
}

function runPass(
  parsed: ParsedLine[],
  symbols: Map<string, SymbolEntry>,
  previousPlacements: Map<string, Placement>,
  previousOrg: bigint,
  pass: number,
  readBinary: BinaryReader,
  diag: (severity: Severity, source: SourceLine, message: string, column?: number) => Diagnostic,
): PassResult {
  const diagnostics: Diagnostic[] = [];
  const records: LineRecord[] = [];
  const sections: Section[] = [newSection('.text', 0)];
  const definedThisPass = new Set<string>();
  let section = sections[0]!;
  let bits: 16 | 32 = 16;
  let org: bigint | undefined;
  let changed = false;
  let unknown = false;
  /** Inside ABSOLUTE or STRUC: addresses count up but nothing is emitted. */
  let absolute: { base: bigint; offset: number; returnTo: Section; struc?: string } | undefined;
  let istruc: { name: string; start: number } | undefined;
  let current: ParsedLine = parsed[0]!;
  let statementAddress = 0n;
  /** The section's size where the current line started (TIMES repeats a line without moving this). */
  let statementSize = 0;

  const sectionBase = (s: Section): bigint => {
    const p = previousPlacements.get(s.name);
    if (s.name === '.text' && s.vstart === undefined && s.start === undefined) return org ?? previousOrg;
    if (p) return p.vstart;
    return 0n;
  };
  const here = (): bigint => (absolute ? absolute.base + BigInt(absolute.offset) : sectionBase(section) + BigInt(section.size));
  const ctx: EvalContext = {
    symbol(name, column) {
      const entry = symbols.get(name);
      if (entry) {
        if (entry.section === undefined) return entry.value;
        const s = entry.section === section.name ? section : sections.find((x) => x.name === entry.section);
        const base = s ? sectionBase(s) : (previousPlacements.get(entry.section!)?.vstart ?? 0n);
        let offset = entry.offset!;
        // A label further on still has last pass's offset; everything from here to there has
        // moved by at least as much as this line's start has, so add that (passes converge much
        // faster). The line's start, not the bytes it has made so far: every TIMES repeat of a
        // line sees the same value, as in nasm.
        if (s === section && current.lastSection === section.name && !definedThisPass.has(name)) {
          offset += statementSize - current.lastOffset;
        }
        return { n: base + BigInt(offset), reloc: 1, unknown: false, section: entry.section };
      }
      if (pass === 1) {
        unknown = true;
        return undefined;
      }
      throw new AsmError(`symbol '${name}' is not defined`, column);
    },
    // `$` is the address where the statement starts, even in the later repetitions of TIMES.
    here: () => ({ n: statementAddress, reloc: absolute ? 0 : 1, unknown: false, section: absolute ? undefined : section.name }),
    sectionStart: () => ({ n: absolute ? absolute.base : sectionBase(section), reloc: absolute ? 0 : 1, unknown: false, section: absolute ? undefined : section.name }),
  };
  const evalExpr = (e: Expr): Value => evaluate(e, ctx);
  /** A value that must be a plain number known now (counts, alignments, ORG). */
  const evalCritical = (e: Expr, what: string): bigint => {
    const v = evalExpr(e);
    if (v.unknown) {
      if (pass === 1) return 0n;
      throw new AsmError(`${what} must not refer to labels defined later`, e.column);
    }
    return v.n;
  };
  const warn = (message: string, column: number): void => {
    diagnostics.push(diag('warning', current.source, message, column));
  };
  const error = (message: string, column: number): void => {
    diagnostics.push(diag('error', current.source, message, column));
  };

  const define = (name: string, value: Value, column: number, isLabel: boolean, place?: { section: string; offset: number }): void => {
    if (definedThisPass.has(name)) {
      const first = symbols.get(name)!.location;
      throw new AsmError(`label '${name}' is already defined (first at ${first.file}:${first.line})`, column);
    }
    definedThisPass.add(name);
    const previous = symbols.get(name);
    if (place) {
      if (!previous || previous.section !== place.section || previous.offset !== place.offset) changed = true;
    } else if (!previous || previous.value.n !== value.n || previous.value.reloc !== value.reloc) changed = true;
    if (value.unknown) unknown = true;
    symbols.set(name, { value, location: { file: current.source.file, line: current.source.line }, line: current.index, isLabel, ...place });
  };

  const emitBytes = (bytes: number[]): void => {
    if (absolute) {
      if (bytes.length > 0) throw new AsmError('code or data cannot be emitted inside ABSOLUTE or STRUC (use RESB and friends)');
      return;
    }
    if (section.nobits) {
      if (bytes.length > 0) warn(`code or data in the NOBITS section '${section.name}' is ignored`, 1);
      section.size += bytes.length;
      return;
    }
    for (const b of bytes) section.bytes.push(b);
    section.size += bytes.length;
  };
  const reserve = (count: number): void => {
    if (absolute) {
      absolute.offset += count;
      return;
    }
    if (!section.nobits) for (let i = 0; i < count; i++) section.bytes.push(0);
    section.size += count;
  };

  const switchSection = (name: string): Section => {
    let s = sections.find((x) => x.name === name);
    if (!s) {
      s = newSection(name, sections.length);
      sections.push(s);
    }
    return s;
  };

  const runBody = (body: Body): void => {
    switch (body.kind) {
      case 'empty':
        return;
      case 'insn': {
        if (body.insn.mnemonic === '') {
          emitBytes(body.insn.prefixes.map((p) => ({ rep: 0xf3, repe: 0xf3, repz: 0xf3, repne: 0xf2, repnz: 0xf2, lock: 0xf0, es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65, o16: bits === 32 ? 0x66 : -1, o32: bits === 16 ? 0x66 : -1, a16: bits === 32 ? 0x67 : -1, a32: bits === 16 ? 0x67 : -1 } as Record<string, number>)[p.name]!).filter((b) => b >= 0));
          return;
        }
        const bytes = encodeInstruction(body.insn, { bits, address: here(), section: section.name, evaluate: evalExpr, warn, error, jump: current.jump });
        emitBytes(bytes);
        return;
      }
      case 'data': {
        const out: number[] = [];
        for (const item of body.items) {
          if (item.kind === 'bytes') {
            out.push(...item.bytes);
            const pad = (body.unit - (item.bytes.length % body.unit)) % body.unit;
            for (let i = 0; i < pad; i++) out.push(0);
          } else {
            const v = evalExpr(item.expr);
            const width = Math.min(body.unit, 8);
            if (body.unit <= 4 && !v.unknown) {
              const b = BigInt(body.unit * 8);
              if (v.n < -(1n << (b - 1n)) || v.n >= 1n << b) {
                const what = body.unit === 1 ? 'byte' : body.unit === 2 ? 'word' : 'dword';
                warn(`${what} data exceeds bounds (${v.n} does not fit in ${body.unit * 8} bits; it is truncated)`, item.column);
              }
            }
            let n = BigInt.asUintN(width * 8, v.n);
            for (let i = 0; i < body.unit; i++) {
              out.push(i < width ? Number(n & 0xffn) : v.n < 0n ? 0xff : 0);
              n >>= 8n;
            }
          }
        }
        emitBytes(out);
        return;
      }
      case 'reserve': {
        const count = evalCritical(body.count, 'the size of a reservation');
        if (count < 0n) throw new AsmError(`cannot reserve a negative amount (${count})`, body.column);
        reserve(Number(count) * body.unit);
        return;
      }
      case 'times': {
        const count = evalCritical(body.count, 'the TIMES count');
        if (count < 0n) throw new AsmError(`TIMES count is negative (${count})`, body.column);
        const repeated = body.body;
        if (count > 1n && repeated.kind === 'data' && !absolute && !section.nobits) {
          // Data is the same every time ($ and labels keep their values across the repeats of
          // a line): made once and copied. A disk image padded with TIMES 1440*1024-... DB 0 then
          // takes milliseconds, not a second.
          const start = section.bytes.length;
          runBody(repeated);
          const once = section.bytes.slice(start);
          const copies = Number(count) - 1;
          const from = section.bytes.length;
          section.bytes.length = from + once.length * copies;
          if (once.length === 1) section.bytes.fill(once[0], from);
          else for (let i = 0; i < once.length * copies; i++) section.bytes[from + i] = once[i % once.length];
          section.size += once.length * copies;
          return;
        }
        for (let i = 0n; i < count; i++) runBody(repeated);
        return;
      }
      case 'align': {
        const boundary = Number(evalCritical(body.boundary, 'the alignment'));
        if (boundary <= 0 || (boundary & (boundary - 1)) !== 0) {
          throw new AsmError(`alignment must be a power of two, not ${boundary}`, body.column);
        }
        if (!absolute && boundary > section.align) section.align = boundary;
        const offset = absolute ? absolute.offset : section.size;
        const missing = (boundary - (offset % boundary)) % boundary;
        if (body.reserve || absolute || section.nobits) {
          reserve(missing);
        } else if (body.fill) {
          // nasm repeats the fill instruction while the position is short of the boundary.
          for (let i = 0; i < missing; i++) runBody(body.fill);
        } else {
          emitBytes(new Array<number>(missing).fill(0x90));
        }
        return;
      }
      case 'incbin': {
        const data = readBinary(body.file, current.source.file);
        if (!data) throw new AsmError(`cannot find the file '${body.file}' for INCBIN`, body.column);
        const skip = body.skip ? Number(evalCritical(body.skip, 'the INCBIN offset')) : 0;
        const length = body.length ? Number(evalCritical(body.length, 'the INCBIN length')) : data.length - skip;
        emitBytes(Array.from(data.subarray(skip, skip + Math.max(0, length))));
        return;
      }
      case 'bits':
        bits = body.bits;
        return;
      case 'org': {
        const value = evalCritical(body.expr, 'ORG');
        if (org !== undefined && org !== value) throw new AsmError('ORG may only be given once in a flat binary', body.column);
        org = value;
        return;
      }
      case 'section': {
        absolute = undefined;
        section = switchSection(body.name);
        const a = body.attributes;
        if (a.nobits !== undefined) section.nobits = a.nobits;
        if (a.align) {
          const al = Number(evalCritical(a.align, 'the section alignment'));
          if (al <= 0 || (al & (al - 1)) !== 0) throw new AsmError(`section alignment must be a power of two, not ${al}`, body.column);
          section.align = Math.max(section.align, al);
        }
        if (a.start) section.start = evalCritical(a.start, 'start=');
        if (a.vstart) section.vstart = evalCritical(a.vstart, 'vstart=');
        if (a.follows) section.follows = a.follows;
        if (a.vfollows) section.vfollows = a.vfollows;
        return;
      }
      case 'absolute':
        absolute = { base: evalCritical(body.expr, 'ABSOLUTE'), offset: 0, returnTo: absolute?.returnTo ?? section };
        return;
      case 'struc':
        absolute = { base: 0n, offset: 0, returnTo: absolute?.returnTo ?? section, struc: body.name };
        define(body.name, known(0n), body.column, false);
        return;
      case 'endstruc': {
        if (!absolute?.struc) throw new AsmError('ENDSTRUC without STRUC', body.column);
        define(`${absolute.struc}_size`, known(BigInt(absolute.offset)), body.column, false);
        section = absolute.returnTo;
        absolute = undefined;
        return;
      }
      case 'istruc':
        istruc = { name: body.name, start: section.size };
        return;
      case 'at': {
        if (!istruc) throw new AsmError('AT outside ISTRUC', body.column);
        const field = Number(evalCritical(body.field, 'the AT field'));
        const missing = istruc.start + field - section.size;
        if (missing < 0) throw new AsmError('AT fields must come in order and not overlap', body.column);
        emitBytes(new Array<number>(missing).fill(0));
        runBody(body.body);
        return;
      }
      case 'iend': {
        if (!istruc) throw new AsmError('IEND without ISTRUC', body.column);
        const size = symbols.get(`${istruc.name}_size`);
        const missing = istruc.start + Number(size?.value.n ?? 0n) - section.size;
        if (missing > 0) emitBytes(new Array<number>(missing).fill(0));
        istruc = undefined;
        return;
      }
    }
  };

  for (const line of parsed) {
    current = line;
    const st = line.statement;
    if (!st) continue;
    const startSection = section;
    const startSize = section.size;
    const address = here();
    statementAddress = address;
    statementSize = startSize;

    try {
      if (st.label) {
        if (st.equ) define(st.label.name, evalExpr(st.equ), st.label.column, false);
        else if (absolute) define(st.label.name, known(address), st.label.column, true);
        else define(st.label.name, { n: address, reloc: 1, unknown: false }, st.label.column, true, { section: section.name, offset: section.size });
      }
      runBody(st.body);
    } catch (e) {
      if (!(e instanceof AsmError)) throw e;
      diagnostics.push(diag('error', line.source, e.message, e.column));
    }
    line.lastSection = absolute ? undefined : startSection.name;
    line.lastOffset = startSize;
    if (section === startSection && section.size > startSize && !absolute) {
      // The bytes are filled in after the last pass; copying them on every pass is wasted work.
      records.push({ source: line.source, address, section: section.name, offset: startSize, length: section.size - startSize, nobits: section.nobits, bytes: [] });
    } else {
      records.push({ source: line.source, address, section: section.name, offset: section.size, length: 0, nobits: section.nobits, bytes: [] });
    }
  }
  if (absolute?.struc) {
    diagnostics.push({ ...diag('error', current.source, `STRUC '${absolute.struc}' has no ENDSTRUC`), line: current.source.line });
  }
  const finalOrg = org ?? 0n;
  let placements = previousPlacements;
  try {
    placements = layoutSections(sections, finalOrg);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    diagnostics.push({ severity: 'error', file: current.source.file, line: 1, column: 1, message: e.message, sourceLine: '' });
  }
  // Addresses in records used last pass's placement; the caller only uses the stable pass.
  return { changed, unknown, placements, org: finalOrg, sections, records, diagnostics };
}
