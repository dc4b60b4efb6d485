/**
 * Measures how long the assembler takes on a firmware-sized program: generates a NASM source
 * whose binary is 64 KiB (BIOS-like 16-bit code with labels, short and near jumps, calls,
 * memory operands, a macro and some data) and times assemble() on it.
 *
 *   npx tsx tools/asm-speed.ts [--write FILE.asm]
 */
import { writeFileSync } from 'node:fs';
import { assemble } from '../src/asm/index.ts';
import { firmwareSource } from './asm-speed-source.ts';

const source = firmwareSource();
const writeAt = process.argv.indexOf('--write');
if (writeAt >= 0 && process.argv[writeAt + 1]) writeFileSync(process.argv[writeAt + 1]!, source);

assemble(source); // warm-up: JIT, and the instruction table is built once
const runs = 5;
const times: number[] = [];
let result = assemble(source);
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  result = assemble(source);
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const errors = result.diagnostics.filter((d) => d.severity === 'error');
console.log(`source: ${source.split('\n').length} lines, ${(source.length / 1024).toFixed(0)} KiB; output: ${result.bytes.length} bytes${errors.length ? `, ${errors.length} errors: ${errors[0]!.message}` : ''}`);
console.log(`assemble(): median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms, best ${times[0]!.toFixed(0)} ms over ${runs} runs`);
