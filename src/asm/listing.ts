/** The listing: one line per source line, with its address and the bytes it produced. */
import type { LineRecord } from './assembler.ts';

const BYTES_PER_LINE = 10;
const MAX_LISTED_BYTES = 40;

const hex = (n: number | bigint, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');

export function formatListing(records: LineRecord[]): string {
  const out: string[] = [];
  let lineNo = 0;
  for (const r of records) {
    lineNo++;
    const address = hex(BigInt.asUintN(32, r.address), 8);
    if (r.length === 0) {
      out.push(`${String(lineNo).padStart(6)} ${' '.repeat(8)} ${' '.repeat(BYTES_PER_LINE * 2)}  ${r.source.text}`);
      continue;
    }
    const shown: string[] = [];
    if (r.nobits) {
      shown.push(`<res ${hex(r.length, 8)}>`);
    } else {
      const n = Math.min(r.length, MAX_LISTED_BYTES);
      let chunk = '';
      for (let i = 0; i < n; i++) {
        chunk += hex(r.bytes[i] ?? 0, 2);
        if ((i + 1) % BYTES_PER_LINE === 0) {
          shown.push(chunk);
          chunk = '';
        }
      }
      if (chunk) shown.push(chunk);
      if (r.length > n) shown[shown.length - 1] += `...(${r.length} bytes)`;
    }
    out.push(`${String(lineNo).padStart(6)} ${address} ${shown[0]!.padEnd(BYTES_PER_LINE * 2)}  ${r.source.text}`);
    for (let i = 1; i < shown.length; i++) out.push(`${' '.repeat(6)} ${' '.repeat(8)} ${shown[i]}`);
  }
  return out.join('\n') + '\n';
}
