/**
 * The primary IDE channel of a PC: the command block at 0x1F0-0x1F7, the control block at
 * 0x3F6, IRQ 14, and up to two ATA drives (master and slave) on one cable. Writes to the task
 * file reach both drives, as on the cable; the drive selected by bit 4 of the device/head
 * register answers reads and takes commands. A selected drive that is not there reads 0 (its
 * status too, which is how drivers find out); a channel with no drive at all floats (0xFF).
 */
import type { PortHandler } from '../../cpu/io-bus.ts';
import type { IrqLine } from '../clock.ts';
import type { DiskImage } from '../disk-image.ts';
import { AtaDrive, STATUS_BSY } from './ata-drive.ts';

export const IDE_PRIMARY_COMMAND = 0x1f0, IDE_PRIMARY_CONTROL = 0x3f6, IDE_PRIMARY_IRQ = 14;

const DATA = 0, ERROR_FEATURES = 1, SECTOR_COUNT = 2, LBA_LOW = 3, LBA_MID = 4, LBA_HIGH = 5, DEVICE = 6, STATUS_COMMAND = 7;
const SELECT_SLAVE = 0x10;
const CONTROL_NIEN = 0x02, CONTROL_SRST = 0x04;

export class IdeChannel implements PortHandler {
  readonly drives: [AtaDrive | null, AtaDrive | null];
  private selected = 0;
  private control = 0;
  private irqLevel = false;

  constructor(
    master: DiskImage | undefined,
    slave: DiskImage | undefined,
    private readonly irq: IrqLine,
    private readonly commandBase = IDE_PRIMARY_COMMAND,
    private readonly controlPort = IDE_PRIMARY_CONTROL,
  ) {
    const interrupt = () => this.updateIrq();
    this.drives = [master ? new AtaDrive(master, interrupt) : null, slave ? new AtaDrive(slave, interrupt) : null];
  }

  private get drive(): AtaDrive | null {
    return this.drives[this.selected];
  }

  read(port: number, size: 1 | 2 | 4): number {
    if (this.drives[0] === null && this.drives[1] === null) return size === 4 ? -1 : (1 << (8 * size)) - 1;
    const drive = this.drive;
    if (port === this.controlPort) return drive ? drive.status : 0; // alternate status: acknowledges nothing
    const register = port - this.commandBase;
    if (register === DATA) return drive ? drive.readData(size) : 0;
    if (drive === null) return 0;
    switch (register) {
      case ERROR_FEATURES: return drive.error;
      case SECTOR_COUNT: return drive.sectorCount;
      case LBA_LOW: return drive.lbaLow;
      case LBA_MID: return drive.lbaMid;
      case LBA_HIGH: return drive.lbaHigh;
      case DEVICE: return drive.select;
      default: // status: reading it acknowledges the drive's interrupt
        drive.interruptPending = false;
        this.updateIrq();
        return drive.status;
    }
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    if (port === this.controlPort) return this.writeControl(value & 0xff);
    const register = port - this.commandBase;
    if (register === DATA) {
      this.drive?.writeData(size, value);
      return;
    }
    const byte = value & 0xff;
    for (const drive of this.drives) {
      if (drive === null) continue;
      switch (register) {
        case ERROR_FEATURES: drive.features = byte; break;
        case SECTOR_COUNT: drive.sectorCount = byte; break;
        case LBA_LOW: drive.lbaLow = byte; break;
        case LBA_MID: drive.lbaMid = byte; break;
        case LBA_HIGH: drive.lbaHigh = byte; break;
        case DEVICE: drive.select = byte; break;
      }
    }
    if (register === DEVICE) {
      this.selected = byte & SELECT_SLAVE ? 1 : 0;
      this.updateIrq(); // the line shows the selected drive's interrupt
    } else if (register === STATUS_COMMAND) {
      this.drive?.command(byte);
      this.updateIrq();
    }
  }

  /** Device control: nIEN gates the interrupt line; SRST held then released resets both drives. */
  private writeControl(value: number): void {
    const released = (this.control & CONTROL_SRST) !== 0 && (value & CONTROL_SRST) === 0;
    this.control = value;
    if (value & CONTROL_SRST) {
      for (const drive of this.drives) if (drive) drive.status = STATUS_BSY; // busy while the reset is held
    } else if (released) {
      for (const drive of this.drives) drive?.reset();
      this.selected = 0;
    }
    this.updateIrq();
  }

  /** INTRQ: the selected drive's pending interrupt, unless nIEN tri-states the line. */
  private updateIrq(): void {
    const level = (this.control & CONTROL_NIEN) === 0 && this.drive?.interruptPending === true;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq(level);
  }
}
