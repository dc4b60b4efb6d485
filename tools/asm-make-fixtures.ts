/**
 * Regenerates the golden binaries of the assembler tests with the real nasm (2.16):
 *
 *   npx tsx tools/asm-make-fixtures.ts
 *
 * For every test/fixtures/asm/*.asm it writes the .bin next to it, assembling with
 * `nasm -f bin` in the fixture's directory plus the `; nasm-args:` of the file's first lines.
 * It also assembles guests/bench/loop.asm with the define sets listed in LOOP_VARIANTS into
 * test/fixtures/asm/bench/, and the generated 64 KiB firmware of tools/asm-speed-source.ts into
 * test/fixtures/asm/generated/. Run it only after changing a fixture; commit the .bin files it writes.
 * The tests themselves never run nasm (CI does not have it).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fixtureArguments } from './asm-fixture-args.ts';
import { firmwareSource } from './asm-speed-source.ts';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const fixtures = join(root, 'test/fixtures/asm');

/** The loop benchmark guest, with the define sets the tests check. */
export const LOOP_VARIANTS: Record<string, string[]> = {
  'loop-iters1000.bin': ['-DITERS=1000'],
  'loop-iters100000000.bin': ['-DITERS=100000000'],
  'loop-memop.bin': ['-DMEMOP=1'],
  'loop-memop-iters1000.bin': ['-DMEMOP=1', '-DITERS=1000'],
};

function nasm(args: string[], cwd: string): void {
  execFileSync('nasm', ['-f', 'bin', ...args], { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

const files = readdirSync(fixtures).filter((f) => f.endsWith('.asm')).sort();
for (const file of files) {
  const path = join(fixtures, file);
  const { nasmArgs } = fixtureArguments(readFileSync(path, 'utf8'), path);
  nasm([...nasmArgs, '-o', `${basename(file, '.asm')}.bin`, file], fixtures);
  console.log(`wrote ${file.replace(/\.asm$/, '.bin')}`);
}

const bench = join(fixtures, 'bench');
mkdirSync(bench, { recursive: true });
for (const [out, defines] of Object.entries(LOOP_VARIANTS)) {
  nasm([...defines, '-o', join(bench, out), join(root, 'guests/bench/loop.asm')], root);
  console.log(`wrote bench/${out}`);
}

const generated = join(fixtures, 'generated');
mkdirSync(generated, { recursive: true });
writeFileSync(join(generated, 'firmware-64k.asm'), firmwareSource());
nasm(['-o', 'firmware-64k.bin', 'firmware-64k.asm'], generated);
// The source is 400 KB and the tests regenerate it, so only the binary is kept.
rmSync(join(generated, 'firmware-64k.asm'));
console.log('wrote generated/firmware-64k.bin');
