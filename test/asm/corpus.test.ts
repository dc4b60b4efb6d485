/**
 * Every fixture in test/fixtures/asm assembles to exactly the bytes nasm 2.16 produced for it
 * (the committed .bin files, made by tools/asm-make-fixtures.ts), and so does the loop
 * benchmark guest with each of its define sets.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/asm/index.ts';
import { assembleFile } from '../../src/asm/node-files.ts';
import { fixtureArguments } from '../../tools/asm-fixture-args.ts';

const fixtures = join(import.meta.dirname, '../fixtures/asm');
const sources = readdirSync(fixtures).filter((f) => f.endsWith('.asm')).sort();

function hexDiff(actual: Uint8Array, expected: Uint8Array): string {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      return `first difference at offset 0x${i.toString(16)}: got ${actual[i]?.toString(16)}, nasm ${expected[i]?.toString(16)} (lengths ${actual.length} and ${expected.length})`;
    }
  }
  return 'identical';
}

describe('assembler corpus matches nasm byte for byte', () => {
  it('has at least 40 fixtures', () => {
    expect(sources.length).toBeGreaterThanOrEqual(40);
  });

  for (const file of sources) {
    it(file, () => {
      const path = join(fixtures, file);
      const args = fixtureArguments(readFileSync(path, 'utf8'), path);
      const result = assembleFile(path, { defines: args.defines, includePaths: args.includePaths });
      const errors = result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      expect(errors).toEqual([]);
      const expected = new Uint8Array(readFileSync(path.replace(/\.asm$/, '.bin')));
      expect(hexDiff(result.bytes, expected)).toBe('identical');
    });
  }
});

describe('guests/bench/loop.asm matches nasm', () => {
  const loop = join(import.meta.dirname, '../../guests/bench/loop.asm');
  const variants: Array<[string, Record<string, string>]> = [
    ['loop-iters1000.bin', { ITERS: '1000' }],
    ['loop-iters100000000.bin', { ITERS: '100000000' }],
    ['loop-memop.bin', { MEMOP: '1' }],
    ['loop-memop-iters1000.bin', { MEMOP: '1', ITERS: '1000' }],
  ];
  for (const [bin, defines] of variants) {
    it(`${JSON.stringify(defines)} → ${bin}`, () => {
      const result = assembleFile(loop, { defines });
      expect(result.ok).toBe(true);
      const expected = new Uint8Array(readFileSync(join(fixtures, 'bench', bin)));
      expect(hexDiff(result.bytes, expected)).toBe('identical');
      expect(result.bytes.length).toBe(512);
    });
  }
});
