/**
 * The symbol map file: label addresses, EQU constants, then which source line each address
 * comes from. The debugger reads it back with parseSymbolMap (`minivisor debug disk.img
 * --symbols disk.map`).
 *
 *   ; minivisor symbol map
 *   [symbols]
 *   00007c00 start
 *   [constants]
 *   00000010 KERNEL_DS
 *   [lines]
 *   00007c00 boot.asm:14 +5
 *
 * (A line's address, where it comes from, and how many bytes it made.)
 */
import type { SourceSpan } from './index.ts';

const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

export interface SymbolMap {
  /** Labels: addresses of code and data. */
  symbols: Map<string, number>;
  /** EQU constants. */
  constants: Map<string, number>;
  lineMap: Map<number, SourceSpan>;
}

/** `labels` names the symbols that are labels; the others are written as constants. */
export function formatSymbolMap(symbols: Map<string, number>, lineMap: Map<number, SourceSpan>, labels?: Set<string>): string {
  const sorted = [...symbols].sort((a, b) => (a[1] >>> 0) - (b[1] >>> 0) || a[0].localeCompare(b[0]));
  const isLabel = (name: string) => labels === undefined || labels.has(name);
  const out = ['; minivisor symbol map', '[symbols]'];
  for (const [name, value] of sorted) if (isLabel(name)) out.push(`${hex(value)} ${name}`);
  out.push('[constants]');
  for (const [name, value] of sorted) if (!isLabel(name)) out.push(`${hex(value)} ${name}`);
  out.push('[lines]');
  for (const [address, loc] of lineMap) out.push(`${hex(address)} ${loc.file}:${loc.line} +${loc.bytes}`);
  return out.join('\n') + '\n';
}

/** Reads a symbol map back. Throws an Error naming the line for one it cannot read. */
export function parseSymbolMap(text: string): SymbolMap {
  const map: SymbolMap = { symbols: new Map(), constants: new Map(), lineMap: new Map() };
  let part = '';
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith(';') || line === '') return;
    if (line.startsWith('[')) {
      part = line;
      return;
    }
    const m = /^([0-9a-fA-F]{1,8})\s+(\S.*)$/.exec(line);
    if (!m || part === '') throw new Error(`line ${index + 1}: '${line}' is not 'ADDRESS NAME' under [symbols], [constants] or [lines]`);
    const address = parseInt(m[1], 16);
    const rest = m[2];
    if (part === '[symbols]') map.symbols.set(rest, address);
    else if (part === '[constants]') map.constants.set(rest, address);
    else if (part === '[lines]') {
      const span = /^(.*):(\d+)(?: \+(\d+))?$/.exec(rest);
      if (!span) throw new Error(`line ${index + 1}: '${line}' is not 'ADDRESS FILE:LINE +BYTES'`);
      map.lineMap.set(address, { file: span[1], line: Number(span[2]), bytes: Number(span[3] ?? 1) });
    }
  });
  return map;
}
