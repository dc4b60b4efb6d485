/**
 * Round trip: disassembling a corpus binary with iced-x86 and assembling the disassembly gives
 * the same bytes. A flat binary does not say which bytes are data or where BITS changes, so the
 * original source marks the regions: the assembler's line map tells which source line made each
 * byte; lines with data directives (db, times, align, incbin, istruc...) or with encodings forced
 * by hand (strict, [word ...], o16/a32...) are carried over as `db`, every other line is
 * disassembled in the BITS mode in force at that line. The test checks how many bytes were
 * really disassembled, so that the coverage stays honest. Files whose sections have their own
 * addresses (vstart/start) are left out: there, addresses are not file offsets.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble, formatDiagnostic } from '../../src/asm/index.ts';
import { assembleFile } from '../../src/asm/node-files.ts';
import { disassemble } from '../../src/asm/disassembler.ts';
import { fixtureArguments } from '../../tools/asm-fixture-args.ts';

const fixtures = join(import.meta.dirname, '../fixtures/asm');
const EXCLUDED = new Set(['sections.asm', 'sections-attrs.asm']);
const DATA_LINE = /\b(d[bwdq]|times|align|alignb|incbin|istruc|at|iend|res[bwdq])\b/i;
const FORCED_ENCODING = /\bstrict\b|\[\s*(byte|word|dword|nosplit)\b|\b(o16|o32|a16|a32)\b/i;

const files = readdirSync(fixtures).filter((f) => f.endsWith('.asm') && !EXCLUDED.has(f)).sort();
let totalCode = 0;
let totalBytes = 0;

function bitsAtLine(lines: string[], line: number): 16 | 32 {
  let bits: 16 | 32 = 16;
  for (let i = 0; i < line && i < lines.length; i++) {
    const m = /^\s*\[?\s*(?:bits\s+(16|32)|use(16|32))\b/i.exec(lines[i]!.replace(/;.*/, ''));
    if (m) bits = (m[1] ?? m[2]) === '32' ? 32 : 16;
  }
  return bits;
}

describe('disassemble → assemble round trip', () => {
  for (const file of files) {
    it(file, () => {
      const path = join(fixtures, file);
      const source = readFileSync(path, 'utf8');
      const sourceLines = source.split('\n');
      const args = fixtureArguments(source, path);
      const original = new Uint8Array(readFileSync(path.replace(/\.asm$/, '.bin')));
      const org = Number(/^\s*org\s+(\S+)/im.exec(source)?.[1] ?? 0);
      const map = [...assembleFile(path, { defines: args.defines, includePaths: args.includePaths }).lineMap].sort((a, b) => a[0] - b[0]);

      const out: string[] = [`org ${org}`];
      let mode = 0;
      let codeBytes = 0;
      map.forEach(([address, loc], i) => {
        const start = address - org;
        const end = i + 1 < map.length ? map[i + 1]![0] - org : original.length;
        const bytes = original.subarray(start, end);
        const text = loc.file === path ? (sourceLines[loc.line - 1] ?? '').replace(/;.*/, '') : 'db';
        const bits = bitsAtLine(sourceLines, loc.line);
        if (DATA_LINE.test(text) || FORCED_ENCODING.test(text)) {
          if (bytes.length > 0) out.push(`db ${Array.from(bytes).join(', ')}`);
          return;
        }
        if (bits !== mode) out.push(`bits ${(mode = bits)}`);
        for (const l of disassemble(bytes, { bits, org: address })) out.push(l.text);
        codeBytes += bytes.length;
      });
      totalCode += codeBytes;
      totalBytes += original.length;

      const again = assemble(out.join('\n'), { fileName: `${file}.disasm` });
      expect(again.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
      const firstDiff = original.findIndex((b, i) => again.bytes[i] !== b);
      expect(firstDiff < 0 ? 'identical' : `differs at offset 0x${firstDiff.toString(16)}:\n${again.listing.split('\n').filter((l) => l.includes((org + firstDiff).toString(16).toUpperCase().padStart(8, '0'))).join('\n')}`).toBe('identical');
      expect(again.bytes.length).toBe(original.length);
    });
  }

  // About 4,200 of the corpus's 24,000 bytes are instructions; the rest is padding (TIMES in the
  // boot sector, BIOS and kernel fixtures), tables and strings, carried over as db.
  it('disassembles the corpus instructions as code, not as db', () => {
    console.log(`round trip: ${totalCode} of ${totalBytes} corpus bytes disassembled as code`);
    expect(totalCode).toBeGreaterThan(4000);
  });
});
