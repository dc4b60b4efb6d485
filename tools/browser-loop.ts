/**
 * The loop benchmark in a browser page, for `npm run bench` (tools/bench-browser.ts builds it for
 * browsers and opens it in Chromium): boots loop.bin (guests/bench/loop.asm, assembled beside the
 * page) as a boot sector, bare with the translation cache (or without: `?interpreter`), as the Node figures are measured, and
 * leaves the seconds from the guest's 'S' to its newline, and what it printed, in
 * `window.loopResult`. Chromium runs V8 with its own flags: none of src/cli/tune-v8.ts.
 */
import { timeLoop } from './loop-timing.ts';

declare global {
  interface Window {
    loopResult?: { seconds: number; line: string } | { error: string };
  }
}

async function run(): Promise<void> {
  const image = new Uint8Array(await (await fetch('loop.bin')).arrayBuffer());
  // (`?interpreter`: the interpreter alone, as minivisor run --no-jit.)
  const { seconds, line, outcome } = timeLoop(image, 2e10, { translationCache: !location.search.includes('interpreter') });
  window.loopResult = outcome.kind === 'exit' && seconds !== 0 ? { seconds, line } : { error: `the guest did not finish: ${outcome.kind}` };
}

// After the page has loaded, so that nothing else runs meanwhile.
setTimeout(() => run().catch((e) => (window.loopResult = { error: String(e) })), 0);
