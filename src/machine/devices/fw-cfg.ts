/**
 * Firmware configuration items behind ports 0x510 (select) and 0x511 (data), and port 0x512,
 * where the BIOS says why nothing boots: see docs/firmware-interface.md.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';

export const FW_CFG_SELECT = 0x510, FW_CFG_DATA = 0x511, FW_BOOT_FAILURE = 0x512;

/** What the BIOS's numbers at FW_BOOT_FAILURE mean. */
export const BOOT_FAILURES: Record<number, string> = {
  1: 'the machine has no boot drive',
  2: 'the boot drive is not there',
  3: 'the boot sector cannot be read',
  4: 'no 55AA signature in the boot sector',
  5: 'the boot sector gave up (INT 18h)',
};
export const FW_SIGNATURE = 0x0000, FW_VERSION = 0x0001, FW_E820 = 0x0010, FW_BOOT = 0x0011;
export const FW_DRIVES = 0x0012, FW_MEMORY = 0x0013, FW_MULTIBOOT = 0x0015, FW_MP_TABLE = 0x0016;

export class FirmwareConfig implements PortHandler {
  private readonly items = new Map<number, Uint8Array>();
  private selected: Uint8Array = new Uint8Array(0);
  private position = 0;

  /** @param onBootFailure called with why, when the BIOS says nothing boots */
  constructor(private readonly onBootFailure: (reason: string) => void = () => {}) {
    this.set(FW_SIGNATURE, new TextEncoder().encode('MVFW'));
    this.set(FW_VERSION, u32(1));
  }

  set(item: number, bytes: Uint8Array): void {
    this.items.set(item, bytes);
  }

  read(port: number): number {
    if (port !== FW_CFG_DATA) return 0xff;
    return this.position < this.selected.length ? this.selected[this.position++] : 0;
  }

  write(port: number, _size: 1 | 2 | 4, value: number): void {
    if (port === FW_BOOT_FAILURE) {
      this.onBootFailure(BOOT_FAILURES[value & 0xff] ?? `reason ${value & 0xff}`);
      return;
    }
    if (port !== FW_CFG_SELECT) return;
    this.selected = this.items.get(value & 0xffff) ?? new Uint8Array(0);
    this.position = 0;
  }
}

/** Little-endian encoders for building items. */
export function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}

export class ItemWriter {
  private readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  build(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}
