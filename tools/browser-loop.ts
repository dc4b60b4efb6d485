/**
 * The loop benchmark in a browser page, for `npm run bench` (tools/bench-browser.ts builds it for
 * browsers and opens it in Chromium): boots loop.bin (guests/bench/loop.asm, assembled beside the
 * page) as a boot sector, bare with the translation cache, as the Node figures are measured, and
 * leaves the seconds from the guest's 'S' to its newline, and what it printed, in
 * `window.loopResult`. Chromium runs V8 with its own flags: none of src/cli/tune-v8.ts.
 */
import { Machine } from '../src/machine/machine.ts';

declare global {
  interface Window {
    loopResult?: { seconds: number; line: string } | { error: string };
  }
}

async function run(): Promise<void> {
  const image = new Uint8Array(await (await fetch('loop.bin')).arrayBuffer());
  let output = '';
  let start = 0;
  let end = 0;
  const machine = new Machine({
    memoryBytes: 32 << 20,
    loads: [{ address: 0x7c00, bytes: image }],
    entry: { segment: 0, offset: 0x7c00 },
    exitPort: 0xf4,
    serial: (byte) => {
      if (byte === 0x53 && start === 0) start = performance.now();
      if (byte === 0x0a) end = performance.now();
      output += String.fromCharCode(byte);
    },
  });
  const outcome = machine.run(2e10);
  window.loopResult = outcome.kind === 'exit' && end !== 0 ? { seconds: (end - start) / 1000, line: output.replace(/^S/, '').trim() } : { error: `the guest did not finish: ${outcome.kind}` };
}

// After the page has loaded, so that nothing else runs meanwhile.
setTimeout(() => run().catch((e) => (window.loopResult = { error: String(e) })), 0);
