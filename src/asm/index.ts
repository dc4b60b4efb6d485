/**
 * The NASM-syntax assembler's public API. Browser-safe: files are only reached through the
 * `readFile` callback (see node-files.ts for the Node side).
 */
import type { LineRecord } from './assembler.ts';
import type { Diagnostic, SourceLocation } from './diagnostics.ts';
import { preprocessAndAssemble } from './interleave.ts';
import { formatListing } from './listing.ts';
import { dirname, joinPath } from './path.ts';
import type { FileReader } from './preprocessor.ts';

export type { Diagnostic, Severity, SourceLocation } from './diagnostics.ts';

/** A source line and the bytes it produced from an address. */
export interface SourceSpan extends SourceLocation {
  bytes: number;
}
export { formatDiagnostic } from './diagnostics.ts';
export type { FileReader } from './preprocessor.ts';

export interface AssembleOptions {
  /** Name used in diagnostics and to resolve %include/INCBIN relative to the source. */
  fileName?: string;
  /** Like `-D NAME=VALUE`; an empty string defines the name with no value. */
  defines?: Record<string, string>;
  /** Directories searched by %include and INCBIN after the source's own directory. */
  includePaths?: string[];
  /** Returns a file's contents, or undefined if there is no such file. */
  readFile?: FileReader;
}

export interface AssembleResult {
  /** True when there were no errors (warnings allowed). */
  ok: boolean;
  /** The flat binary, as `nasm -f bin` makes it; empty when there were errors. */
  bytes: Uint8Array;
  /** Every label and EQU, with its value (addresses are absolute, i.e. include ORG). */
  symbols: Map<string, number>;
  /** Which of them are labels (addresses of code or data), not EQU constants. */
  labels: Set<string>;
  /** For each address where a source line put bytes (or reserved them): that line, and how many bytes. Sorted by address. */
  lineMap: Map<number, SourceSpan>;
  /** Address, bytes and source text of every line. */
  listing: string;
  diagnostics: Diagnostic[];
}

export function assemble(source: string, options: AssembleOptions = {}): AssembleResult {
  const fileName = options.fileName ?? 'input.asm';
  const includePaths = options.includePaths ?? [];
  const readBinary = (name: string, fromFile: string): Uint8Array | undefined => {
    for (const path of [joinPath(dirname(fromFile), name), ...includePaths.map((d) => joinPath(d, name)), name]) {
      const data = options.readFile?.(path);
      if (data !== undefined) return typeof data === 'string' ? latin1Bytes(data) : data;
    }
    return undefined;
  };
  const out = preprocessAndAssemble(source, { fileName, defines: options.defines ?? {}, includePaths, readFile: options.readFile }, readBinary);
  const ok = !out.diagnostics.some((d) => d.severity === 'error');
  return {
    ok,
    bytes: ok ? out.bytes : new Uint8Array(0),
    symbols: out.symbols,
    labels: out.labels,
    lineMap: buildLineMap(out.records),
    listing: formatListing(out.records),
    diagnostics: out.diagnostics,
  };
}

function buildLineMap(records: LineRecord[]): Map<number, SourceSpan> {
  const entries: Array<[number, SourceSpan]> = [];
  const seen = new Set<number>();
  for (const r of records) {
    if (r.length === 0) continue;
    const address = Number(BigInt.asUintN(32, r.address));
    if (seen.has(address)) continue;
    seen.add(address);
    entries.push([address, { file: r.source.file, line: r.source.line, bytes: r.length }]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return new Map(entries);
}

/** The source line that produced the byte at `address` (the nearest line start at or below it). */
export function lineForAddress(lineMap: Map<number, SourceLocation>, address: number): SourceLocation | undefined {
  let best: SourceLocation | undefined;
  for (const [start, loc] of lineMap) {
    if (start > address) break;
    best = loc;
  }
  return best;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
