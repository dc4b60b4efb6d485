/**
 * The virtual disk controller the BIOS's INT 13h drives: a 32-bit OUT to port 0x518 hands it
 * the physical address of a request block, and the transfer is done (as DMA) before the OUT
 * returns. The block layout is in docs/firmware-interface.md.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';
import type { PhysicalMemory } from '../../cpu/physical-memory.ts';
import { SECTOR_BYTES, type DiskImage } from '../disk-image.ts';

export const VIRTUAL_DISK_PORT = 0x518;

const READ = 1, WRITE = 2, VERIFY = 3;
/** INT 13h status codes. */
export const DISK_OK = 0, DISK_BAD_COMMAND = 0x01, DISK_SECTOR_NOT_FOUND = 0x04, DISK_NO_DRIVE = 0x80;

export class VirtualDisk implements PortHandler {
  /** Requests served, for statistics. */
  requests = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    /** Disks by BIOS drive number. */
    readonly drives: Map<number, DiskImage>,
  ) {}

  read(): number {
    return 0xff;
  }

  write(_port: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4) return;
    const block = value >>> 0;
    const m = this.memory;
    const drive = m.read8(block);
    const command = m.read8(block + 1);
    const count = m.read(block + 4, 2);
    const lba = (m.read(block + 8, 4) >>> 0) + (m.read(block + 12, 4) >>> 0) * 2 ** 32;
    const buffer = m.read(block + 16, 4) >>> 0;
    m.write8(block + 2, this.transfer(drive, command, lba, count, buffer));
    this.requests++;
  }

  private transfer(drive: number, command: number, lba: number, count: number, buffer: number): number {
    const disk = this.drives.get(drive);
    if (!disk) return DISK_NO_DRIVE;
    if (command !== READ && command !== WRITE && command !== VERIFY) return DISK_BAD_COMMAND;
    if (lba + count > disk.sectors) return DISK_SECTOR_NOT_FOUND;
    if (command === READ) this.memory.dmaWrite(buffer, disk.readSectors(lba, count));
    else if (command === WRITE) disk.writeSectors(lba, this.memory.dump(buffer, count * SECTOR_BYTES));
    return DISK_OK;
  }
}
