/**
 * `npm run bench`'s figures for snapshots, record/replay and reverse execution (run in a child
 * process of its own: the debugger's modules stay out of the loop benchmark's process):
 * - a snapshot's size, and the time to save it (take and compress) and to load it (decompress and
 *   write into a machine), for the toy kernel at its end, and for a 512 MiB guest as booted and
 *   with all its memory written;
 * - what recording (--record's checks) and the debugger's history cost a run;
 * - a reverse-continue across 10^8 instructions: from the end of the loop guest back to a
 *   breakpoint at its first instruction.
 */
import { join } from 'node:path';
import { loadGuestImage } from '../src/cli/run-command.ts';
import { builtinBios } from '../src/cli/firmware.ts';
import { DebugSession, type DebugHost } from '../src/debugger/session.ts';
import { SymbolTable } from '../src/debugger/symbols.ts';
import { DiskImage } from '../src/machine/disk-image.ts';
import { Recorder } from '../src/machine/input-log.ts';
import { Machine } from '../src/machine/machine.ts';
import { decodeSnapshot, encodeSnapshot, loadSnapshot, takeSnapshot } from '../src/machine/snapshot.ts';
import { projectRoot } from '../src/project-root.ts';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (from: number) => performance.now() - from;

function kernelMachine(memoryBytes = 32 << 20): Machine {
  const kernel = DiskImage.from(loadGuestImage(join(projectRoot(), 'guests', 'kernel', 'kernel.asm')), 'floppy', 'kernel');
  return new Machine({ memoryBytes, mode: 'ept', bios: builtinBios(), disks: new Map([[0, kernel]]), exitPort: 0xf4 });
}

/** Size, save and load times (medians of 5) of a snapshot of `machine`, loaded into machines `fresh` makes. */
function snapshotFigures(what: string, machine: Machine, fresh: () => Machine): string {
  const saves: number[] = [];
  const loads: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const file = encodeSnapshot(takeSnapshot(machine));
    saves.push(ms(t));
    bytes = file.length;
    const target = fresh();
    t = performance.now();
    loadSnapshot(target, decodeSnapshot(file, 'bench.snap').snapshot);
    loads.push(ms(t));
    target.dispose();
  }
  const used = machine.phys.hostMemory.framesInUse * 4096;
  return `  ${what}: ${(used / 1048576).toFixed(1)} MiB of frames in use, file ${(bytes / 1024).toFixed(0)} KiB; save ${median(saves).toFixed(0)} ms, load ${median(loads).toFixed(0)} ms`;
}

/** One run of `make`'s machine in slices of 4 M instructions (as `minivisor run`'s), `between` called after each: ms. */
function slicedRunMs(make: () => Machine, prepare: (m: Machine) => (() => void) | void): number {
  const m = make();
  const between = prepare(m) ?? (() => {});
  const t = performance.now();
  for (let outcome = m.run(1 << 22); outcome.kind === 'limit'; outcome = m.run(1 << 22)) between();
  const took = ms(t);
  m.dispose();
  return took;
}

function quietHost(): DebugHost {
  return { print: () => {}, flushGuestOutput: () => {}, mayReceiveInput: false, takeInterrupt: () => false, running: () => {}, readFile: () => undefined };
}

export async function historyReport(): Promise<string[]> {
  const lines = ['snapshots, record/replay and reverse execution:'];

  const kernel = kernelMachine();
  kernel.run(2e9);
  lines.push(snapshotFigures('toy kernel at its end (ept, 32 MiB)', kernel, () => kernelMachine()));

  const big = kernelMachine(512 << 20);
  big.run(2e9);
  lines.push(snapshotFigures('toy kernel at its end with 512 MiB (ept)', big, () => kernelMachine(512 << 20)));
  // Every page of its RAM above 16 MiB written by the host with random bytes (nothing to compress: stored as they are).
  let x = 0x12345678;
  const page = new Uint8Array(4096);
  const words = new Int32Array(page.buffer);
  for (let at = 16 << 20; at < 512 << 20; at += 4096) {
    for (let i = 0; i < 1024; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    big.phys.load(at, page);
  }
  lines.push(snapshotFigures('the same with all its RAM written with random bytes', big, () => kernelMachine(512 << 20)));
  big.dispose();

  // The loop guest (MEMOP: 10^8 instructions, ept), warmed up, then plain and recorded runs in turn (medians of 5).
  const iters = 2e7;
  const memop = loadGuestImage(join(projectRoot(), 'guests', 'bench', 'loop.asm'), { ITERS: String(Math.round(1e8 / 7)), MEMOP: '1', PAGING: '1' });
  const memopMachine = () => new Machine({ memoryBytes: 32 << 20, mode: 'ept', loads: [{ address: 0x7c00, bytes: memop }], entry: { segment: 0, offset: 0x7c00 }, exitPort: 0xf4 });
  const record = (m: Machine) => {
    const recorder = new Recorder(m);
    return () => recorder.between();
  };
  for (let i = 0; i < 2; i++) slicedRunMs(memopMachine, () => {});
  const plainRuns: number[] = [];
  const recordedRuns: number[] = [];
  for (let i = 0; i < 5; i++) {
    plainRuns.push(slicedRunMs(memopMachine, () => {}));
    recordedRuns.push(slicedRunMs(memopMachine, record));
  }
  const plain = median(plainRuns);
  const recorded = median(recordedRuns);
  lines.push(`  recording (--record): the MEMOP loop guest with paging under EPT (100 M instructions) ${recorded.toFixed(0)} ms against ${plain.toFixed(0)} ms (${((recorded / plain - 1) * 100).toFixed(0)}%: a state check every 16 M instructions)`);

  // The ALU loop guest, 10^8 instructions, in the debugger: its history as it runs, then back to its first instruction.
  const image = loadGuestImage(join(projectRoot(), 'guests', 'bench', 'loop.asm'), { ITERS: String(iters), MEMOP: '0', PAGING: '0' });
  const loopMachine = () => new Machine({ memoryBytes: 32 << 20, mode: 'bare', loads: [{ address: 0x7c00, bytes: image }], entry: { segment: 0, offset: 0x7c00 }, exitPort: 0xf4 });
  let t = performance.now();
  loopMachine().run(2e9);
  const bare = ms(t);
  const machine = loopMachine();
  const session = new DebugSession(machine, new SymbolTable(), quietHost());
  t = performance.now();
  await session.execute('continue');
  const withHistory = ms(t);
  lines.push(
    `  the debugger's history: the loop guest (${(machine.instructions / 1e6).toFixed(0)} M instructions) under 'continue' ${withHistory.toFixed(0)} ms, of which snapshots ${session.timeline.snapshotMs.toFixed(0)} ms (${session.timeline.snapshotCount} taken); ${bare.toFixed(0)} ms without a debugger`,
  );
  await session.execute('break *0x7c00');
  t = performance.now();
  await session.execute('reverse-continue');
  const reverse = ms(t);
  const back = machine.instructions === 0 && session.linearEip === 0x7c00 ? 'at its first instruction' : `WRONG: at instruction ${machine.instructions}`;
  lines.push(`  reverse-continue across ${(session.timeline.frontier / 1e6).toFixed(0)} M instructions, to a breakpoint at the guest's first instruction: ${(reverse / 1000).toFixed(2)} s (${back})`);
  return lines;
}
