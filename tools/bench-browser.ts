/**
 * The loop benchmark in Chromium, for `npm run bench`: tools/browser-loop.ts built for browsers
 * (esbuild), loop.bin assembled beside it, served on localhost and opened in Debian's Chromium
 * by playwright-core, one page per run. What a user of the playground gets, against what Node
 * gets (Chromium's V8 runs without src/cli/tune-v8.ts's flag).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGuestImage } from '../src/cli/run-command.ts';
import { projectRoot } from '../src/project-root.ts';
import { servePlayground } from './playground-build.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags that keep a headless Chromium off the network this machine does not have. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface BrowserLoopRun {
  seconds: number;
  line: string;
}

/** Runs the loop guest (`iters` iterations, the MEMOP or BRANCH variant or neither; compiled or interpreted) in Chromium; null when there is no Chromium. */
export async function loopInChromium(iters: number, memop: boolean, branch = false, translationCache = true): Promise<BrowserLoopRun | null> {
  if (!existsSync(CHROMIUM)) return null;
  const root = projectRoot();
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-browser-loop-'));
  // esbuild and playwright-core are loaded only here: merely loading them made the benchmark's
  // other runs, in the processes that import this file, a quarter as fast (ALU: 3,150 -> 800 MIPS).
  const load = createRequire(import.meta.url);
  const { build } = load('esbuild') as typeof import('esbuild');
  const { chromium } = load('playwright-core') as typeof import('playwright-core');
  const server = await (async () => {
    await build({ entryPoints: [join(root, 'tools', 'browser-loop.ts')], outfile: join(dir, 'loop.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minifySyntax: true, logLevel: 'error' });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="loop.js"></script>');
    writeFileSync(join(dir, 'loop.bin'), loadGuestImage(join(root, 'guests', 'bench', 'loop.asm'), { ITERS: String(iters), MEMOP: memop ? '1' : '0', BRANCH: branch ? '1' : '0' }));
    return servePlayground(dir, 0);
  })();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`http://localhost:${server.port}/${translationCache ? '' : '?interpreter'}`);
    await page.waitForFunction(() => window.loopResult !== undefined, null, { timeout: 300_000, polling: 100 });
    const result = await page.evaluate(() => window.loopResult!);
    if ('error' in result) throw new Error(`the loop benchmark in Chromium: ${result.error}`);
    return result;
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
