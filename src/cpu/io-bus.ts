/**
 * The port-I/O bus. Devices register handlers for port ranges; the CPU's IN/OUT/INS/OUTS
 * reach them only through here. An unmapped port reads all ones and ignores writes, as on a PC.
 */

export interface PortHandler {
  /** Reads `size` bytes (1, 2 or 4) from `port`. */
  read(port: number, size: 1 | 2 | 4): number;
  write(port: number, size: 1 | 2 | 4, value: number): void;
}

/** One `register` call: which ports, and the name of the device behind them. */
export interface PortRange {
  first: number;
  count: number;
  device: string;
}

/** Thrown by `IoBus.register` when a port of the new range already belongs to another device. */
export class PortConflictError extends Error {
  constructor(
    /** The first port of the new range that is taken. */
    readonly port: number,
    /** The registration that has the port. */
    readonly owner: PortRange,
    /** The registration that was refused. */
    readonly refused: PortRange,
  ) {
    super(`I/O port ${portHex(port)} is already taken by ${owner.device} (${describePorts(owner)}); ${refused.device} cannot have it`);
    this.name = 'PortConflictError';
  }
}

/** A port as 0x03F8. */
export function portHex(port: number): string {
  return '0x' + port.toString(16).toUpperCase().padStart(4, '0');
}

/** "port 0x0092" or "ports 0x03F8-0x03FF". */
export function describePorts(range: { first: number; count: number }): string {
  return range.count === 1 ? `port ${portHex(range.first)}` : `ports ${portHex(range.first)}-${portHex(range.first + range.count - 1)}`;
}

/** A device's name for messages: its class name, when it has one. */
function deviceName(handler: PortHandler): string {
  const name = (handler as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'a device';
}

export class IoBus {
  /** Port → its device. A Map, not an array of 65,536: allocating that cost each start 2 ms. */
  private readonly handlers = new Map<number, PortHandler>();
  /** Every registration, for saying who has a port when two devices want it. */
  private readonly ranges: PortRange[] = [];

  /**
   * Routes ports `first` .. `first + count - 1` to `handler`; `device` names it in messages
   * (default: the handler's class name). Throws PortConflictError, registering nothing, when
   * one of the ports is taken.
   */
  register(first: number, count: number, handler: PortHandler, device = deviceName(handler)): void {
    const range = { first, count, device };
    for (let port = first; port < first + count; port++) {
      const taken = this.handlers.get(port);
      if (taken) {
        throw new PortConflictError(port, this.ownerOf(port) ?? { first: port, count: 1, device: deviceName(taken) }, range);
      }
    }
    for (let port = first; port < first + count; port++) this.handlers.set(port, handler);
    this.ranges.push(range);
  }

  /** The registration that has `port`, if any. */
  ownerOf(port: number): PortRange | undefined {
    return this.ranges.find((r) => port >= r.first && port < r.first + r.count);
  }

  read(port: number, size: 1 | 2 | 4): number {
    const handler = this.handlers.get(port & 0xffff);
    if (size === 1 || this.ownsAll(handler, port, size)) {
      if (handler) return handler.read(port & 0xffff, size);
      return size === 4 ? -1 : (1 << (8 * size)) - 1;
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= (this.read((port + i) & 0xffff, 1) & 0xff) << (8 * i);
    return value;
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    const handler = this.handlers.get(port & 0xffff);
    if (size === 1 || this.ownsAll(handler, port, size)) {
      handler?.write(port & 0xffff, size, value);
      return;
    }
    for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
  }

  /**
   * Whether one handler (or none) answers every port of a wide access. When devices differ
   * across it, the access is split into byte accesses, each to its own port's device, as an
   * ISA bus does: a word written at the last port of one device must not reach past it.
   */
  private ownsAll(handler: PortHandler | undefined, port: number, size: number): boolean {
    for (let i = 1; i < size; i++) if (this.handlers.get((port + i) & 0xffff) !== handler) return false;
    return true;
  }
}
