/**
 * One ATA hard disk as a PIO device (ATA-3's command set, 28-bit addresses): its task-file
 * registers, its status, the sector buffer the data port drains or fills, and the commands a
 * PC operating system sends (IDENTIFY, READ/WRITE SECTORS and MULTIPLE, VERIFY, SET MULTIPLE
 * MODE, INITIALIZE DEVICE PARAMETERS, and the housekeeping ones it only expects to succeed).
 * Every command completes at once in virtual time: the drive is never seen busy. What the
 * channel (ports, selection, the interrupt line) does around it is in ide-channel.ts.
 */
import { SECTOR_BYTES, type DiskImage } from '../disk-image.ts';

export const STATUS_BSY = 0x80, STATUS_DRDY = 0x40, STATUS_DF = 0x20, STATUS_DSC = 0x10, STATUS_DRQ = 0x08, STATUS_ERR = 0x01;
export const ERROR_ABRT = 0x04, ERROR_IDNF = 0x10;
/** The device/head register's LBA bit, and the bits that are always one on old drives. */
export const SELECT_LBA = 0x40, SELECT_OBSOLETE = 0xa0;

export const CMD_READ_SECTORS = 0x20, CMD_WRITE_SECTORS = 0x30, CMD_READ_VERIFY = 0x40, CMD_SEEK = 0x70;
export const CMD_DIAGNOSTIC = 0x90, CMD_INITIALIZE_PARAMETERS = 0x91;
export const CMD_READ_MULTIPLE = 0xc4, CMD_WRITE_MULTIPLE = 0xc5, CMD_SET_MULTIPLE = 0xc6;
export const CMD_CHECK_POWER = 0xe5, CMD_FLUSH_CACHE = 0xe7, CMD_IDENTIFY = 0xec, CMD_SET_FEATURES = 0xef;

/** The most sectors one DRQ block of READ/WRITE MULTIPLE may hold (IDENTIFY word 47). */
export const MAX_MULTIPLE = 16;
/** 28-bit LBA reaches 2^28 sectors. */
const MAX_LBA28_SECTORS = 2 ** 28;

/** The physical geometry a drive reports: 16 heads and 63 sectors per track, as many cylinders (at most 16,383) as fit. */
export function ataGeometry(sectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  return { cylinders: Math.max(1, Math.min(16383, Math.floor(sectors / (16 * 63)))), heads: 16, sectorsPerTrack: 63 };
}

type Transfer = 'none' | 'identify' | 'read' | 'write';

export class AtaDrive {
  // The task-file registers as the host last wrote them (and as commands leave them).
  features = 0;
  sectorCount = 1;
  lbaLow = 1;
  lbaMid = 0;
  lbaHigh = 0;
  select = SELECT_OBSOLETE;
  status = STATUS_DRDY | STATUS_DSC;
  error = 1; // the power-on diagnostic: no error
  /** The drive has raised an interrupt the host has not acknowledged (by reading status or writing a command). */
  interruptPending = false;

  /** Sectors per DRQ block of READ/WRITE MULTIPLE; 0 until SET MULTIPLE MODE enables it. */
  private multiple = 0;
  /** The CHS translation INITIALIZE DEVICE PARAMETERS set (starts as the physical geometry). */
  private heads: number;
  private sectorsPerTrack: number;
  private readonly buffer = new Uint8Array(MAX_MULTIPLE * SECTOR_BYTES);
  /** The bytes of the current DRQ block: the data port moves buffer[position .. end). */
  private position = 0;
  private end = 0;
  private transfer: Transfer = 'none';
  /** The next sector of the command, and how many are left (this block's included). */
  private nextLba = 0;
  private sectorsLeft = 0;
  private blockSectors = 0;

  constructor(
    readonly disk: DiskImage,
    /** Raises the drive's interrupt (the channel decides whether the line shows it). */
    private readonly interrupt: () => void,
  ) {
    const g = ataGeometry(disk.sectors);
    this.heads = g.heads;
    this.sectorsPerTrack = g.sectorsPerTrack;
  }

  /** Sectors a 28-bit command can reach. */
  private get addressableSectors(): number {
    return Math.min(this.disk.sectors, MAX_LBA28_SECTORS - 1);
  }

  /** A software reset (SRST) or power-on: the signature of an ATA disk in the registers, no transfer. */
  reset(): void {
    this.sectorCount = 1;
    this.lbaLow = 1;
    this.lbaMid = 0;
    this.lbaHigh = 0;
    this.select = SELECT_OBSOLETE;
    this.error = 1;
    this.status = STATUS_DRDY | STATUS_DSC;
    this.interruptPending = false;
    this.multiple = 0;
    this.endTransfer();
  }

  /** Reads the data port: `bytes` (1, 2 or 4) of the DRQ block, little-endian. Outside a transfer: 0. */
  readData(bytes: number): number {
    if (this.transfer === 'none' || this.transfer === 'write') return 0;
    const b = this.buffer, p = this.position;
    const value = bytes === 4 ? b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24) : bytes === 2 ? b[p] | (b[p + 1] << 8) : b[p];
    // The data register is 16 bits wide: a byte access still takes a word.
    this.position += Math.max(bytes, 2);
    if (this.position >= this.end) this.blockDone();
    return value;
  }

  /** Writes the data port (WRITE SECTORS and WRITE MULTIPLE fill the block). */
  writeData(bytes: number, value: number): void {
    if (this.transfer !== 'write') return;
    const b = this.buffer, p = this.position;
    b[p] = value;
    b[p + 1] = value >>> 8;
    if (bytes === 4) {
      b[p + 2] = value >>> 16;
      b[p + 3] = value >>> 24;
    }
    this.position += Math.max(bytes, 2);
    if (this.position >= this.end) this.blockDone();
  }

  /** Runs a command written to the command register. */
  command(code: number): void {
    this.interruptPending = false;
    this.endTransfer();
    this.error = 0;
    switch (code) {
      case CMD_IDENTIFY:
        this.identify(this.buffer);
        this.transfer = 'identify';
        this.startBlock(1);
        this.raise();
        return;
      case CMD_READ_SECTORS:
      case CMD_READ_SECTORS + 1:
        return this.startReadOrWrite('read', 1);
      case CMD_WRITE_SECTORS:
      case CMD_WRITE_SECTORS + 1:
        return this.startReadOrWrite('write', 1);
      case CMD_READ_MULTIPLE:
        return this.multiple === 0 ? this.abort() : this.startReadOrWrite('read', this.multiple);
      case CMD_WRITE_MULTIPLE:
        return this.multiple === 0 ? this.abort() : this.startReadOrWrite('write', this.multiple);
      case CMD_READ_VERIFY:
      case CMD_READ_VERIFY + 1: {
        const range = this.commandRange();
        if (range === null) return this.addressError();
        this.setAddress(range.lba + range.count - 1);
        this.sectorCount = 0;
        return this.complete();
      }
      case CMD_SET_MULTIPLE: {
        const n = this.sectorCount;
        if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) return this.abort();
        this.multiple = n;
        return this.complete();
      }
      case CMD_INITIALIZE_PARAMETERS:
        if (this.sectorCount === 0) return this.abort();
        this.heads = (this.select & 15) + 1;
        this.sectorsPerTrack = this.sectorCount;
        return this.complete();
      case CMD_SEEK: {
        if (this.commandAddress() === null) return this.addressError();
        return this.complete();
      }
      case CMD_DIAGNOSTIC:
        this.reset();
        return this.raise();
      case CMD_CHECK_POWER:
        this.sectorCount = 0xff; // active or idle
        return this.complete();
      case CMD_FLUSH_CACHE: // writes are never cached here
      case CMD_SET_FEATURES: // transfer modes and caching change nothing the host can see here
      case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe6: // standby and idle, immediate or timed; sleep
        return this.complete();
      default:
        // Recalibrate is 1xh; everything else (DMA, 48-bit, packet commands) this drive does not have.
        if ((code & 0xf0) === 0x10) return this.complete();
        return this.abort();
    }
  }

  private startReadOrWrite(kind: 'read' | 'write', perBlock: number): void {
    const range = this.commandRange();
    if (range === null) return this.addressError();
    this.transfer = kind;
    this.nextLba = range.lba;
    this.sectorsLeft = range.count;
    this.blockSectors = perBlock;
    if (kind === 'read') {
      this.loadReadBlock();
      this.raise();
    } else {
      this.startBlock(Math.min(perBlock, this.sectorsLeft)); // the first block is asked for without an interrupt
    }
  }

  /** Fills the buffer with the next block to read and asks for it to be taken. */
  private loadReadBlock(): void {
    const n = Math.min(this.blockSectors, this.sectorsLeft);
    this.buffer.set(this.disk.readSectors(this.nextLba, n));
    this.startBlock(n);
  }

  private startBlock(sectors: number): void {
    this.position = 0;
    this.end = sectors * SECTOR_BYTES;
    this.status = STATUS_DRDY | STATUS_DSC | STATUS_DRQ;
  }

  /** The host moved the whole DRQ block. */
  private blockDone(): void {
    if (this.transfer === 'identify') {
      this.endTransfer();
      this.status = STATUS_DRDY | STATUS_DSC;
      return;
    }
    const n = this.end / SECTOR_BYTES;
    if (this.transfer === 'write') this.disk.writeSectors(this.nextLba, this.buffer.subarray(0, this.end));
    // The registers follow the command: the last sector moved, and the sectors still to go.
    this.setAddress(this.nextLba + n - 1);
    this.nextLba += n;
    this.sectorsLeft -= n;
    this.sectorCount = this.sectorsLeft & 0xff;
    if (this.sectorsLeft === 0) {
      const wrote = this.transfer === 'write';
      this.endTransfer();
      this.status = STATUS_DRDY | STATUS_DSC;
      if (wrote) this.raise(); // a write's last interrupt says the data is on the disk
      return;
    }
    if (this.transfer === 'read') this.loadReadBlock();
    else this.startBlock(Math.min(this.blockSectors, this.sectorsLeft));
    this.raise();
  }

  private endTransfer(): void {
    this.transfer = 'none';
    this.position = this.end = 0;
  }

  /** The command's first sector and count (a count of 0 means 256), or null when it leaves the disk. */
  private commandRange(): { lba: number; count: number } | null {
    const lba = this.commandAddress();
    const count = this.sectorCount === 0 ? 256 : this.sectorCount;
    if (lba === null || lba + count > this.addressableSectors) return null;
    return { lba, count };
  }

  /** The sector the registers address, as LBA or through the CHS translation; null for an impossible CHS address. */
  private commandAddress(): number | null {
    if (this.select & SELECT_LBA) return ((this.select & 15) << 24) | (this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow;
    const cylinder = this.lbaMid | (this.lbaHigh << 8);
    const head = this.select & 15;
    const sector = this.lbaLow;
    if (sector === 0 || sector > this.sectorsPerTrack || head >= this.heads) return null;
    return (cylinder * this.heads + head) * this.sectorsPerTrack + sector - 1;
  }

  /** Leaves `lba` in the address registers, in the form (LBA or CHS) the command used. */
  private setAddress(lba: number): void {
    if (this.select & SELECT_LBA) {
      this.lbaLow = lba & 0xff;
      this.lbaMid = (lba >>> 8) & 0xff;
      this.lbaHigh = (lba >>> 16) & 0xff;
      this.select = (this.select & 0xf0) | ((lba >>> 24) & 15);
      return;
    }
    const sector = (lba % this.sectorsPerTrack) + 1;
    const track = Math.floor(lba / this.sectorsPerTrack);
    const cylinder = Math.floor(track / this.heads);
    this.lbaLow = sector;
    this.lbaMid = cylinder & 0xff;
    this.lbaHigh = (cylinder >>> 8) & 0xff;
    this.select = (this.select & 0xf0) | (track % this.heads);
  }

  private complete(): void {
    this.status = STATUS_DRDY | STATUS_DSC;
    this.raise();
  }

  private abort(): void {
    this.fail(ERROR_ABRT);
  }

  /** The address is not on the disk: ID not found. */
  private addressError(): void {
    this.fail(ERROR_IDNF);
  }

  private fail(error: number): void {
    this.endTransfer();
    this.error = error;
    this.status = STATUS_DRDY | STATUS_DSC | STATUS_ERR;
    this.raise();
  }

  private raise(): void {
    this.interruptPending = true;
    this.interrupt();
  }

  /** The 256 words IDENTIFY DEVICE returns (ATA-3's layout), written into `out`. */
  identify(out: Uint8Array): void {
    const words = new Uint16Array(256);
    const g = ataGeometry(this.disk.sectors);
    const sectors = this.addressableSectors;
    words[0] = 0x0040; // a fixed (not removable) disk
    words[1] = g.cylinders;
    words[3] = g.heads;
    words[6] = g.sectorsPerTrack;
    putString(words, 10, 20, 'MV' + this.disk.sectors.toString(16).toUpperCase().padStart(8, '0'));
    putString(words, 23, 8, '1.0');
    putString(words, 27, 40, 'MINIVISOR HARDDISK');
    words[47] = 0x8000 | MAX_MULTIPLE;
    words[48] = 1; // 32-bit data transfers
    words[49] = 0x0200; // LBA; no DMA
    words[51] = 0x0200; // PIO mode 2 timing
    words[53] = 0x0001; // words 54-58 are valid
    const currentCylinders = Math.min(65535, Math.floor(sectors / (this.heads * this.sectorsPerTrack)));
    words[54] = currentCylinders;
    words[55] = this.heads;
    words[56] = this.sectorsPerTrack;
    const chsCapacity = currentCylinders * this.heads * this.sectorsPerTrack;
    words[57] = chsCapacity & 0xffff;
    words[58] = chsCapacity >>> 16;
    words[59] = this.multiple !== 0 ? 0x0100 | this.multiple : 0;
    words[60] = sectors & 0xffff;
    words[61] = sectors >>> 16;
    words[80] = 0x001e; // ATA-1 to ATA-4
    words[82] = 0x4000; // no optional command sets listed;
    words[83] = 0x4000; //   bit 14 set says these words are valid
    words[84] = 0x4000;
    words[87] = 0x4000;
    for (let i = 0; i < 256; i++) {
      out[i * 2] = words[i] & 0xff;
      out[i * 2 + 1] = words[i] >>> 8;
    }
    // Word 255: the integrity signature A5h and a checksum that makes the 512 bytes sum to zero.
    out[510] = 0xa5;
    let sum = 0;
    for (let i = 0; i < 511; i++) sum += out[i];
    out[511] = -sum & 0xff;
  }
}

/** An ATA string: two characters per word, the first in the high byte, padded with spaces. */
function putString(words: Uint16Array, first: number, length: number, text: string): void {
  const padded = text.padEnd(length, ' ');
  for (let i = 0; i < length / 2; i++) words[first + i] = (padded.charCodeAt(i * 2) << 8) | padded.charCodeAt(i * 2 + 1);
}
