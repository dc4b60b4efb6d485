/**
 * The SingleStepTests 80286 real-mode sample: 31,791 vectors captured from a real 80C286.
 * Every vector must pass unless an exclusion in the harness (EXCLUSIONS) names an honest
 * 286-versus-386 difference that covers it; and at least 99.5% must pass outright.
 */
import { describe, expect, it } from 'vitest';
import { SingleStepRunner, exclusionFor, forms, loadVectors } from './singlestep-harness.ts';

const runner = new SingleStepRunner();
let total = 0;
let passed = 0;

describe('SingleStepTests 80286 (real mode)', () => {
  for (const form of forms()) {
    it(`form ${form}`, () => {
      const failures: string[] = [];
      const vectors = loadVectors(form);
      for (const t of vectors) {
        const problem = runner.run(form, t);
        total++;
        if (problem === null) passed++;
        else if (!exclusionFor(runner, form, t)) failures.push(`#${t.idx} ${t.name}: ${problem}`);
      }
      expect(failures.slice(0, 3)).toEqual([]);
    });
  }

  it('passes at least 99.5% of all 31,791 vectors outright', () => {
    expect(total).toBe(31791);
    expect(passed / total).toBeGreaterThanOrEqual(0.995);
  });
});
