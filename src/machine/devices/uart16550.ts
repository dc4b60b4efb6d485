/**
 * A National 16550A UART, as COM1 at 0x3F8 on IRQ 4. Transmission is instantaneous: a byte
 * written to THR reaches the sink at once, so THR and the transmitter always read empty, but
 * the THR-empty interrupt still comes, because interrupt-driven drivers wait for it. Received
 * bytes (from the terminal, through receive()) fill a 16-byte FIFO. With FIFOs enabled, data
 * below the trigger level is reported at once as a character timeout (IIR 0x0C): time is not
 * measured in character times here. The IRQ line is not gated by MCR.OUT2, as in QEMU's and
 * v86's 16550 (a PC's serial card gates it): kernels written for emulators, xv6 among them,
 * enable receive interrupts and leave OUT2 clear.
 */
import type { IrqLine } from '../clock.ts';
import { BytePorts } from './byte-ports.ts';

export const COM1_BASE = 0x3f8;

// Register offsets from the base port.
const RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

const IER_RECEIVED_DATA = 0x01, IER_THR_EMPTY = 0x02, IER_LINE_STATUS = 0x04, IER_MODEM_STATUS = 0x08;
/** IIR interrupt identifications, highest priority first; bit 0 set means none pending. */
const IIR_LINE_STATUS = 0x06, IIR_RECEIVED_DATA = 0x04, IIR_CHARACTER_TIMEOUT = 0x0c;
const IIR_THR_EMPTY = 0x02, IIR_MODEM_STATUS = 0x00, IIR_NONE = 0x01;
const IIR_FIFOS_ENABLED = 0xc0;
const FCR_ENABLE = 0x01, FCR_CLEAR_RECEIVE = 0x02;
const LCR_DLAB = 0x80;
const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
const LSR_DATA_READY = 0x01, LSR_OVERRUN = 0x02, LSR_THR_EMPTY = 0x20, LSR_TRANSMITTER_EMPTY = 0x40;
const MSR_DELTAS = 0x0f, MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;
const MSR_TRAILING_EDGE_RI = 0x04;
/** The terminal at the other end: clear to send, data set ready, carrier detected. */
const CONNECTED_TERMINAL = MSR_CTS | MSR_DSR | MSR_DCD;
const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** The UART's input clock divided by 16: a divisor of 1 is 115200 baud. */
const BASE_BAUD = 115200;

export class Uart16550 extends BytePorts {
  private readonly receiveFifo = new Uint8Array(FIFO_SIZE);
  private receiveHead = 0;
  private receiveCount = 0;
  private fifosEnabled = false;
  private triggerLevel = 1;
  private ier = 0;
  private lcr = 0x03; // 8 data bits, no parity, 1 stop bit
  private mcr = 0;
  private scr = 0;
  private divisor = 12; // 9600 baud
  /** Overrun, parity, framing and break bits, until LSR is read. */
  private lineErrors = 0;
  private msrDeltas = 0;
  /** THR went empty and the driver has not seen the interrupt for it (IIR read) or refilled THR. */
  private thrEmptyPending = false;
  private irqLevel = false;

  /**
   * @param base the first of the eight ports (0x3F8 for COM1)
   * @param irq the interrupt line (IRQ 4 for COM1)
   * @param sink where transmitted bytes go
   */
  constructor(
    readonly base: number,
    private readonly irq: IrqLine,
    private readonly sink: (byte: number) => void,
  ) {
    super();
  }

  /** The line speed the guest programmed (for display). */
  get baudRate(): number {
    return this.divisor === 0 ? 0 : BASE_BAUD / this.divisor;
  }

  /** Whether the guest takes received bytes by interrupt (IER's received-data bit): a serial console's driver. */
  get receivesByInterrupt(): boolean {
    return (this.ier & IER_RECEIVED_DATA) !== 0;
  }

  /** How many more bytes receive() can take before an overrun, so a terminal can pace its input. */
  receiveRoom(): number {
    return this.capacity() - this.receiveCount;
  }

  /** A byte arrives from the other end of the line. */
  receive(byte: number): void {
    if (this.receiveCount === this.capacity()) {
      this.lineErrors |= LSR_OVERRUN;
      // Without FIFOs the new byte overwrites the holding register; a full FIFO keeps its bytes.
      if (!this.fifosEnabled) this.receiveFifo[this.receiveHead] = byte;
    } else {
      this.receiveFifo[(this.receiveHead + this.receiveCount) % FIFO_SIZE] = byte;
      this.receiveCount++;
    }
    this.updateIrq();
  }

  private capacity(): number {
    return this.fifosEnabled ? FIFO_SIZE : 1;
  }

  private get dlab(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  /** The modem inputs: the terminal's lines, or in loopback the MCR outputs wired back. */
  private modemInputs(): number {
    if (!this.loopback) return CONNECTED_TERMINAL;
    const mcr = this.mcr;
    return (mcr & MCR_RTS ? MSR_CTS : 0) | (mcr & MCR_DTR ? MSR_DSR : 0) |
      (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
  }

  /** The highest-priority pending and enabled interrupt, as IIR's low four bits. */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER_LINE_STATUS && this.lineErrors) return IIR_LINE_STATUS;
    if (ier & IER_RECEIVED_DATA && this.receiveCount > 0) {
      return this.fifosEnabled && this.receiveCount < this.triggerLevel ? IIR_CHARACTER_TIMEOUT : IIR_RECEIVED_DATA;
    }
    if (ier & IER_THR_EMPTY && this.thrEmptyPending) return IIR_THR_EMPTY;
    if (ier & IER_MODEM_STATUS && this.msrDeltas) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NONE;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq(level);
  }

  protected readByte(port: number): number {
    switch (port - this.base) {
      case RBR_THR:
        return this.dlab ? this.divisor & 0xff : this.readReceived();
      case IER:
        return this.dlab ? this.divisor >> 8 : this.ier;
      case IIR_FCR:
        return this.readInterruptId();
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return this.readLineStatus();
      case MSR:
        return this.readModemStatus();
      case SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  private readReceived(): number {
    if (this.receiveCount === 0) return 0;
    const byte = this.receiveFifo[this.receiveHead];
    this.receiveHead = (this.receiveHead + 1) % FIFO_SIZE;
    this.receiveCount--;
    this.updateIrq();
    return byte;
  }

  private readInterruptId(): number {
    const id = this.interruptId();
    // Reading IIR is how a driver acknowledges THR empty.
    if (id === IIR_THR_EMPTY) {
      this.thrEmptyPending = false;
      this.updateIrq();
    }
    return id | (this.fifosEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  private readLineStatus(): number {
    const value = (this.receiveCount > 0 ? LSR_DATA_READY : 0) | this.lineErrors | LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
    this.lineErrors = 0;
    this.updateIrq();
    return value;
  }

  private readModemStatus(): number {
    const value = this.modemInputs() | this.msrDeltas;
    this.msrDeltas = 0;
    this.updateIrq();
    return value;
  }

  protected writeByte(port: number, value: number): void {
    switch (port - this.base) {
      case RBR_THR:
        if (this.dlab) this.divisor = (this.divisor & 0xff00) | value;
        else this.transmit(value);
        break;
      case IER:
        if (this.dlab) this.divisor = (this.divisor & 0xff) | (value << 8);
        else this.writeInterruptEnable(value);
        break;
      case IIR_FCR:
        this.writeFifoControl(value);
        break;
      case LCR:
        this.lcr = value;
        break;
      case MCR:
        this.writeModemControl(value);
        break;
      case SCR:
        this.scr = value;
        break;
      default: // LSR and MSR are read-only
        return;
    }
    this.updateIrq();
  }

  private transmit(byte: number): void {
    if (this.loopback) this.receive(byte);
    else this.sink(byte);
    // The byte left at once: THR is empty again, which is an interrupt of its own.
    this.thrEmptyPending = true;
  }

  private writeInterruptEnable(value: number): void {
    // Enabling the THR-empty interrupt while THR is empty (always, here) raises it at once.
    if (value & IER_THR_EMPTY && !(this.ier & IER_THR_EMPTY)) this.thrEmptyPending = true;
    this.ier = value & 0x0f;
  }

  private writeFifoControl(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    // Switching the FIFOs on or off empties them; so does the clear-receive bit.
    if (enable !== this.fifosEnabled || value & FCR_CLEAR_RECEIVE) this.receiveCount = 0;
    this.fifosEnabled = enable;
    this.triggerLevel = TRIGGER_LEVELS[value >> 6];
    // FCR bit 2 clears the transmit FIFO, which is always empty here.
  }

  private writeModemControl(value: number): void {
    const before = this.modemInputs();
    this.mcr = value & 0x1f;
    const after = this.modemInputs();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= 0x01;
    if (changed & MSR_DSR) this.msrDeltas |= 0x02;
    if (before & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TRAILING_EDGE_RI;
    if (changed & MSR_DCD) this.msrDeltas |= 0x08;
    this.msrDeltas &= MSR_DELTAS;
  }
}
