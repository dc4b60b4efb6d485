/**
 * bin/run-bundled.js, which every `minivisor` command starts through: it must run the sources
 * as they are now (a stale bundle would run code the user already changed), keep a V8 code
 * cache that later starts use, and survive a damaged cache and several processes rebuilding at
 * once. It runs here on a project of its own (a copy of bin/ and two small sources), so that
 * rebuilding does not disturb the other tests' bundle.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
let project: string;
let cacheDir: string;

function writeSources(word: string): void {
  writeFileSync(join(project, 'src', 'word.ts'), `export const word: string = '${word}';\n`);
}

function run(): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(project, 'bin', 'run-bundled.js'), 'src/probe.ts', 'an-argument'], { cwd: project, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const codeCaches = () => readdirSync(cacheDir).filter((f) => f.endsWith('.v8cache'));

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'minivisor-run-bundled-'));
  mkdirSync(join(project, 'bin'));
  mkdirSync(join(project, 'src'));
  mkdirSync(join(project, 'node_modules'));
  for (const f of ['run-bundled.js', 'package.json']) copyFileSync(join(ROOT, 'bin', f), join(project, 'bin', f));
  symlinkSync(join(ROOT, 'node_modules', 'esbuild'), join(project, 'node_modules', 'esbuild'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'probe', type: 'module' }));
  writeFileSync(
    join(project, 'src', 'probe.ts'),
    [
      "import { word } from './word.ts';",
      '// What the sources see of import.meta and argv when they run from the bundle.',
      "console.log(`${word} ${import.meta.url.startsWith('file://')} ${typeof import.meta.dirname} ${process.argv.slice(2).join(',')}`);",
      '',
    ].join('\n'),
  );
  writeSources('first');
  cacheDir = join(project, 'node_modules', '.cache', 'minivisor', 'probe');
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('run-bundled', () => {
  it('bundles on first use and leaves a code cache for the next start', () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('first true string an-argument\n');
    expect(existsSync(join(cacheDir, 'probe.cjs'))).toBe(true);
    expect(codeCaches()).toEqual(['probe.main.v8cache']);
  });

  it('a later start takes the code cache as it is (V8 accepts it, so it is not made again)', () => {
    const cache = join(cacheDir, 'probe.main.v8cache');
    const before = statSync(cache).mtimeMs;
    expect(run().stdout).toBe('first true string an-argument\n');
    expect(statSync(cache).mtimeMs).toBe(before);
  });

  it('runs a changed source, not the bundle of the old one', () => {
    writeSources('second');
    expect(run().stdout).toBe('second true string an-argument\n');
    expect(run().stdout).toBe('second true string an-argument\n');
  });

  it('a damaged code cache is refused by V8 and made again; the run goes on', () => {
    const cache = join(cacheDir, 'probe.main.v8cache');
    writeFileSync(cache, 'not a code cache');
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('second true string an-argument\n');
    expect(statSync(cache).size).toBeGreaterThan(100);
  });

  it('several processes that find the bundle stale at once all run the new sources', async () => {
    writeSources('third');
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, [join(project, 'bin', 'run-bundled.js'), 'src/probe.ts'], { cwd: project });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('close', (code) => resolve({ code, out, err }));
        }),
      ),
    );
    for (const r of runs) expect(r).toEqual({ code: 0, out: 'third true string \n', err: '' });
    // Nothing left over from the builds that lost the race.
    expect(readdirSync(join(project, 'node_modules', '.cache', 'minivisor'))).toEqual(['probe']);
  });
});
