/**
 * `minivisor run`'s exit statuses: one for each way a run can end, so that a script or a grader
 * can tell them apart. The exit port's statuses are odd ((V << 1) | 1, as QEMU's isa-debug-exit
 * gives), so every other outcome has an even status.
 */
export const EXIT = {
  /** The guest halted with nothing that can wake it. */
  halted: 0,
  /** A mistake in the options or a file, found before the guest starts (UserError's default). */
  usage: 2,
  /** Execution ran into memory with nothing behind it. */
  unmappedFetch: 4,
  /** The BIOS found nothing to boot. */
  noBoot: 6,
  /** A triple fault: the CPU shut down. */
  tripleFault: 8,
  /** The guest reset the machine (port 0x92, the keyboard controller). */
  reset: 10,
  /** --max-instructions ran out. */
  limit: 12,
  /** A .asm given to run did not assemble. */
  assembly: 14,
  /** Stopped for another reason (a VM exit the machine could not serve). */
  stopped: 16,
  /** --replay: the run differed from the recording (the message says where first). */
  replayDiverged: 18,
  /** A bug in minivisor (EX_SOFTWARE). */
  internal: 70,
  /** Stopped by Ctrl-C, SIGINT or SIGTERM (128 + SIGINT). */
  interrupted: 130,
} as const;

/** The table, for `minivisor help run` and the README. */
export const EXIT_STATUS_TABLE: [status: string, meaning: string][] = [
  ['0', 'the guest halted with nothing to wake it (HLT with interrupts off, or no interrupt source)'],
  ['(V << 1) | 1', 'the guest wrote V to --exit-port: always odd (1, 3, 5 ... 255)'],
  [String(EXIT.usage), 'a mistake in the options or a file, found before the guest starts'],
  [String(EXIT.unmappedFetch), 'the guest ran into memory with nothing behind it'],
  [String(EXIT.noBoot), 'nothing to boot: no boot drive, or no 55AA signature in its boot sector'],
  [String(EXIT.tripleFault), 'a triple fault (the report says which exceptions led to it)'],
  [String(EXIT.reset), 'the guest reset the machine (port 0x92 or the keyboard controller)'],
  [String(EXIT.limit), '--max-instructions ran out'],
  [String(EXIT.assembly), 'a .asm file did not assemble'],
  [String(EXIT.stopped), 'stopped for another reason (a VM exit the machine could not serve)'],
  [String(EXIT.replayDiverged), '--replay: the run differed from its recording (said where, on stderr)'],
  [String(EXIT.internal), 'a bug in minivisor (the message asks you to report it)'],
  [String(EXIT.interrupted), 'stopped by Ctrl-C, SIGINT or SIGTERM'],
];

/** The table as text, indented. */
export function formatExitStatuses(indent = '  '): string {
  const width = Math.max(...EXIT_STATUS_TABLE.map(([s]) => s.length));
  return EXIT_STATUS_TABLE.map(([s, m]) => `${indent}${s.padEnd(width)}  ${m}`).join('\n');
}
