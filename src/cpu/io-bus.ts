/**
 * The port-I/O bus. Devices register handlers for port ranges; the CPU's IN/OUT/INS/OUTS
 * reach them only through here. An unmapped port reads all ones and ignores writes, as on a PC.
 */

export interface PortHandler {
  /** Reads `size` bytes (1, 2 or 4) from `port`. */
  read(port: number, size: 1 | 2 | 4): number;
  write(port: number, size: 1 | 2 | 4, value: number): void;
}

export class IoBus {
  private readonly handlers: (PortHandler | undefined)[] = new Array(0x10000);

  /** Routes ports `first` .. `first + count - 1` to `handler`. */
  register(first: number, count: number, handler: PortHandler): void {
    for (let port = first; port < first + count; port++) {
      if (this.handlers[port]) throw new Error(`I/O port ${port.toString(16)}h is already taken`);
      this.handlers[port] = handler;
    }
  }

  read(port: number, size: 1 | 2 | 4): number {
    const handler = this.handlers[port & 0xffff];
    if (handler) return handler.read(port & 0xffff, size);
    return size === 4 ? -1 : (1 << (8 * size)) - 1;
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    this.handlers[port & 0xffff]?.write(port & 0xffff, size, value);
  }
}
