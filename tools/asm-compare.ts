/**
 * Developer aid: assembles each given .asm file with nasm and with minivisor's assembler and,
 * where they differ, shows the first differing source lines from both listings.
 * Needs nasm on PATH (the tests do not; they compare against committed fixtures).
 *
 *   npx tsx tools/asm-compare.ts test/fixtures/asm/*.asm
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { formatDiagnostic } from '../src/asm/index.ts';
import { assembleFile } from '../src/asm/node-files.ts';
import { fixtureArguments } from './asm-fixture-args.ts';

const work = mkdtempSync(join(tmpdir(), 'asm-compare-'));
let failures = 0;
for (const file of process.argv.slice(2)) {
  const args = fixtureArguments(readFileSync(file, 'utf8'), file);
  const out = join(work, 'ref.bin');
  const lst = join(work, 'ref.lst');
  try {
    execFileSync('nasm', ['-f', 'bin', ...args.nasmArgs, '-o', out, '-l', lst, basename(file)], { cwd: dirname(file), stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    console.log(`${file}: nasm failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    failures++;
    continue;
  }
  const ref = readFileSync(out);
  const mine = assembleFile(file, { defines: args.defines, includePaths: args.includePaths });
  if (!mine.ok) {
    console.log(`${file}: minivisor failed:`);
    for (const d of mine.diagnostics) console.log(formatDiagnostic(d));
    failures++;
    continue;
  }
  const n = Math.max(ref.length, mine.bytes.length);
  let at = -1;
  for (let i = 0; i < n; i++) {
    if (ref[i] !== mine.bytes[i]) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    console.log(`${file}: identical (${ref.length} bytes)`);
    continue;
  }
  failures++;
  console.log(`${file}: DIFFERENT at offset 0x${at.toString(16)} (nasm ${ref.length} bytes, mine ${mine.bytes.length})`);
  const refLines = readFileSync(lst, 'utf8').split('\n');
  const hit = refLines.findIndex((l) => {
    const m = /^\s*\d+ ([0-9A-F]{8}) /.exec(l);
    return m !== null && parseInt(m[1]!, 16) >= at - 4;
  });
  console.log('  nasm:');
  for (const l of refLines.slice(Math.max(0, hit - 3), hit + 4)) console.log(`    ${l}`);
  const myLines = mine.listing.split('\n');
  const line = refLines[hit] ? Number(/^\s*(\d+)/.exec(refLines[hit]!)?.[1]) : 0;
  const mineHit = myLines.findIndex((l) => l.includes(refLines[hit]?.slice(40).trim() ?? '\0'));
  console.log('  mine:');
  for (const l of myLines.slice(Math.max(0, mineHit - 3), mineHit + 4)) console.log(`    ${l}`);
  void line;
}
process.exitCode = failures > 0 ? 1 : 0;
