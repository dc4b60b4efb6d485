/**
 * An exit port, as QEMU's isa-debug-exit: a write ends the run, and the process exits with
 * status (value << 1) | 1, so that a guest can report pass or fail to a test runner.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';

export class ExitPort implements PortHandler {
  constructor(
    readonly port: number,
    private readonly onExit: (status: number) => void,
  ) {}

  read(): number {
    return 0xff;
  }

  write(_port: number, size: 1 | 2 | 4, value: number): void {
    const masked = size === 4 ? value >>> 0 : value & ((1 << (8 * size)) - 1);
    this.onExit(((masked << 1) | 1) & 0xff);
  }
}
