/**
 * System control port B (0x61) of the AT: bit 0 gates PIT channel 2, bit 1 enables the
 * speaker (stored only: there is no sound), bits 2-3 enable the parity and I/O channel checks
 * (stored); reads add bit 4, the refresh-request toggle that BIOS delay loops count, and
 * bit 5, channel 2's OUT. Bits 6-7 (channel check and parity error) always read 0.
 */
import type { PortHandler } from '../../cpu/io-bus.ts';
import type { Pit8254 } from './pit8254.ts';

const TIMER2_GATE = 0x01, WRITABLE = 0x0f;
const REFRESH_TOGGLE = 0x10, TIMER2_OUT = 0x20;
/** The refresh request toggles every 15.085 µs (PIT channel 1 at count 18 on an AT). */
const REFRESH_PERIOD_NS = 15_085;

export class SystemControlPortB implements PortHandler {
  private value = 0;

  constructor(
    private readonly pit: Pit8254,
    private readonly now: () => number,
  ) {}

  read(_port: number, _size: 1 | 2 | 4): number {
    let value = this.value;
    // From virtual time, so a loop counting toggles waits as long as it meant to.
    if (Math.floor(this.now() / REFRESH_PERIOD_NS) & 1) value |= REFRESH_TOGGLE;
    if (this.pit.channel2Output()) value |= TIMER2_OUT;
    return value;
  }

  write(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.value = value & WRITABLE;
    this.pit.setChannel2Gate((value & TIMER2_GATE) !== 0);
  }
}
