/**
 * An exercise's reference solution is its skeleton with the TODOs done: NN-name.todo.asm holds
 * what goes at each TODO of guests/exercises/NN-name/start.asm, in order, after a `;; TODO` line
 * each. Kept so, the solution cannot drift from the skeleton students get, and what the student
 * has to write is all there is to read.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** The TODO blocks of a skeleton: each a `; TODO` comment line and the comment lines that go on with it. */
function todoBlocks(lines: string[]): [start: number, end: number][] {
  const blocks: [number, number][] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*; TODO/.test(lines[i])) continue;
    let end = i + 1;
    while (end < lines.length && /^\s*;/.test(lines[end]) && !/^\s*; TODO/.test(lines[end])) end++;
    blocks.push([i, end]);
    i = end - 1;
  }
  return blocks;
}

/** The solution of exercise `name` as a file (in a temporary directory): the skeleton, its TODOs done. */
export function solutionFile(name: string): string {
  const skeleton = readFileSync(join(ROOT, 'guests', 'exercises', name, 'start.asm'), 'utf8').split('\n');
  const work = readFileSync(join(ROOT, 'test', 'exercises', 'solutions', `${name}.todo.asm`), 'utf8')
    .split(/^;; TODO\n/m)
    .slice(1)
    .map((w) => w.replace(/\n$/, ''));
  const blocks = todoBlocks(skeleton);
  if (blocks.length !== work.length) throw new Error(`${name}: start.asm has ${blocks.length} TODOs, the solution fills ${work.length}`);
  const lines = [...skeleton];
  for (let i = blocks.length - 1; i >= 0; i--) lines.splice(blocks[i][0], blocks[i][1] - blocks[i][0], ...work[i].split('\n'));
  const file = join(mkdtempSync(join(tmpdir(), 'minivisor-solution-')), `${name}.asm`);
  writeFileSync(file, lines.join('\n'));
  return file;
}
