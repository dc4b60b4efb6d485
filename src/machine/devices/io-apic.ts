/**
 * An I/O APIC (82093AA) at 0xFEC00000: 24 interrupt pins, each with a redirection entry that
 * says which vector goes to which local APICs, how (fixed, lowest priority, NMI, INIT, ExtINT),
 * with which polarity and trigger mode, and whether the pin is masked. Software reaches its
 * registers indirectly: the index in IOREGSEL (offset 00h), the data through IOWIN (10h).
 * Level-triggered pins send once and wait for the EOI of their vector (Remote IRR).
 */
import type { MmioHandler } from '../../cpu/physical-memory.ts';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
/** Version 11h, maximum redirection entry 23. */
const IOAPIC_VERSION = 0x11 | ((IOAPIC_PINS - 1) << 16);

const IOREGSEL = 0x00, IOWIN = 0x10;
const REG_ID = 0, REG_VERSION = 1, REG_ARBITRATION = 2, REG_REDIRECTION = 0x10;

const ENTRY_DELIVERY_STATUS = 1 << 12, ENTRY_ACTIVE_LOW = 1 << 13, ENTRY_REMOTE_IRR = 1 << 14, ENTRY_LEVEL = 1 << 15, ENTRY_MASKED = 1 << 16;
/** The bits software writes: vector, delivery mode, destination mode, polarity, trigger mode, mask. */
const ENTRY_WRITABLE = 0x1afff;

/** Where an IOAPIC sends its interrupt messages: the APIC bus. */
export interface InterruptMessageSink {
  /** Delivers `vector` as `entryLow` describes (delivery and destination mode, trigger) to `destination`. */
  deliver(entryLow: number, destination: number): void;
}

export class IoApic implements MmioHandler {
  id: number;
  private select = 0;
  private readonly low = new Int32Array(IOAPIC_PINS).fill(ENTRY_MASKED);
  private readonly high = new Int32Array(IOAPIC_PINS);
  /** The pins' input levels, as the devices hold them (before polarity). */
  private readonly levels = new Uint8Array(IOAPIC_PINS);

  constructor(
    id: number,
    private readonly sink: InterruptMessageSink,
  ) {
    this.id = id;
  }

  /** Whether `pin` can deliver at all (for a halted CPU: can a device on it wake it?). */
  isUnmasked(pin: number): boolean {
    return (this.low[pin] & ENTRY_MASKED) === 0;
  }

  /** A device drives `pin` to `level`. */
  setInput(pin: number, level: boolean): void {
    const was = this.levels[pin] !== 0;
    this.levels[pin] = level ? 1 : 0;
    const entry = this.low[pin];
    if (entry & ENTRY_LEVEL) this.deliverLevel(pin);
    else if (this.asserted(pin) && (was !== level)) this.send(pin); // an edge: the transition to the active level
  }

  /** The pin is at its active level (polarity applied). */
  private asserted(pin: number): boolean {
    const high = this.levels[pin] !== 0;
    return this.low[pin] & ENTRY_ACTIVE_LOW ? !high : high;
  }

  /** A level-triggered pin sends while asserted, once until its EOI (Remote IRR). */
  private deliverLevel(pin: number): void {
    const entry = this.low[pin];
    if (!this.asserted(pin) || entry & ENTRY_REMOTE_IRR || entry & ENTRY_MASKED) return;
    this.low[pin] |= ENTRY_REMOTE_IRR;
    this.sink.deliver(this.low[pin], this.high[pin] >>> 24);
  }

  private send(pin: number): void {
    const entry = this.low[pin];
    if (entry & ENTRY_MASKED) return;
    this.sink.deliver(entry, this.high[pin] >>> 24);
  }

  /** A local APIC's EOI of a level-triggered `vector`: its pins may send again. */
  endOfInterrupt(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const entry = this.low[pin];
      if ((entry & 0xff) !== vector || !(entry & ENTRY_REMOTE_IRR)) continue;
      this.low[pin] &= ~ENTRY_REMOTE_IRR;
      this.deliverLevel(pin);
    }
  }

  read(address: number, _size: 1 | 2 | 4): number {
    const offset = address & 0xfff;
    if (offset === IOREGSEL) return this.select;
    if (offset !== IOWIN) return 0;
    const r = this.select;
    if (r === REG_ID || r === REG_ARBITRATION) return (this.id & 0xf) << 24;
    if (r === REG_VERSION) return IOAPIC_VERSION;
    const pin = (r - REG_REDIRECTION) >> 1;
    if (r < REG_REDIRECTION || pin >= IOAPIC_PINS) return 0;
    return r & 1 ? this.high[pin] : this.low[pin] & ~ENTRY_DELIVERY_STATUS;
  }

  write(address: number, _size: 1 | 2 | 4, value: number): void {
    const offset = address & 0xfff;
    if (offset === IOREGSEL) {
      this.select = value & 0xff;
      return;
    }
    if (offset !== IOWIN) return;
    const r = this.select;
    if (r === REG_ID) {
      this.id = (value >>> 24) & 0xf;
      return;
    }
    const pin = (r - REG_REDIRECTION) >> 1;
    if (r < REG_REDIRECTION || pin >= IOAPIC_PINS) return;
    if (r & 1) {
      this.high[pin] = value & 0xff000000;
      return;
    }
    const wasMasked = (this.low[pin] & ENTRY_MASKED) !== 0;
    this.low[pin] = (this.low[pin] & ENTRY_REMOTE_IRR) | (value & ENTRY_WRITABLE);
    if (!(this.low[pin] & ENTRY_LEVEL)) this.low[pin] &= ~ENTRY_REMOTE_IRR;
    // An asserted level-triggered pin that is unmasked sends now (an edge that came while masked is lost).
    if (wasMasked && this.low[pin] & ENTRY_LEVEL) this.deliverLevel(pin);
  }
}
