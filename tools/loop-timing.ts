/**
 * One run of the loop benchmark guest (guests/bench/loop.asm, assembled by the caller) as a boot
 * sector at 0000:7C00, timed as every figure of it is: from the guest's 'S' to its newline. For
 * tools/bench.ts in Node and tools/browser-loop.ts in Chromium; nothing here is Node's.
 */
import { Machine, type MachineConfig, type RunOutcome } from '../src/machine/machine.ts';

export interface TimedLoop {
  /** Seconds from 'S' to the newline (0 when the guest never printed both). */
  seconds: number;
  /** What the guest printed after its 'S': "E" and EAX in hex. */
  line: string;
  outcome: RunOutcome;
}

export function timeLoop(image: Uint8Array, maxInstructions: number, config: Partial<MachineConfig> = {}): TimedLoop {
  let output = '';
  let start = 0;
  let end = 0;
  const machine = new Machine({
    memoryBytes: 32 << 20,
    ...config,
    loads: [{ address: 0x7c00, bytes: image }],
    entry: { segment: 0, offset: 0x7c00 },
    exitPort: 0xf4,
    serial: (byte) => {
      if (byte === 0x53 && start === 0) start = performance.now();
      if (byte === 0x0a) end = performance.now();
      output += String.fromCharCode(byte);
    },
  });
  const outcome = machine.run(maxInstructions);
  return { seconds: end === 0 ? 0 : (end - start) / 1000, line: output.replace(/^S/, '').trim(), outcome };
}
