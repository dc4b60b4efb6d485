/** System control port A (0x92): bit 1 gates A20 ("fast A20"), bit 0 would reset the CPU. */
import type { Cpu } from '../../cpu/cpu.ts';
import type { PortHandler } from '../../cpu/io-bus.ts';

export class SystemControlPortA implements PortHandler {
  constructor(
    private readonly cpu: Cpu,
    private readonly onReset: () => void,
  ) {}

  read(): number {
    return this.cpu.a20Enabled ? 0x02 : 0x00;
  }

  write(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.cpu.setA20((value & 0x02) !== 0);
    if (value & 0x01) this.onReset();
  }
}
