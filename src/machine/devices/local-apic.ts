/**
 * A local APIC (the xAPIC of P6 and Pentium 4 processors) at 0xFEE00000: one per vCPU. It holds
 * the CPU's pending interrupts (IRR), the ones in service (ISR) and their trigger modes (TMR),
 * the task priority, the local vector table (timer, LINT0/1, error), the timer (in virtual time,
 * on a 1 GHz bus clock as QEMU's), and the interrupt command register that sends IPIs over the
 * APIC bus (apic-bus.ts). What reaches the CPU goes through interrupt-pins.ts, which also lets
 * the 8259 PIC through LINT0 when it is programmed as ExtINT (virtual-wire mode).
 */
import type { MmioHandler } from '../../cpu/physical-memory.ts';
import type { TimedDevice } from '../clock.ts';

export const LAPIC_BASE = 0xfee00000;
export const LAPIC_SIZE = 0x1000;
/** Version 14h (an integrated APIC), six LVT entries (max LVT entry 5). */
export const LAPIC_VERSION = 0x00050014;

// Register offsets.
const ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, RRD = 0xc0, LDR = 0xd0, DFR = 0xe0;
const SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280, ICR_LOW = 0x300, ICR_HIGH = 0x310;
const LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370;
const TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;

export const LVT_MASKED = 1 << 16;
const LVT_TIMER_PERIODIC = 1 << 17;
const SVR_ENABLED = 1 << 8;
/** Delivery modes, as LVT entries, the ICR and the IOAPIC's redirection entries number them. */
export const DELIVERY_FIXED = 0, DELIVERY_LOWEST = 1, DELIVERY_SMI = 2, DELIVERY_NMI = 4, DELIVERY_INIT = 5, DELIVERY_STARTUP = 6, DELIVERY_EXTINT = 7;
const ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6, ESR_ILLEGAL_REGISTER = 1 << 7;
/** The LVT entries in register order (timer, thermal, performance, LINT0, LINT1, error), and the bits each keeps. */
const LVT_REGISTERS = [LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR];
const LVT_WRITABLE = [0x300ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff];
/** The APIC bus clock the timer counts: 1 GHz, one tick per virtual nanosecond before the divider. */
const BUS_HZ = 1e9;

/** What a local APIC sends out: IPIs (to the APIC bus) and EOIs of level-triggered vectors (to the IOAPICs). */
export interface ApicBusPort {
  sendIpi(source: LocalApic, icrLow: number, destination: number): void;
  endOfInterrupt(vector: number): void;
}

export class LocalApic implements MmioHandler, TimedDevice {
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private readonly lvt = new Int32Array(6);
  id: number;
  private tpr = 0;
  private ldr = 0;
  private dfr = -1;
  private svr = 0xff;
  /** Errors seen since the last ESR write, and what the last write latched for reading. */
  private pendingErrors = 0;
  private esr = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private timerInitial = 0;
  private timerDivide = 0;
  /** The count loaded at timerStartNs (virtual ns), and when the timer fires next (Infinity: stopped). */
  private timerCountAtStart = 0;
  private timerStartNs = 0;
  private timerDueNs = Infinity;
  /** The bus that carries IPIs and EOIs (set when the machine wires its APICs). */
  bus: ApicBusPort | null = null;

  constructor(
    id: number,
    /** Virtual time now, in ns. */
    private readonly now: () => number,
    /** Called when an interrupt may have become deliverable (wired to the CPU's interrupt line). */
    private readonly onInterrupt: () => void,
    /** Whether the CPU is the bootstrap processor, whose LINT0 starts in virtual-wire mode. */
    readonly bootstrap: boolean,
    /** Called when the timer is reprogrammed: it may fire sooner than the machine planned. */
    private readonly onReprogram: () => void = () => {},
  ) {
    this.id = id;
    this.reset();
  }

  /** Power-on and INIT state: everything masked, nothing pending; the BSP's LINT0 passes the 8259 through (as QEMU's). */
  reset(): void {
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.lvt.fill(LVT_MASKED);
    if (this.bootstrap) this.lvt[3] = DELIVERY_EXTINT << 8;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = -1;
    this.svr = 0xff;
    this.pendingErrors = this.esr = 0;
    this.icrLow = this.icrHigh = 0;
    this.timerInitial = this.timerDivide = 0;
    this.timerDueNs = Infinity;
  }

  /** Whether the timer's interrupt can reach the CPU (enabled, unmasked): can it wake a halted CPU? */
  get timerCanInterrupt(): boolean {
    return this.softwareEnabled && (this.lvt[0] & LVT_MASKED) === 0;
  }

  /** TPR, for lowest-priority arbitration. */
  get taskPriority(): number {
    return this.tpr;
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLED) !== 0;
  }

  /** LINT0 as ExtINT and unmasked: the 8259's INTR reaches the CPU (virtual-wire mode). */
  get passesPic(): boolean {
    const lint0 = this.lvt[3];
    return (lint0 & LVT_MASKED) === 0 && ((lint0 >> 8) & 7) === DELIVERY_EXTINT;
  }

  /** Whether this APIC is a destination of `destination` in logical mode (the flat or cluster model of DFR). */
  matchesLogical(destination: number): boolean {
    const logicalId = this.ldr >>> 24;
    if (((this.dfr >>> 28) & 0xf) === 0xf) return (logicalId & destination) !== 0; // flat
    return (logicalId >>> 4) === (destination >>> 4) && (logicalId & destination & 0xf) !== 0; // cluster
  }

  /** The processor priority: the task priority, or the class of the highest vector in service when that is higher. */
  private get processorPriority(): number {
    const inService = highestBit(this.isr);
    return (this.tpr >> 4) >= (inService >> 4) ? this.tpr & 0xff : inService & 0xf0;
  }

  /** A fixed interrupt arrives (from the IOAPIC, an IPI or the LVT): it waits in IRR until the CPU takes it. */
  accept(vector: number, levelTriggered: boolean): void {
    if (vector < 16) {
      this.error(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    // A software-disabled APIC takes no interrupts (SDM 10.4.7.2: they are not accepted).
    if (!this.softwareEnabled) return;
    setBit(this.irr, vector);
    if (levelTriggered) setBit(this.tmr, vector);
    else clearBit(this.tmr, vector);
    this.onInterrupt();
  }

  /** The vector the CPU would take now, or -1: the highest requested whose class is above the processor priority. */
  pendingVector(): number {
    const vector = highestBit(this.irr);
    if (vector < 0 || (vector & 0xf0) <= (this.processorPriority & 0xf0)) return -1;
    return vector;
  }

  /** The CPU takes the interrupt (INTA): IRR to ISR. A priority raised since says so with the spurious vector. */
  acknowledge(): number {
    const vector = this.pendingVector();
    if (vector < 0) return this.svr & 0xff;
    clearBit(this.irr, vector);
    setBit(this.isr, vector);
    return vector;
  }

  private error(bits: number): void {
    this.pendingErrors |= bits;
    const lvtError = this.lvt[5];
    if ((lvtError & LVT_MASKED) === 0) this.accept(lvtError & 0xff, false);
  }

  read(address: number, size: 1 | 2 | 4): number {
    const offset = address & 0xfff;
    const value = this.readRegister(offset & ~0xf);
    const shift = (offset & 3) * 8;
    return size === 4 ? value : (value >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  write(address: number, size: 1 | 2 | 4, value: number): void {
    // The registers take 32-bit writes at 16-byte boundaries; other writes go to the register's low bits.
    const offset = address & 0xff0;
    this.writeRegister(offset, size === 4 ? value : value & (size === 1 ? 0xff : 0xffff));
  }

  private readRegister(offset: number): number {
    switch (offset) {
      case ID: return this.id << 24;
      case VERSION: return LAPIC_VERSION;
      case TPR: return this.tpr;
      case APR: return 0;
      case PPR: return this.processorPriority;
      case LDR: return this.ldr;
      case DFR: return this.dfr | 0x0fffffff;
      case SVR: return this.svr;
      case ESR: return this.esr;
      case ICR_LOW: return this.icrLow & ~(1 << 12); // delivery status: idle (an IPI is delivered at once)
      case ICR_HIGH: return this.icrHigh;
      case TIMER_INITIAL: return this.timerInitial;
      case TIMER_CURRENT: return this.timerCurrent();
      case TIMER_DIVIDE: return this.timerDivide;
      case EOI: case RRD: return 0;
    }
    if (offset >= ISR && offset < ISR + 0x80) return this.isr[(offset - ISR) >> 4] | 0;
    if (offset >= TMR && offset < TMR + 0x80) return this.tmr[(offset - TMR) >> 4] | 0;
    if (offset >= IRR && offset < IRR + 0x80) return this.irr[(offset - IRR) >> 4] | 0;
    const lvt = LVT_REGISTERS.indexOf(offset);
    if (lvt >= 0) return this.lvt[lvt];
    return 0;
  }

  private writeRegister(offset: number, value: number): void {
    switch (offset) {
      case ID: this.id = value >>> 24; return;
      case TPR: this.tpr = value & 0xff; this.onInterrupt(); return;
      case EOI: this.endOfInterrupt(); return;
      case LDR: this.ldr = value & 0xff000000; return;
      case DFR: this.dfr = value | 0x0fffffff; return;
      case SVR:
        this.svr = value & 0x3ff;
        // Software-disabled: every LVT entry is masked (and stays so until written again).
        if (!this.softwareEnabled) for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_MASKED;
        this.onInterrupt();
        return;
      case ESR:
        this.esr = this.pendingErrors;
        this.pendingErrors = 0;
        return;
      case ICR_HIGH: this.icrHigh = value & 0xff000000; return;
      case ICR_LOW:
        this.icrLow = value & 0x000cdfff;
        this.sendIpi();
        return;
      case TIMER_INITIAL:
        this.timerInitial = value >>> 0;
        this.startTimer();
        return;
      case TIMER_DIVIDE: {
        // A running timer counts on from its current count at the new rate.
        const running = this.timerDueNs !== Infinity;
        const current = this.timerCurrent();
        this.timerDivide = value & 0xb;
        if (running) this.loadCount(current, this.now());
        this.onReprogram();
        return;
      }
      case VERSION: case APR: case PPR: case RRD: case TIMER_CURRENT: return; // read-only
    }
    const lvt = LVT_REGISTERS.indexOf(offset);
    if (lvt >= 0) {
      let entry = value & LVT_WRITABLE[lvt];
      if (!this.softwareEnabled) entry |= LVT_MASKED;
      this.lvt[lvt] = entry;
      if (lvt === 0) this.onReprogram(); // a timer unmasked may wake a halted CPU sooner than planned
      return;
    }
    if (offset >= ISR && offset < IRR + 0x80) return; // ISR, TMR and IRR are read-only
    this.error(ESR_ILLEGAL_REGISTER);
  }

  /** EOI: the highest vector in service is done; a level-triggered one is also done at the IOAPIC. */
  private endOfInterrupt(): void {
    const vector = highestBit(this.isr);
    if (vector < 0) return;
    clearBit(this.isr, vector);
    if (testBit(this.tmr, vector)) {
      clearBit(this.tmr, vector);
      this.bus?.endOfInterrupt(vector);
    }
    this.onInterrupt(); // a lower-priority request may be deliverable now
  }

  private sendIpi(): void {
    const mode = (this.icrLow >> 8) & 7;
    const vector = this.icrLow & 0xff;
    if ((mode === DELIVERY_FIXED || mode === DELIVERY_LOWEST) && vector < 16) {
      this.error(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    this.bus?.sendIpi(this, this.icrLow, this.icrHigh >>> 24);
  }

  // --- The timer --------------------------------------------------------------------------------

  /** Nanoseconds per count: the bus clock divided by 2, 4, ... 128, or 1 (divide configuration 1011b). */
  private get nsPerCount(): number {
    const code = (this.timerDivide & 3) | ((this.timerDivide & 8) >> 1);
    return (code === 7 ? 1 : 2 << code) * (1e9 / BUS_HZ);
  }

  /** Writing the initial count (re)starts the timer from it; 0 stops it. */
  private startTimer(): void {
    this.loadCount(this.timerInitial, this.now());
    this.onReprogram();
  }

  private loadCount(count: number, atNs: number): void {
    this.timerCountAtStart = count;
    this.timerStartNs = atNs;
    this.timerDueNs = count === 0 ? Infinity : atNs + count * this.nsPerCount;
  }

  private timerCurrent(): number {
    if (this.timerDueNs === Infinity) return 0;
    const elapsed = Math.floor((this.now() - this.timerStartNs) / this.nsPerCount);
    return Math.max(0, this.timerCountAtStart - elapsed);
  }

  nextEventNs(): number {
    return this.timerDueNs;
  }

  advanceTo(nowNs: number): void {
    if (this.timerDueNs > nowNs) return;
    const entry = this.lvt[0];
    if ((entry & LVT_MASKED) === 0) this.accept(entry & 0xff, false);
    if (entry & LVT_TIMER_PERIODIC && this.timerInitial > 0) {
      const period = this.timerInitial * this.nsPerCount;
      // Periods missed while nothing looked count as one interrupt (IRR holds one per vector).
      const periods = Math.floor((nowNs - this.timerDueNs) / period) + 1;
      this.loadCount(this.timerInitial, this.timerDueNs + (periods - 1) * period);
    } else {
      this.timerDueNs = Infinity;
    }
  }
}

function setBit(bits: Uint32Array, n: number): void {
  bits[n >> 5] |= 1 << (n & 31);
}

function clearBit(bits: Uint32Array, n: number): void {
  bits[n >> 5] &= ~(1 << (n & 31));
}

function testBit(bits: Uint32Array, n: number): boolean {
  return (bits[n >> 5] & (1 << (n & 31))) !== 0;
}

/** The highest set bit of a 256-bit register, or -1. */
function highestBit(bits: Uint32Array): number {
  for (let i = 7; i >= 0; i--) if (bits[i] !== 0) return i * 32 + 31 - Math.clz32(bits[i]);
  return -1;
}
