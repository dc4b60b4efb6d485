/**
 * Runs the 80286 per-instruction vectors and prints a pass count per form, plus the failures
 * of the forms named on the command line (a developer's tool; the test suite runs the same).
 *   npx tsx tools/singlestep.ts            summary of every form
 *   npx tsx tools/singlestep.ts 27 F6.7    and the first failures of forms 27 and F6.7
 */
import { SingleStepRunner, exclusionFor, forms, loadVectors } from '../test/cpu/singlestep-harness.ts';

const runner = new SingleStepRunner();
const detail = new Set(process.argv.slice(2).map((f) => f.toUpperCase()));
let total = 0;
let passed = 0;
let excluded = 0;
const failing: string[] = [];
for (const form of forms()) {
  const vectors = loadVectors(form);
  let ok = 0;
  let shown = 0;
  for (const t of vectors) {
    const problem = runner.run(form, t);
    if (problem === null) ok++;
    else if (exclusionFor(runner, form, t)) excluded++;
    else if (detail.has(form) && shown++ < 5) console.log(`  ${form} #${t.idx} ${t.name} [${t.bytes.map((b) => b.toString(16)).join(' ')}]: ${problem}`);
  }
  total += vectors.length;
  passed += ok;
  if (ok !== vectors.length) failing.push(`${form}: ${ok}/${vectors.length}`);
}
console.log(failing.join('\n'));
console.log(`${passed}/${total} passed (${((100 * passed) / total).toFixed(2)}%), ${excluded} excluded as honest 286/386 differences, ${total - passed - excluded} failing`);
