/**
 * The PC's two 8259A PICs: the master at ports 0x20/0x21 takes IRQs 0-7, the slave at
 * 0xA0/0xA1 takes IRQs 8-15 and drives the master's input 2. So slave IRQs rank between the
 * master's IRQ 1 and IRQ 3. Also the edge/level control registers at 0x4D0/0x4D1 (as on the
 * PIIX chipsets QEMU and most PCs have). The CPU sees the pair as its InterruptController.
 */
import type { InterruptController } from '../../cpu/interrupts.ts';
import type { IrqLine } from '../clock.ts';
import { BytePorts } from './byte-ports.ts';
import { Pic8259Chip } from './pic8259-chip.ts';

export const MASTER_COMMAND = 0x20, MASTER_DATA = 0x21;
export const SLAVE_COMMAND = 0xa0, SLAVE_DATA = 0xa1;
export const ELCR_MASTER = 0x4d0, ELCR_SLAVE = 0x4d1;
const CASCADE = 2;
/** IRQs 0, 1, 2 (timer, keyboard, cascade) and 8, 13 (RTC, FPU) are always edge-triggered. */
const ELCR_MASTER_WRITABLE = 0xf8, ELCR_SLAVE_WRITABLE = 0xde;
/** The IRQ a spurious request reports: the lowest-priority input of the chip. */
const SPURIOUS_INPUT = 7;

export class PicPair extends BytePorts implements InterruptController {
  readonly master = new Pic8259Chip(CASCADE);
  readonly slave = new Pic8259Chip(-1);
  /** The master's INT output, recomputed whenever something changes. */
  private intr = false;

  /**
   * @param onInterruptRequest called whenever INT may have become asserted (wired to
   *   cpu.raiseInterruptLine(), which only makes the CPU look at hasInterrupt()).
   */
  constructor(private readonly onInterruptRequest: () => void) {
    super();
  }

  /** Sets the level of IRQ `irq` (0-15). IRQ 2 is the cascade; as on the AT bus, a device on it arrives as IRQ 9. */
  setIrq(irq: number, level: boolean): void {
    if (irq === CASCADE) irq = 9;
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq - 8, level);
    this.update();
  }

  raiseIrq(irq: number): void {
    this.setIrq(irq, true);
  }

  lowerIrq(irq: number): void {
    this.setIrq(irq, false);
  }

  /** A line a device holds (make it once, when wiring the machine). */
  irqLine(irq: number): IrqLine {
    return (level) => this.setIrq(irq, level);
  }

  hasInterrupt(): boolean {
    return this.intr;
  }

  /** True when a request on `irq` cannot reach the CPU: masked at its chip (or, for the slave's, at the cascade). */
  isMasked(irq: number): boolean {
    if (irq === CASCADE) irq = 9;
    if (irq < 8) return (this.master.imr & (1 << irq)) !== 0;
    return (this.master.imr & (1 << CASCADE)) !== 0 || (this.slave.imr & (1 << (irq - 8))) !== 0;
  }

  acknowledge(): number {
    const input = this.master.pendingInput();
    // Nothing to deliver (the request went away between INT and INTA): the 8259A answers
    // with its lowest-priority vector without setting the ISR, and drivers check the ISR.
    if (input < 0) return this.master.vectorBase + SPURIOUS_INPUT;
    this.master.acknowledge(input);
    let vector: number;
    if (input !== CASCADE) {
      vector = this.master.vectorBase + input;
    } else {
      const slaveInput = this.slave.pendingInput();
      if (slaveInput < 0) {
        // Spurious IRQ 15: the master's ISR bit 2 stays set, and the handler must EOI the master only.
        vector = this.slave.vectorBase + SPURIOUS_INPUT;
      } else {
        this.slave.acknowledge(slaveInput);
        vector = this.slave.vectorBase + slaveInput;
      }
    }
    this.update();
    return vector;
  }

  private update(): void {
    this.master.setCascadeRequest(this.slave.pendingInput() >= 0);
    this.intr = this.master.pendingInput() >= 0;
    if (this.intr) this.onInterruptRequest();
  }

  protected readByte(port: number): number {
    switch (port) {
      case MASTER_COMMAND: return this.readCommand(this.master);
      case MASTER_DATA: return this.master.readData();
      case SLAVE_COMMAND: return this.readCommand(this.slave);
      case SLAVE_DATA: return this.slave.readData();
      case ELCR_MASTER: return this.master.elcr;
      case ELCR_SLAVE: return this.slave.elcr;
      default: return 0xff;
    }
  }

  private readCommand(chip: Pic8259Chip): number {
    const value = chip.readCommand();
    // A poll read acknowledges, which changes what the pair asks of the CPU.
    this.update();
    return value;
  }

  protected writeByte(port: number, value: number): void {
    switch (port) {
      case MASTER_COMMAND: this.master.writeCommand(value); break;
      case MASTER_DATA: this.master.writeData(value); break;
      case SLAVE_COMMAND: this.slave.writeCommand(value); break;
      case SLAVE_DATA: this.slave.writeData(value); break;
      case ELCR_MASTER: this.master.elcr = value & ELCR_MASTER_WRITABLE; break;
      case ELCR_SLAVE: this.slave.elcr = value & ELCR_SLAVE_WRITABLE; break;
      default: return;
    }
    this.update();
  }
}
