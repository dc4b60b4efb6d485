/**
 * The sources type-check under the project's tsconfig (strict, no unused locals). Vitest runs
 * TypeScript without checking types, so without this a type error would reach users unseen.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';
import { ROOT } from '../firmware/harness.ts';

it('tsc --noEmit reports nothing', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', ROOT], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
