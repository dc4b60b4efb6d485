/**
 * The Intel 8254 programmable interval timer: three counters at ports 0x40-0x42 and the
 * control word at 0x43, clocked at 1,193,182 Hz of virtual time. Channel 0's OUT drives IRQ 0
 * (every rising edge is a pulse on the line); channel 1 once refreshed DRAM and is counted but
 * unwired; channel 2's gate and OUT are reached through port 0x61 (port61.ts), for the speaker
 * and for the delay loops that calibrate a CPU against it. BCD counting is supported.
 */
import type { IrqLine, TimedDevice } from '../clock.ts';
import { BytePorts } from './byte-ports.ts';
import { ACCESS_LATCH, PitChannel } from './pit-channel.ts';

export const PIT_HZ = 1_193_182;
export const PIT_CHANNEL0 = 0x40, PIT_CONTROL = 0x43;
const NS_PER_SECOND = 1e9;
const READ_BACK = 3;
const READ_BACK_NO_COUNT = 0x20, READ_BACK_NO_STATUS = 0x10;

/** The input-clock tick at virtual time `ns` (the small term absorbs rounding at exact boundaries). */
export function pitTickAt(ns: number): number {
  return Math.floor((ns * PIT_HZ) / NS_PER_SECOND + 1e-6);
}

/** The virtual time at which input-clock tick `tick` has happened. */
export function pitTickNs(tick: number): number {
  return Math.ceil((tick * NS_PER_SECOND) / PIT_HZ);
}

export class Pit8254 extends BytePorts implements TimedDevice {
  /** Channels 0 and 1 have their gates tied high; channel 2's starts low until port 0x61 sets it. */
  readonly channels = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
  /** The tick up to which channel 0's rising edges have been delivered to IRQ 0. */
  private deliveredTick: number;

  /**
   * @param now virtual time in ns
   * @param irq0 the line channel 0's OUT drives
   * @param onReprogram called after a write that may move channel 0's next event, so the
   *   machine can ask nextEventNs() again instead of running to the old deadline
   */
  constructor(
    private readonly now: () => number,
    private readonly irq0: IrqLine,
    private readonly onReprogram: () => void = () => {},
  ) {
    super();
    this.deliveredTick = pitTickAt(now());
  }

  nextEventNs(): number {
    const edge = this.channels[0].nextRisingEdgeAfter(this.deliveredTick);
    return edge === Infinity ? Infinity : pitTickNs(edge);
  }

  advanceTo(nowNs: number): void {
    const tick = pitTickAt(nowNs);
    if (tick <= this.deliveredTick) return;
    // Edges that came closer together than the machine looked are one request to the PIC
    // anyway: its IRR holds one bit per line.
    if (this.channels[0].nextRisingEdgeAfter(this.deliveredTick) <= tick) {
      this.irq0(true);
      this.irq0(false);
    }
    this.deliveredTick = tick;
  }

  /** Channel 2's gate (port 0x61 bit 0). */
  setChannel2Gate(level: boolean): void {
    this.channels[2].setGate(level, pitTickAt(this.now()));
  }

  /** Channel 2's OUT (port 0x61 bit 5). */
  channel2Output(): boolean {
    return this.channels[2].outAt(pitTickAt(this.now()));
  }

  protected readByte(port: number): number {
    const index = port - PIT_CHANNEL0;
    if (index < 0 || index > 2) return 0xff; // the control word is write-only
    return this.channels[index].readByte(pitTickAt(this.now()));
  }

  protected writeByte(port: number, value: number): void {
    const nowNs = this.now();
    // Deliver what the old programming had due before it changes.
    this.advanceTo(nowNs);
    const tick = pitTickAt(nowNs);
    const index = port - PIT_CHANNEL0;
    if (index >= 0 && index <= 2) this.channels[index].writeByte(value, tick);
    else if (port === PIT_CONTROL) this.writeControl(value, tick);
    else return;
    this.onReprogram();
  }

  private writeControl(value: number, tick: number): void {
    const select = value >> 6;
    if (select === READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        if (!(value & READ_BACK_NO_COUNT)) this.channels[i].latchCount(tick);
        if (!(value & READ_BACK_NO_STATUS)) this.channels[i].latchStatus(tick);
      }
      return;
    }
    const access = (value >> 4) & 3;
    const channel = this.channels[select];
    if (access === ACCESS_LATCH) channel.latchCount(tick);
    else channel.program((value >> 1) & 7, access, (value & 1) !== 0);
  }
}
