/**
 * The MC146818 real-time clock and its 128 bytes of CMOS, at index port 0x70 (bit 7 masks
 * NMI) and data port 0x71. The clock runs on virtual time from a fixed start date (so that two
 * runs print the same dates) or from the host's local time. Time registers read in BCD or
 * binary and 12- or 24-hour form as status register B says. The periodic, update-ended and
 * alarm interrupts set register C's flags and raise IRQ 8 until register C is read. The
 * machine fills in the memory size and equipment bytes, and their checksum, through methods.
 */
import type { IrqLine, TimedDevice } from '../clock.ts';
import { BytePorts } from './byte-ports.ts';
import {
  DAY, HOUR, MINUTE, MONTH, SECOND, WEEKDAY, YEAR, epochSecondsFromFields, fieldsFromEpochSeconds,
} from './civil-date.ts';

export const CMOS_INDEX = 0x70, CMOS_DATA = 0x71;

const REG_SECONDS = 0x00, REG_SECONDS_ALARM = 0x01, REG_MINUTES = 0x02, REG_MINUTES_ALARM = 0x03;
const REG_HOURS = 0x04, REG_HOURS_ALARM = 0x05, REG_WEEKDAY = 0x06, REG_DAY = 0x07;
const REG_MONTH = 0x08, REG_YEAR = 0x09;
const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d;
const REG_EQUIPMENT = 0x14, REG_FLOPPY_TYPES = 0x10;
const REG_BASE_MEMORY = 0x15, REG_EXTENDED_MEMORY = 0x17, REG_EXTENDED_MEMORY_COPY = 0x30;
const REG_MEMORY_ABOVE_16M = 0x34, REG_CENTURY = 0x32;
const CHECKSUM_FIRST = 0x10, CHECKSUM_LAST = 0x2d, REG_CHECKSUM = 0x2e;

const A_UPDATE_IN_PROGRESS = 0x80, A_RATE = 0x0f;
const B_SET = 0x80, B_PERIODIC = 0x40, B_ALARM = 0x20, B_UPDATE_ENDED = 0x10;
const B_BINARY = 0x04, B_24_HOUR = 0x02;
const C_IRQ = 0x80, C_PERIODIC = 0x40, C_ALARM = 0x20, C_UPDATE_ENDED = 0x10;
const D_VALID_RAM_AND_TIME = 0x80;
const HOUR_PM = 0x80;
/** An alarm byte of 0xC0-0xFF matches any value. */
const ALARM_DONT_CARE = 0xc0;

const NS_PER_SECOND = 1e9;
/** UIP is set for the 244 µs before each update. */
const UPDATE_WARNING_NS = 244_000;
/** The default start: 2026-01-01 00:00:00, a Thursday. */
const DEFAULT_START = Date.UTC(2026, 0, 1) / 1000;

function matches(alarm: number, current: number): boolean {
  return alarm >= ALARM_DONT_CARE || alarm === current;
}

export interface CmosRtcOptions {
  /** Where the clock starts at virtual time 0: a date (its UTC fields are the RTC's), or 'host' for the host's local time now. */
  start?: Date | 'host';
  /** IRQ 8 (optional: without it the flags in register C still work for polling). */
  irq?: IrqLine;
  /** Called when register B's interrupt enables or register A's rate change the next event. */
  onReprogram?: () => void;
}

export class CmosRtc extends BytePorts implements TimedDevice {
  /** The CMOS bytes; the time registers 0x00-0x09 and the century are computed from the clock instead. */
  readonly bytes = new Uint8Array(128);
  private index = 0;
  private nmiMasked = false;
  /** RTC seconds since 1970 at virtual time 0, and the phase of its second within the virtual second. */
  private baseSeconds: number;
  private readonly phaseNs: number;
  /** While register B's SET bit stops the clock, the moment it shows. */
  private frozenSeconds = 0;
  /** Flags of register C not read yet, and the virtual time up to which they are accounted for. */
  private flags = 0;
  private flagsCheckedNs: number;
  private irqLevel = false;
  private readonly fields = new Int32Array(7);
  private readonly irq: IrqLine | null;
  private readonly onReprogram: () => void;

  constructor(
    private readonly now: () => number,
    options: CmosRtcOptions = {},
  ) {
    super();
    this.irq = options.irq ?? null;
    this.onReprogram = options.onReprogram ?? (() => {});
    let startMs: number;
    if (options.start === 'host') {
      // PCs keep local time in the RTC: the host's local fields, read as if UTC.
      const d = new Date();
      startMs = Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());
    } else {
      startMs = options.start ? options.start.getTime() : DEFAULT_START * 1000;
    }
    const nowNs = now();
    this.baseSeconds = Math.floor(startMs / 1000);
    this.phaseNs = (startMs - this.baseSeconds * 1000) * 1e6;
    this.baseSeconds -= Math.floor((nowNs + this.phaseNs) / NS_PER_SECOND);
    this.flagsCheckedNs = nowNs;
    this.bytes[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    this.bytes[REG_B] = B_24_HOUR;
    this.setBaseMemory(640 * 1024);
  }

  /** Whether the guest masked NMI through bit 7 of port 0x70. */
  get nmiDisabled(): boolean {
    return this.nmiMasked;
  }

  // ---------------------------------------------------------------- machine configuration

  /** Records the RAM size: base memory (up to 640 KiB), extended memory from 1 to 64 MiB, and the 64 KiB blocks above 16 MiB. */
  setMemorySize(ramBytes: number): void {
    this.setBaseMemory(Math.min(ramBytes, 640 * 1024));
    const extendedKiB = Math.min(0xffff, Math.max(0, Math.floor((ramBytes - 0x100000) / 1024)));
    this.setWord(REG_EXTENDED_MEMORY, extendedKiB);
    this.setWord(REG_EXTENDED_MEMORY_COPY, extendedKiB);
    const above16M = Math.min(0xffff, Math.max(0, Math.floor((ramBytes - 0x1000000) / 0x10000)));
    this.setWord(REG_MEMORY_ABOVE_16M, above16M);
  }

  private setBaseMemory(bytes: number): void {
    this.setWord(REG_BASE_MEMORY, Math.floor(bytes / 1024));
  }

  /** Floppy drives (0-2), all of `type` (4: 3.5" 1.44 MB): the floppy type byte and the equipment byte's bits 0 and 6-7. */
  setFloppyDrives(count: number, type = 4): void {
    this.setByte(REG_FLOPPY_TYPES, count === 0 ? 0 : count === 1 ? type << 4 : (type << 4) | type);
    const equipment = this.bytes[REG_EQUIPMENT] & 0x3e;
    this.setByte(REG_EQUIPMENT, count === 0 ? equipment : equipment | 0x01 | ((count - 1) << 6));
  }

  /** Sets a CMOS byte, keeping the checksum over 0x10-0x2D right (as a BIOS setup program would). */
  setByte(index: number, value: number): void {
    this.bytes[index & 0x7f] = value;
    if (index >= CHECKSUM_FIRST && index <= CHECKSUM_LAST) this.updateChecksum();
  }

  private setWord(index: number, value: number): void {
    this.bytes[index] = value & 0xff;
    this.bytes[index + 1] = value >> 8;
    this.updateChecksum();
  }

  private updateChecksum(): void {
    let sum = 0;
    for (let i = CHECKSUM_FIRST; i <= CHECKSUM_LAST; i++) sum += this.bytes[i];
    this.bytes[REG_CHECKSUM] = (sum >> 8) & 0xff;
    this.bytes[REG_CHECKSUM + 1] = sum & 0xff;
  }

  // ---------------------------------------------------------------- the clock

  private get stopped(): boolean {
    return (this.bytes[REG_B] & B_SET) !== 0;
  }

  private secondsAt(ns: number): number {
    return this.stopped ? this.frozenSeconds : this.baseSeconds + Math.floor((ns + this.phaseNs) / NS_PER_SECOND);
  }

  /** Makes the clock show `seconds` from now on, keeping the phase of its second. */
  private setSeconds(seconds: number, ns: number): void {
    if (this.stopped) this.frozenSeconds = seconds;
    else this.baseSeconds = seconds - Math.floor((ns + this.phaseNs) / NS_PER_SECOND);
  }

  private encode(value: number): number {
    return this.bytes[REG_B] & B_BINARY ? value : ((value / 10) << 4) | (value % 10);
  }

  private decode(value: number): number {
    return this.bytes[REG_B] & B_BINARY ? value : (value >> 4) * 10 + (value & 0x0f);
  }

  private encodeHours(hours: number): number {
    if (this.bytes[REG_B] & B_24_HOUR) return this.encode(hours);
    return this.encode(hours % 12 === 0 ? 12 : hours % 12) | (hours >= 12 ? HOUR_PM : 0);
  }

  private decodeHours(value: number): number {
    if (this.bytes[REG_B] & B_24_HOUR) return this.decode(value);
    return (this.decode(value & ~HOUR_PM) % 12) + (value & HOUR_PM ? 12 : 0);
  }

  /** The time register `index` as the guest reads it now. */
  private readTimeRegister(index: number, seconds: number): number {
    const f = this.fields;
    fieldsFromEpochSeconds(seconds, f);
    switch (index) {
      case REG_SECONDS: return this.encode(f[SECOND]);
      case REG_MINUTES: return this.encode(f[MINUTE]);
      case REG_HOURS: return this.encodeHours(f[HOUR]);
      case REG_WEEKDAY: return this.encode(f[WEEKDAY] + 1); // 1 = Sunday
      case REG_DAY: return this.encode(f[DAY]);
      case REG_MONTH: return this.encode(f[MONTH]);
      case REG_YEAR: return this.encode(f[YEAR] % 100);
      default: return this.encode(Math.floor(f[YEAR] / 100)); // century
    }
  }

  private writeTimeRegister(index: number, value: number, ns: number): void {
    const f = this.fields;
    fieldsFromEpochSeconds(this.secondsAt(ns), f);
    switch (index) {
      case REG_SECONDS: f[SECOND] = this.decode(value); break;
      case REG_MINUTES: f[MINUTE] = this.decode(value); break;
      case REG_HOURS: f[HOUR] = this.decodeHours(value); break;
      case REG_WEEKDAY: return; // follows from the date
      case REG_DAY: f[DAY] = this.decode(value); break;
      case REG_MONTH: f[MONTH] = this.decode(value); break;
      case REG_YEAR: f[YEAR] = f[YEAR] - (f[YEAR] % 100) + this.decode(value); break;
      default: f[YEAR] = this.decode(value) * 100 + (f[YEAR] % 100); // century
    }
    this.setSeconds(epochSecondsFromFields(f), ns);
  }

  // ---------------------------------------------------------------- interrupts (register C)

  /** The periodic interrupt's period in ns, or 0 when register A's rate is 0. */
  private periodicNs(): number {
    let rate = this.bytes[REG_A] & A_RATE;
    if (rate === 0) return 0;
    if (rate < 3) rate += 7; // rates 1 and 2 repeat 8 and 9 (256 and 128 Hz)
    return (2 ** (rate - 1) * NS_PER_SECOND) / 32768;
  }

  nextEventNs(): number {
    const b = this.bytes[REG_B];
    let next = Infinity;
    const period = this.periodicNs();
    if (b & B_PERIODIC && period > 0) next = (Math.floor(this.flagsCheckedNs / period) + 1) * period;
    if (b & (B_UPDATE_ENDED | B_ALARM) && !this.stopped) {
      const secondEnd = (Math.floor((this.flagsCheckedNs + this.phaseNs) / NS_PER_SECOND) + 1) * NS_PER_SECOND - this.phaseNs;
      next = Math.min(next, Math.ceil(secondEnd));
    }
    return next;
  }

  advanceTo(nowNs: number): void {
    const from = this.flagsCheckedNs;
    if (nowNs <= from) return;
    this.flagsCheckedNs = nowNs;
    const period = this.periodicNs();
    if (period > 0 && Math.floor(nowNs / period) > Math.floor(from / period)) this.flags |= C_PERIODIC;
    if (!this.stopped && Math.floor((nowNs + this.phaseNs) / NS_PER_SECOND) > Math.floor((from + this.phaseNs) / NS_PER_SECOND)) {
      this.flags |= C_UPDATE_ENDED;
      if (this.alarmMatches(this.secondsAt(nowNs))) this.flags |= C_ALARM;
    }
    this.updateIrq();
  }

  private alarmMatches(seconds: number): boolean {
    const b = this.bytes;
    return matches(b[REG_SECONDS_ALARM], this.readTimeRegister(REG_SECONDS, seconds)) &&
      matches(b[REG_MINUTES_ALARM], this.readTimeRegister(REG_MINUTES, seconds)) &&
      matches(b[REG_HOURS_ALARM], this.readTimeRegister(REG_HOURS, seconds));
  }

  private updateIrq(): void {
    const enabled = this.flags & this.bytes[REG_B] & (C_PERIODIC | C_ALARM | C_UPDATE_ENDED);
    if (enabled) this.flags |= C_IRQ;
    // IRQ 8 stays high until register C is read: a guest that never reads it gets one interrupt.
    const level = (this.flags & C_IRQ) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq?.(level);
    }
  }

  // ---------------------------------------------------------------- ports

  protected readByte(port: number): number {
    if (port !== CMOS_DATA) return 0xff; // the index port is write-only
    const index = this.index;
    const ns = this.now();
    if (index <= REG_YEAR && index !== REG_SECONDS_ALARM && index !== REG_MINUTES_ALARM && index !== REG_HOURS_ALARM) {
      return this.readTimeRegister(index, this.secondsAt(ns));
    }
    switch (index) {
      case REG_A: {
        const untilUpdate = NS_PER_SECOND - ((ns + this.phaseNs) % NS_PER_SECOND);
        const updating = !this.stopped && untilUpdate <= UPDATE_WARNING_NS;
        return (this.bytes[REG_A] & ~A_UPDATE_IN_PROGRESS) | (updating ? A_UPDATE_IN_PROGRESS : 0);
      }
      case REG_C: {
        this.advanceTo(ns);
        const value = this.flags;
        this.flags = 0;
        this.updateIrq();
        return value;
      }
      case REG_D:
        return D_VALID_RAM_AND_TIME;
      case REG_CENTURY:
        return this.readTimeRegister(REG_CENTURY, this.secondsAt(ns));
      default:
        return this.bytes[index];
    }
  }

  protected writeByte(port: number, value: number): void {
    if (port === CMOS_INDEX) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    if (port !== CMOS_DATA) return;
    const index = this.index;
    const ns = this.now();
    if ((index <= REG_YEAR && index !== REG_SECONDS_ALARM && index !== REG_MINUTES_ALARM && index !== REG_HOURS_ALARM) || index === REG_CENTURY) {
      this.writeTimeRegister(index, value, ns);
      return;
    }
    switch (index) {
      case REG_A:
        this.advanceTo(ns);
        this.bytes[REG_A] = value & ~A_UPDATE_IN_PROGRESS;
        this.onReprogram();
        break;
      case REG_B: {
        this.advanceTo(ns);
        const wasStopped = this.stopped;
        if (!wasStopped && value & B_SET) this.frozenSeconds = this.secondsAt(ns);
        this.bytes[REG_B] = value;
        if (wasStopped && !(value & B_SET)) this.setSeconds(this.frozenSeconds, ns);
        this.updateIrq();
        this.onReprogram();
        break;
      }
      case REG_C:
      case REG_D:
        break; // read-only
      default:
        // A guest's write does not fix the checksum: that is the BIOS's job.
        this.bytes[index] = value;
    }
  }
}
