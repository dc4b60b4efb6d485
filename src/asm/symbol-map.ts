/**
 * The symbol map file: label addresses, then which source line each address comes from.
 * A debugger reads it back with parseSymbolMap.
 *
 *   ; minivisor symbol map
 *   [symbols]
 *   00007c00 start
 *   [lines]
 *   00007c00 boot.asm:14
 */
import type { SourceLocation } from './diagnostics.ts';

const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

export function formatSymbolMap(symbols: Map<string, number>, lineMap: Map<number, SourceLocation>): string {
  const out = ['; minivisor symbol map', '[symbols]'];
  const sorted = [...symbols].sort((a, b) => (a[1] >>> 0) - (b[1] >>> 0) || a[0].localeCompare(b[0]));
  for (const [name, value] of sorted) out.push(`${hex(value)} ${name}`);
  out.push('[lines]');
  for (const [address, loc] of lineMap) out.push(`${hex(address)} ${loc.file}:${loc.line}`);
  return out.join('\n') + '\n';
}

export function parseSymbolMap(text: string): { symbols: Map<string, number>; lineMap: Map<number, SourceLocation> } {
  const symbols = new Map<string, number>();
  const lineMap = new Map<number, SourceLocation>();
  let part = '';
  for (const line of text.split('\n')) {
    if (line.startsWith(';') || line.trim() === '') continue;
    if (line.startsWith('[')) {
      part = line.trim();
      continue;
    }
    const space = line.indexOf(' ');
    const address = parseInt(line.slice(0, space), 16);
    const rest = line.slice(space + 1);
    if (part === '[symbols]') symbols.set(rest, address);
    else if (part === '[lines]') {
      const colon = rest.lastIndexOf(':');
      lineMap.set(address, { file: rest.slice(0, colon), line: Number(rest.slice(colon + 1)) });
    }
  }
  return { symbols, lineMap };
}
