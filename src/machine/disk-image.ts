/**
 * Disk images and their geometry. Floppy images must be one of the standard sizes (their
 * geometry follows from the size); a hard-disk image gets the geometry BIOSes give a disk of its
 * size (63 sectors per track, and as many heads as keep the cylinders at or below 1024).
 */

export type DiskKind = 'floppy' | 'hard-disk';

export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
  /** CMOS drive type of a floppy (4 for 1.44 MB), 0 for a hard disk. */
  cmosType: number;
}

export const SECTOR_BYTES = 512;

const FLOPPIES: { bytes: number; geometry: Geometry; name: string }[] = [
  { bytes: 368_640, name: '360 KB', geometry: { cylinders: 40, heads: 2, sectorsPerTrack: 9, cmosType: 1 } },
  { bytes: 737_280, name: '720 KB', geometry: { cylinders: 80, heads: 2, sectorsPerTrack: 9, cmosType: 3 } },
  { bytes: 1_228_800, name: '1.2 MB', geometry: { cylinders: 80, heads: 2, sectorsPerTrack: 15, cmosType: 2 } },
  { bytes: 1_474_560, name: '1.44 MB', geometry: { cylinders: 80, heads: 2, sectorsPerTrack: 18, cmosType: 4 } },
  { bytes: 2_949_120, name: '2.88 MB', geometry: { cylinders: 80, heads: 2, sectorsPerTrack: 36, cmosType: 5 } },
];

/** The largest disk INT 13h's 28-bit-sector extensions address here (128 GiB). */
export const MAX_HARD_DISK_BYTES = 2 ** 28 * SECTOR_BYTES;

export class DiskImage {
  readonly sectors: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly kind: DiskKind,
    readonly geometry: Geometry,
    /** Where it came from, for messages. */
    readonly name: string,
  ) {
    this.sectors = Math.floor(bytes.length / SECTOR_BYTES);
  }

  /**
   * An image as a floppy or hard disk. Throws a RangeError saying what is wrong and what would
   * work when the size fits neither.
   */
  static from(bytes: Uint8Array, kind: DiskKind, name: string): DiskImage {
    if (bytes.length === 0) throw new RangeError(`${name} is empty: a disk image holds at least its boot sector (512 bytes)`);
    if (kind === 'floppy') {
      const floppy = FLOPPIES.find((f) => f.bytes === bytes.length);
      if (floppy) return new DiskImage(bytes, kind, floppy.geometry, name);
      const largest = FLOPPIES[FLOPPIES.length - 1];
      if (bytes.length > largest.bytes) {
        throw new RangeError(`${name} is ${bytes.length} bytes, larger than the largest floppy (2.88 MB, ${largest.bytes} bytes); use it as a hard disk (--hda)`);
      }
      // A short image (a boot sector and a few sectors) is padded up to the next floppy size, as QEMU pads it.
      const fit = FLOPPIES.find((f) => f.bytes >= bytes.length)!;
      const padded = new Uint8Array(fit.bytes);
      padded.set(bytes);
      return new DiskImage(padded, kind, fit.geometry, name);
    }
    if (bytes.length > MAX_HARD_DISK_BYTES) throw new RangeError(`${name} is larger than the largest disk minivisor's BIOS addresses (128 GiB)`);
    const sectorsTotal = Math.ceil(bytes.length / SECTOR_BYTES);
    const padded = bytes.length % SECTOR_BYTES === 0 ? bytes : Uint8Array.from({ length: sectorsTotal * SECTOR_BYTES }, (_, i) => bytes[i] ?? 0);
    return new DiskImage(padded, kind, hardDiskGeometry(sectorsTotal), name);
  }

  /**
   * Where writes go besides the image in memory: nowhere (the default: a run's writes are
   * copy-on-write in memory and the file stays as it was, as QEMU's -snapshot), or the image's
   * file when the user asked for it (--persist). Called with the byte offset and the bytes.
   */
  writeThrough: ((byteOffset: number, bytes: Uint8Array) => void) | null = null;

  /** `count` sectors from `lba`, as a view into the image (the caller checks the range). */
  readSectors(lba: number, count: number): Uint8Array {
    return this.bytes.subarray(lba * SECTOR_BYTES, (lba + count) * SECTOR_BYTES);
  }

  /** Writes whole sectors from `lba` (the caller checks the range): to the image, and through to its file with --persist. */
  writeSectors(lba: number, data: Uint8Array): void {
    this.bytes.set(data, lba * SECTOR_BYTES);
    this.writeThrough?.(lba * SECTOR_BYTES, data);
  }

  /** Whether sector 0 ends with the boot signature 55 AA. */
  get bootable(): boolean {
    return this.bytes.length >= 512 && this.bytes[510] === 0x55 && this.bytes[511] === 0xaa;
  }
}

/** CHS geometry for a hard disk of `sectors` sectors: 63 sectors per track, heads 16..255 so that cylinders stay at most 1024. */
export function hardDiskGeometry(sectors: number): Geometry {
  const sectorsPerTrack = 63;
  let heads = 16;
  while (heads < 255 && Math.ceil(sectors / (heads * sectorsPerTrack)) > 1024) heads = Math.min(255, heads * 2);
  const cylinders = Math.max(1, Math.min(1024, Math.floor(sectors / (heads * sectorsPerTrack)) || 1));
  return { cylinders, heads, sectorsPerTrack, cmosType: 0 };
}

/** Which kind an image of this size most likely is: the standard floppy sizes (and anything smaller) are floppies. */
export function guessKind(byteLength: number): DiskKind {
  return byteLength <= 2_949_120 && (byteLength < 368_640 || FLOPPIES.some((f) => f.bytes === byteLength)) ? 'floppy' : 'hard-disk';
}
