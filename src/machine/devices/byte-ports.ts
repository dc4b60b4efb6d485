/**
 * ISA devices are 8 bits wide: the chipset turns a 16- or 32-bit IN/OUT into byte cycles on
 * consecutive ports, low byte first. Devices built on this class handle single bytes only.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';

export abstract class BytePorts implements PortHandler {
  protected abstract readByte(port: number): number;
  protected abstract writeByte(port: number, value: number): void;

  read(port: number, size: 1 | 2 | 4): number {
    if (size === 1) return this.readByte(port);
    let value = 0;
    for (let i = 0; i < size; i++) value |= (this.readByte(port + i) & 0xff) << (8 * i);
    return value;
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    if (size === 1) {
      this.writeByte(port, value & 0xff);
      return;
    }
    for (let i = 0; i < size; i++) this.writeByte(port + i, (value >>> (8 * i)) & 0xff);
  }
}
