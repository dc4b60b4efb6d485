/**
 * Every exercise in guests/exercises can be solved, and its skeleton does not pass: the
 * reference solution (the skeleton with test/exercises/solutions/NN-name.todo.asm at its TODOs) passes every check of its grader in
 * every mode it names, and start.asm, as handed out, fails at least one with a hint. Then the
 * commands as a student runs them: exercise list, exercise start, grade (text and --json).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exerciseMachines } from '../../src/cli/exercise-command.ts';
import { grade } from '../../src/grader/grade.ts';
import { parseGraderSpec } from '../../src/grader/spec.ts';
import { solutionFile } from './solutions.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const EXERCISES = join(ROOT, 'guests', 'exercises');
const names = readdirSync(EXERCISES).filter((n) => /^\d\d-/.test(n)).sort();

function gradeFile(name: string, file: string) {
  const spec = parseGraderSpec(readFileSync(join(EXERCISES, name, 'grader.json'), 'utf8'), name);
  return grade(spec, exerciseMachines(spec, file));
}

describe.each(names)('exercise %s', (name) => {
  it('has its README, skeleton, grader spec and a reference solution', () => {
    for (const f of ['README.md', 'start.asm', 'grader.json']) expect(existsSync(join(EXERCISES, name, f)), f).toBe(true);
    expect(existsSync(join(ROOT, 'test', 'exercises', 'solutions', `${name}.todo.asm`))).toBe(true);
    expect(readFileSync(join(EXERCISES, name, 'start.asm'), 'utf8')).toMatch(/TODO/);
  });

  it('the reference solution passes every check', () => {
    const result = gradeFile(name, solutionFile(name));
    const failed = result.runs.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.mode} ${r.memory}: ${c.says}: ${c.detail}`));
    expect(failed).toEqual([]);
    expect(result.passed).toBe(true);
  });

  it('the skeleton boots but fails, with what was seen and a hint', () => {
    const result = gradeFile(name, join(EXERCISES, name, 'start.asm'));
    expect(result.passed).toBe(false);
    // It boots: the guest's own code ran, and the run did not end in the BIOS.
    const inBios = (linear: number) => (linear >= 0xf0000 && linear < 0x100000) || linear >= 0xffff0000;
    for (const run of result.runs) expect(inBios(run.endLinear), `${run.mode}: ${run.outcome}`).toBe(false);
    // (It may pass where the exercise is not about: 08's skeleton is right, only slow under shadow.)
    for (const run of result.runs) {
      const failed = run.checks.filter((c) => !c.ok);
      for (const c of failed) {
        expect(c.detail).not.toBe('');
        expect(c.hint).not.toBe('');
      }
    }
  });
});

describe('the exercises', () => {
  it('are at least ten, numbered from 01 without a gap, each in the guide', () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
    expect(names.map((n) => n.slice(0, 2))).toEqual(names.map((_, i) => String(i + 1).padStart(2, '0')));
    const guide = readFileSync(join(EXERCISES, 'README.md'), 'utf8');
    for (const n of names) expect(guide).toContain(`(${n}/README.md)`);
  });
});

describe('the commands', () => {
  const minivisor = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), ...args], { cwd: ROOT, encoding: 'utf8' });

  it('exercise list names them in order; exercise start copies one out; grade says ✓ and ✗', () => {
    const list = minivisor('exercise', 'list');
    expect(list.status).toBe(0);
    expect(list.stdout.split('\n').filter(Boolean).map((l) => l.slice(0, 2))).toEqual(names.map((n) => n.slice(0, 2)));

    const dir = join(mkdtempSync(join(tmpdir(), 'minivisor-exercise-')), 'mine');
    const start = minivisor('exercise', 'start', '1', dir);
    expect(start.status, start.stderr).toBe(0);
    expect(readFileSync(join(dir, 'start.asm'), 'utf8')).toBe(readFileSync(join(EXERCISES, names[0], 'start.asm'), 'utf8'));
    expect(existsSync(join(dir, 'boot32.inc')), 'the shared include comes too').toBe(true);
    expect(minivisor('exercise', 'start', '1', dir).stderr).toMatch(/exists already/);

    const failing = minivisor('grade', '01', join(dir, 'start.asm'));
    expect(failing.status).toBe(1);
    expect(failing.stdout).toMatch(/✗ 'Hello, minivisor!' is on the screen\n\s+wanted the line "Hello, minivisor!"; nothing was printed\n\s+hint: /);
    const passing = minivisor('grade', '01', solutionFile(names[0]), '--json');
    expect(passing.status).toBe(0);
    const json = JSON.parse(passing.stdout) as { passed: boolean; runs: { mode: string }[] };
    expect(json.passed).toBe(true);
    expect(json.runs.map((r) => r.mode)).toEqual(['bare', 'ept', 'shadow']);
  });

  it('a mistake is said plainly: no such exercise, no file, a guest that does not assemble', () => {
    expect(minivisor('grade', '99', 'x.asm').stderr).toMatch(/there is no exercise '99': they are 01, /);
    expect(minivisor('grade', '01').stderr).toMatch(/which file\?/);
    const bad = join(mkdtempSync(join(tmpdir(), 'minivisor-exercise-')), 'bad.asm');
    writeFileSync(bad, 'mov ax, \n');
    const r = minivisor('grade', '01', bad);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.asm:1:\d+/);
  });
});
