/**
 * Virtual time. By default a guest's clock is derived from the instructions it has retired,
 * so that two runs of the same guest see the same timer interrupts at the same instructions
 * and print the same thing. Devices read the time when the guest touches them and tell the
 * machine when their next event is due; the machine runs the CPU up to that point.
 */

/** What devices with timed behaviour (PIT, RTC, UART pacing) implement. */
export interface TimedDevice {
  /** The virtual time (ns) of this device's next event, or Infinity when none is pending. */
  nextEventNs(): number;
  /** Brings the device up to `nowNs`: fires every event due by then (raises IRQs, reloads counters). */
  advanceTo(nowNs: number): void;
}

/** An interrupt request line into the PIC. Edge-triggered devices raise it and lower it again. */
export type IrqLine = (level: boolean) => void;

export class VirtualClock {
  /**
   * @param instructionsPerSecond the speed a guest believes its CPU runs at: the rate that turns
   *   instructions into nanoseconds (100 MIPS: 10 ns per instruction)
   * @param retired reads how many instructions the CPU has retired
   */
  constructor(
    private readonly retired: () => number,
    readonly instructionsPerSecond = 100_000_000,
  ) {}

  /** Now, in virtual nanoseconds since reset. */
  nowNs(): number {
    return (this.retired() * 1e9) / this.instructionsPerSecond;
  }

  /** How many instructions run between now and `ns` (at least 1). */
  instructionsUntil(ns: number): number {
    const now = this.nowNs();
    if (ns <= now) return 1;
    return Math.max(1, Math.ceil(((ns - now) * this.instructionsPerSecond) / 1e9));
  }
}
