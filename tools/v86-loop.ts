/**
 * One run of the loop benchmark in v86 (npm package `v86`, its x86→wasm JIT), for `npm run
 * bench -- --peers`: boots the Multiboot build of guests/bench/loop.asm without a BIOS and
 * prints, as one JSON line, the seconds from the guest's 'S' to its newline and what it printed.
 *   node --import tsx tools/v86-loop.ts IMAGE [--no-jit]
 * With --no-jit, v86 runs its interpreter alone (its `disable_jit` option).
 * Run in a process of its own (tools/bench-peers.ts spawns it), as each figure is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { V86 } from 'v86';

const image = readFileSync(process.argv[2]);
const require = createRequire(import.meta.url);
let output = '';
let start = 0;
const emulator = new V86({
  wasm_path: require.resolve('v86/build/v86.wasm'),
  multiboot: { buffer: image.buffer.slice(image.byteOffset, image.byteOffset + image.length) as ArrayBuffer },
  memory_size: 64 << 20,
  autostart: true,
  disable_keyboard: true,
  disable_jit: process.argv.includes('--no-jit'),
});
emulator.add_listener('serial0-output-byte', (byte: number) => {
  if (byte === 0x53 && start === 0) start = performance.now();
  if (byte === 0x0a) {
    const seconds = (performance.now() - start) / 1000;
    process.stdout.write(`${JSON.stringify({ seconds, line: output.replace(/^S/, '').trim() })}\n`);
    // Now, before the guest's OUT to port 0xF4, which v86's test-exit device answers by throwing.
    process.exit(0);
  }
  output += String.fromCharCode(byte);
});
