/**
 * `minivisor exercise list`, `minivisor exercise start NN [DIR]` and `minivisor grade NN
 * FILE.asm [--json]`: the exercise guests in guests/exercises, each a README, a skeleton
 * (start.asm) and a grader spec (grader.json), graded through src/grader.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { projectRoot } from '../project-root.ts';
import type { Command } from './command.ts';
import { buildMachine, parseRunArguments } from './run-command.ts';
import { UserError } from './user-error.ts';
import { parseGraderSpec, type GraderSpec } from '../grader/spec.ts';
import { formatGrade, grade, type MachineFactory } from '../grader/grade.ts';

const EXERCISES = () => join(projectRoot(), 'guests', 'exercises');
/** Includes every exercise may use (boot32.inc): found here, and copied out with each exercise. */
const COMMON = () => join(EXERCISES(), 'common');

/** Machines for grading FILE: as `minivisor run FILE --mode M --mem S` builds them, the exercises' includes on the path. */
export function exerciseMachines(spec: GraderSpec, file: string): MachineFactory {
  return (mode, memory) => {
    let serial = '';
    const settings = parseRunArguments([file, '--mode', mode, '--mem', memory, '-I', COMMON(), ...spec.runOptions], (b) => (serial += String.fromCharCode(b)));
    return { machine: buildMachine(settings), serial: () => serial };
  };
}

interface Exercise {
  number: string;
  name: string;
  dir: string;
  title: string;
}

function exercises(): Exercise[] {
  return readdirSync(EXERCISES(), { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => {
      const dir = join(EXERCISES(), d.name);
      const heading = /^#\s*(.+)$/m.exec(readFileSync(join(dir, 'README.md'), 'utf8'));
      // The heading says "01: Hello through the BIOS": the title is what follows the number.
      return { number: d.name.slice(0, 2), name: d.name, dir, title: heading ? heading[1].trim().replace(/^\d\d:\s*/, '') : d.name };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** An exercise by its number (1, 01) or its directory's name. */
function findExercise(which: string | undefined, usage: string): Exercise {
  const all = exercises();
  if (which === undefined) throw new UserError(`which exercise? ${usage}\n'minivisor exercise list' lists them`);
  const found = all.find((e) => e.name === which || e.number === which.padStart(2, '0'));
  if (!found) throw new UserError(`there is no exercise '${which}': they are ${all.map((e) => e.number).join(', ')} ('minivisor exercise list' says what each is)`);
  return found;
}

const EXERCISE_USAGE = `usage: minivisor exercise list
       minivisor exercise start NN [DIR]

Exercises in writing guests, in order, from a boot sector to a hypervisor's view of paging
(guests/exercises/README.md is the guide). 'start NN' copies exercise NN's README.md and its
skeleton, start.asm, into DIR (default: the exercise's directory name, under the current
directory), with the includes the exercises share (boot32.inc). Then edit start.asm where it says TODO, and: minivisor grade NN DIR/start.asm`;

export const exerciseCommand: Command = {
  usage: EXERCISE_USAGE,
  async run(args) {
    const [action, which, target] = args;
    if (action === undefined || action === '--help') {
      console.log(EXERCISE_USAGE);
      return action === undefined ? 2 : 0;
    }
    if (action === 'list') {
      for (const e of exercises()) console.log(`${e.number}  ${e.title}`);
      return 0;
    }
    if (action !== 'start') throw new UserError(`'${action}' is not something exercise does: list or start\n\n${EXERCISE_USAGE}`);
    const exercise = findExercise(which, 'minivisor exercise start NN [DIR]');
    const dir = target ?? exercise.name;
    const files = [...['README.md', 'start.asm'].map((f) => join(exercise.dir, f)), ...readdirSync(COMMON()).map((f) => join(COMMON(), f))];
    for (const f of files) if (existsSync(join(dir, basename(f)))) throw new UserError(`${join(dir, basename(f))} exists already: start the exercise in another directory (minivisor exercise start ${exercise.number} DIR), or keep working on it`);
    mkdirSync(dir, { recursive: true });
    for (const f of files) copyFileSync(f, join(dir, basename(f)));
    console.log(`${exercise.number}: ${exercise.title}: ${join(dir, 'README.md')} says what to do; edit ${join(dir, 'start.asm')}, then\n  minivisor grade ${exercise.number} ${join(dir, 'start.asm')}`);
    return 0;
  },
};

const GRADE_USAGE = `usage: minivisor grade NN FILE.asm [--json]

Runs FILE.asm as exercise NN's grader says (in each memory mode and memory size it names) and
checks what the guest did through the machine: registers, the interrupts and exceptions it
took, how it ended, what it printed. Each check prints ✓ or ✗ with what was seen and a hint;
a failing run also shows its first exception. Exit status 0 when every check passes, 1 when
one fails, 14 when FILE does not assemble (with file:line:column), 2 for a mistake in the
command. --json prints the result as JSON, for course tooling (with "error" when the guest
could not be built).`;

export const gradeCommand: Command = {
  usage: GRADE_USAGE,
  async run(args) {
    if (args.includes('--help')) {
      console.log(GRADE_USAGE);
      return 0;
    }
    const json = args.includes('--json');
    const [which, file, ...rest] = args.filter((a) => a !== '--json');
    if (rest.length > 0) throw new UserError(`one exercise and one file, please: ${GRADE_USAGE}`);
    const exercise = findExercise(which, 'minivisor grade NN FILE.asm');
    if (file === undefined) throw new UserError(`which file? ${GRADE_USAGE.split('\n')[0]}`);
    let spec: GraderSpec;
    try {
      spec = parseGraderSpec(readFileSync(join(exercise.dir, 'grader.json'), 'utf8'), join(exercise.dir, 'grader.json'));
    } catch (e) {
      throw new UserError(`exercise ${exercise.number}'s grader spec is broken (a mistake of the exercise's author): ${e instanceof Error ? e.message : String(e)}`);
    }
    let result;
    try {
      result = grade(spec, exerciseMachines(spec, file));
    } catch (e) {
      // A file that does not assemble (or cannot be read): for tooling, JSON too, with why.
      if (json && e instanceof UserError) {
        console.log(JSON.stringify({ title: spec.title, passed: false, error: e.message, runs: [] }, null, 2));
        return e.exitCode;
      }
      throw e;
    }
    console.log(json ? JSON.stringify(result, null, 2) : formatGrade(result));
    return result.passed ? 0 : 1;
  },
};
