/**
 * One counter of an Intel 8254 PIT. Counting is not simulated clock by clock: a running
 * counter remembers the input-clock tick `t0` at which it held `start`, and its count and
 * OUT at any later tick are computed from the ticks elapsed. Modes 0, 2 and 3 follow the
 * datasheet to the clock; 1, 4 and 5 are modelled with the same arithmetic.
 */

export const ACCESS_LATCH = 0, ACCESS_LOW = 1, ACCESS_HIGH = 2, ACCESS_LOW_HIGH = 3;

function toBcd(value: number): number {
  return (value % 10) | (Math.floor(value / 10) % 10) << 4 | (Math.floor(value / 100) % 10) << 8 | (Math.floor(value / 1000) % 10) << 12;
}

function fromBcd(value: number): number {
  return (value & 0xf) + ((value >> 4) & 0xf) * 10 + ((value >> 8) & 0xf) * 100 + ((value >> 12) & 0xf) * 1000;
}

export class PitChannel {
  /** Operating mode 0-5 (6 and 7 written are modes 2 and 3). */
  private mode = 0;
  /** The mode bits as the control word wrote them, for the read-back status. */
  private modeField = 0;
  private access = ACCESS_LOW_HIGH;
  private bcd = false;
  /** The count register, 1 .. modulus (a written 0 means the modulus: 65536, or 10000 in BCD). */
  private reload = 0x10000;
  private written = false;
  private gate: boolean;

  // The counting element.
  private running = false;
  /** The tick at which the counting element held `start` (for modes 2 and 3, a period boundary). */
  private t0 = 0;
  private start = 0x10000;
  /** Modes 2 and 3: a count written while counting takes over at `t0`, ending a period of `previousPeriod`. */
  private switchPending = false;
  private previousPeriod = 0x10000;
  /** Count and OUT while not counting (gate low, waiting for a trigger, or no count yet). */
  private frozenCount = 0;
  private frozenOut = false;
  /** Mode 0: OUT went high before the gate paused the count; it stays high until a new count. */
  private terminalReached = false;
  /** The read-back status's null-count bit is set until the count register reaches the counting element. */
  private loadTick = Infinity;

  // The byte-access flip-flops and latches.
  private writeLowNext = true;
  private pendingLowByte = 0;
  private readLowNext = true;
  private countLatched = false;
  private latchedCount = 0;
  private statusLatched = false;
  private latchedStatus = 0;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /**
   * A control word selecting this counter: mode, access and BCD. It resets the counter's
   * control logic (flip-flops and latches), and OUT takes its mode's initial level.
   */
  program(modeField: number, access: number, bcd: boolean): void {
    this.countLatched = false;
    this.statusLatched = false;
    this.modeField = modeField;
    this.mode = modeField > 5 ? modeField - 4 : modeField;
    this.access = access;
    this.bcd = bcd;
    this.writeLowNext = true;
    this.readLowNext = true;
    this.written = false;
    this.running = false;
    this.frozenOut = this.mode !== 0;
    this.loadTick = Infinity;
  }

  writeByte(value: number, tick: number): void {
    let raw: number;
    if (this.access === ACCESS_LOW) raw = value;
    else if (this.access === ACCESS_HIGH) raw = value << 8;
    else if (this.writeLowNext) {
      this.pendingLowByte = value;
      this.writeLowNext = false;
      return;
    } else {
      raw = this.pendingLowByte | (value << 8);
      this.writeLowNext = true;
    }
    if (this.bcd) raw = fromBcd(raw);
    this.loadCount(raw === 0 ? this.modulus : raw, tick);
  }

  /** The count register was written: when the counting element takes it depends on the mode. */
  private loadCount(count: number, tick: number): void {
    this.written = true;
    switch (this.mode) {
      case 0:
      case 4:
        // Loaded on the next clock; counting runs while the gate is high.
        this.reload = count;
        this.terminalReached = false;
        this.loadTick = tick + 1;
        if (this.gate) this.startCounting(tick + 1, count);
        else {
          this.running = false;
          this.frozenCount = count;
          this.frozenOut = this.mode === 4;
        }
        break;
      case 1:
      case 5:
        // Only a gate trigger loads the counter.
        this.reload = count;
        this.loadTick = Infinity;
        break;
      default:
        if (this.running) {
          // A new count takes over at the end of the current period.
          const t0 = tick < this.t0 ? this.t0 : this.t0 + (Math.floor((tick - this.t0) / this.reload) + 1) * this.reload;
          if (tick >= this.t0 || !this.switchPending) this.previousPeriod = this.reload;
          this.switchPending = true;
          this.t0 = t0;
          this.start = count;
          this.loadTick = t0;
        } else {
          this.loadTick = tick + 1;
          if (this.gate) this.startCounting(tick + 1, count);
          else this.frozenCount = count;
        }
        this.reload = count;
    }
  }

  private startCounting(t0: number, start: number): void {
    this.running = true;
    this.t0 = t0;
    this.start = start;
    this.switchPending = false;
  }

  setGate(level: boolean, tick: number): void {
    if (level === this.gate) return;
    this.gate = level;
    if (!this.written) return;
    if (level) {
      switch (this.mode) {
        case 0:
        case 4: // resume where the count paused
          if (!this.running) this.startCounting(tick, this.frozenCount === 0 ? this.modulus : this.frozenCount);
          break;
        default: // modes 1 and 5 trigger, modes 2 and 3 restart with the count register
          this.loadTick = tick + 1;
          this.startCounting(tick + 1, this.reload);
      }
    } else if (this.mode !== 1 && this.mode !== 5 && this.running) {
      this.frozenCount = this.countAt(tick);
      this.frozenOut = this.mode === 2 || this.mode === 3 ? true : this.outAt(tick);
      this.terminalReached = this.mode === 0 && this.frozenOut;
      this.running = false;
    }
  }

  /** The counting element's value at `tick` (binary, 0 .. modulus - 1). */
  countAt(tick: number): number {
    if (!this.running) return this.frozenCount % this.modulus;
    const elapsed = tick - this.t0;
    const m = this.modulus;
    switch (this.mode) {
      case 2:
      case 3: {
        if (elapsed < 0 && !this.switchPending) return this.start % m;
        const period = elapsed < 0 ? this.previousPeriod : this.start;
        const phase = elapsed < 0 ? elapsed + period : elapsed % period;
        if (this.mode === 2) return (period - phase) % m;
        // Mode 3 counts down by two through each half of the period.
        const highTicks = (period + 1) >> 1;
        const halfPhase = phase < highTicks ? phase : phase - highTicks;
        return ((period & ~1) - 2 * halfPhase + m) % m;
      }
      default:
        if (elapsed < 0) return this.start % m;
        return (((this.start - elapsed) % m) + m) % m;
    }
  }

  /** The OUT pin at `tick`. */
  outAt(tick: number): boolean {
    if (!this.running) return this.frozenOut;
    const elapsed = tick - this.t0;
    switch (this.mode) {
      case 0:
        return this.terminalReached || elapsed >= this.start;
      case 1: // low from the trigger until the count expires
        return elapsed >= this.start;
      case 2:
      case 3: {
        if (elapsed < 0 && !this.switchPending) return true;
        const period = elapsed < 0 ? this.previousPeriod : this.start;
        const phase = elapsed < 0 ? elapsed + period : elapsed % period;
        if (this.mode === 2) return period === 1 || phase !== period - 1; // low for the clock at count 1
        return phase < (period + 1) >> 1; // high for the first (longer) half
      }
      default: // 4 and 5: a one-clock low strobe when the count reaches zero
        return elapsed !== this.start;
    }
  }

  /** The first tick after `tick` at which OUT rises, or Infinity. */
  nextRisingEdgeAfter(tick: number): number {
    if (!this.running) return Infinity;
    let edge: number;
    switch (this.mode) {
      case 0:
        if (this.terminalReached) return Infinity;
        edge = this.t0 + this.start;
        break;
      case 1:
        edge = this.t0 + this.start;
        break;
      case 2:
      case 3:
        if (tick < this.t0) return this.switchPending ? this.t0 : this.t0 + this.start;
        return this.t0 + (Math.floor((tick - this.t0) / this.start) + 1) * this.start;
      default:
        edge = this.t0 + this.start + 1;
    }
    return edge > tick ? edge : Infinity;
  }

  /** The counter latch command: the count is frozen for reading until it has been read. */
  latchCount(tick: number): void {
    if (this.countLatched) return;
    this.countLatched = true;
    this.latchedCount = this.countAt(tick);
  }

  /** The read-back command's status latch: OUT, null count, access, mode, BCD. */
  latchStatus(tick: number): void {
    if (this.statusLatched) return;
    this.statusLatched = true;
    this.latchedStatus = (this.outAt(tick) ? 0x80 : 0) | (tick < this.loadTick ? 0x40 : 0) |
      (this.access << 4) | (this.modeField << 1) | (this.bcd ? 1 : 0);
  }

  readByte(tick: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.latchedStatus;
    }
    let count = this.countLatched ? this.latchedCount : this.countAt(tick);
    if (this.bcd) count = toBcd(count);
    if (this.access === ACCESS_LOW) {
      this.countLatched = false;
      return count & 0xff;
    }
    if (this.access === ACCESS_HIGH) {
      this.countLatched = false;
      return (count >> 8) & 0xff;
    }
    if (this.readLowNext) {
      this.readLowNext = false;
      return count & 0xff;
    }
    this.readLowNext = true;
    this.countLatched = false;
    return (count >> 8) & 0xff;
  }
}
