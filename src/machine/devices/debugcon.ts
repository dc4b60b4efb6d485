/** A debug console port, as QEMU's isa-debugcon: every byte written to it goes to a sink. Reads return 0xE9, as QEMU's do (guests use it to detect the port). */
import type { PortHandler } from '../../cpu/io-bus.ts';

export class DebugConsole implements PortHandler {
  constructor(
    readonly port: number,
    private readonly sink: (byte: number) => void,
  ) {}

  read(): number {
    return 0xe9;
  }

  write(_port: number, size: 1 | 2 | 4, value: number): void {
    // A wider write sends its bytes low first, as the bus would.
    for (let i = 0; i < size; i++) this.sink((value >>> (8 * i)) & 0xff);
  }
}
