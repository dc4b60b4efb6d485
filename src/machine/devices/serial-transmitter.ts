/**
 * COM1's transmit side: enough of a 16550 for a guest that programs the line, polls the line
 * status register for "transmitter empty" and writes bytes (the loop benchmark, boot
 * loaders' debug output). Receive, interrupts and the modem lines arrive with the full UART.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';

const THR = 0, IER = 1, LCR = 3, MCR = 4, LSR = 5, SCR = 7;
const LCR_DLAB = 0x80;
/** Transmit holding register empty, transmitter empty: output is instantaneous here. */
const LSR_IDLE = 0x60;

export class SerialTransmitter implements PortHandler {
  private readonly regs = new Uint8Array(8);
  private divisor = 12; // 9600 baud, the power-on value

  constructor(
    readonly base: number,
    private readonly sink: (byte: number) => void,
  ) {}

  read(port: number): number {
    const reg = port - this.base;
    const dlab = (this.regs[LCR] & LCR_DLAB) !== 0;
    if (dlab && reg === THR) return this.divisor & 0xff;
    if (dlab && reg === IER) return this.divisor >> 8;
    if (reg === LSR) return LSR_IDLE;
    if (reg === THR) return 0; // nothing received
    if (reg === 2) return 0x01; // IIR: no interrupt pending
    return this.regs[reg];
  }

  write(port: number, _size: 1 | 2 | 4, value: number): void {
    const reg = port - this.base;
    const dlab = (this.regs[LCR] & LCR_DLAB) !== 0;
    if (dlab && reg === THR) this.divisor = (this.divisor & 0xff00) | (value & 0xff);
    else if (dlab && reg === IER) this.divisor = (this.divisor & 0xff) | ((value & 0xff) << 8);
    else if (reg === THR) this.sink(value & 0xff);
    else if (reg === IER || reg === LCR || reg === MCR || reg === SCR) this.regs[reg] = value;
  }
}
