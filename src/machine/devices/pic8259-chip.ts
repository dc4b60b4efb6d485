/**
 * One Intel 8259A programmable interrupt controller: eight request inputs, the request (IRR),
 * in-service (ISR) and mask (IMR) registers, the ICW1-ICW4 initialisation sequence and the
 * OCW1-OCW3 operation commands. The master/slave wiring of a PC is in pic8259.ts.
 */

/** ICW1 is any command-port write with bit 4 set; OCW3 has bit 3 set; OCW2 neither. */
const ICW1 = 0x10, OCW3 = 0x08;
const ICW1_NEED_ICW4 = 0x01, ICW1_SINGLE = 0x02, ICW1_LEVEL_TRIGGERED = 0x08;
const ICW4_AUTO_EOI = 0x02, ICW4_SPECIAL_FULLY_NESTED = 0x10;
const OCW3_POLL = 0x04, OCW3_READ_REGISTER = 0x02, OCW3_READ_ISR = 0x01;
const OCW3_SET_SPECIAL_MASK_MODE = 0x40, OCW3_SPECIAL_MASK = 0x20;

/** Which initialisation word the data port expects next; Ready means OCW1 (the mask). */
const enum InitStep { Ready, Icw2, Icw3, Icw4 }

export class Pic8259Chip {
  /** Interrupt request register: inputs that asked and were not acknowledged yet. */
  irr = 0;
  /** In-service register: acknowledged interrupts whose handler has not sent EOI yet. */
  isr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** Edge/level control (the PIIX ELCR ports 0x4D0/0x4D1): 1 = that input is level-triggered. */
  private elcrBits = 0;
  /** ICW2: vector of input 0 (the low three bits are the input number). */
  vectorBase = 0;
  /** Interrupt inputs' current levels, for edge detection. */
  private levels = 0;
  /** ICW1.LTIM: every input level-triggered. */
  private allLevelTriggered = false;
  /** The input with the lowest priority; the next one (mod 8) has the highest. 7 after initialisation. */
  private lowestPriority = 7;
  private autoEoi = false;
  private rotateOnAutoEoi = false;
  private specialFullyNested = false;
  private specialMask = false;
  private readIsr = false;
  private pollNextRead = false;
  private initStep = InitStep.Ready;
  /** True once software has run the ICW sequence (a vector base is set) and is not in the middle of another. */
  private initializedOnce = false;

  get initialized(): boolean {
    return this.initializedOnce && this.initStep === InitStep.Ready;
  }
  private expectIcw4 = false;
  private single = false;

  /**
   * @param cascadeInput the input a slave's INT output drives (2 on a PC's master), or -1 for a
   *   slave; special fully nested mode ignores that input's in-service bit.
   */
  constructor(private readonly cascadeInput: number) {}

  get elcr(): number {
    return this.elcrBits;
  }

  /** Inputs switched to level-triggered request exactly while their line is high. */
  set elcr(value: number) {
    this.elcrBits = value;
    this.irr = (this.irr & ~value) | (this.levels & value);
  }

  private levelMask(): number {
    return this.allLevelTriggered ? 0xff : this.elcrBits;
  }

  /** An input changes level: an edge-triggered input latches a request on the rising edge. */
  setInput(input: number, level: boolean): void {
    const bit = 1 << input;
    const wasHigh = (this.levels & bit) !== 0;
    if (level) this.levels |= bit;
    else this.levels &= ~bit;
    if (this.levelMask() & bit) {
      // Level-triggered: the request lasts as long as the line is high.
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !wasHigh) {
      this.irr |= bit;
    }
    // A falling edge leaves an edge-triggered request latched: devices here pulse their lines.
  }

  /** The cascade input follows the slave's INT output as a level. */
  setCascadeRequest(requesting: boolean): void {
    const bit = 1 << this.cascadeInput;
    if (requesting) this.irr |= bit;
    else this.irr &= ~bit;
  }

  /** The input with the highest priority among `mask`'s bits, or -1. */
  private highestPriority(mask: number): number {
    for (let i = 1; i <= 8; i++) {
      const input = (this.lowestPriority + i) & 7;
      if (mask & (1 << input)) return input;
    }
    return -1;
  }

  /** The rank of an input: 0 is the highest priority, 7 the lowest. */
  private rank(input: number): number {
    return (input - this.lowestPriority - 1) & 7;
  }

  /** The input this chip would interrupt the CPU for now (its INT output), or -1. */
  pendingInput(): number {
    const requests = this.irr & ~this.imr;
    if (requests === 0) return -1;
    const best = this.highestPriority(requests);
    let inService = this.isr;
    // Special mask mode: a masked level's handler no longer holds back the lower levels.
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: the slave may interrupt again with a higher-priority input.
    if (this.specialFullyNested && this.cascadeInput >= 0) inService &= ~(1 << this.cascadeInput);
    if (inService === 0) return best;
    return this.rank(best) < this.rank(this.highestPriority(inService)) ? best : -1;
  }

  /** The INTA cycle for `input`: the request moves from IRR to ISR (or is done at once in auto-EOI mode). */
  acknowledge(input: number): void {
    const bit = 1 << input;
    if (!(this.levelMask() & bit)) this.irr &= ~bit;
    if (!this.autoEoi) this.isr |= bit;
    else if (this.rotateOnAutoEoi) this.lowestPriority = input;
  }

  writeCommand(value: number): void {
    if (value & ICW1) this.startInitialisation(value);
    else if (value & OCW3) this.operationCommand3(value);
    else this.operationCommand2(value);
  }

  private startInitialisation(icw1: number): void {
    this.expectIcw4 = (icw1 & ICW1_NEED_ICW4) !== 0;
    this.single = (icw1 & ICW1_SINGLE) !== 0;
    this.allLevelTriggered = (icw1 & ICW1_LEVEL_TRIGGERED) !== 0;
    this.initStep = InitStep.Icw2;
    this.imr = 0;
    this.isr = 0;
    // The edge-sense latches are reset: an input already high must go low and high again.
    this.irr = this.levels & this.levelMask();
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.pollNextRead = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
  }

  private operationCommand2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0: // clear rotate in auto-EOI mode
        this.rotateOnAutoEoi = false;
        break;
      case 4: // set rotate in auto-EOI mode
        this.rotateOnAutoEoi = true;
        break;
      case 1: // non-specific EOI: ends the highest-priority interrupt in service
      case 5: { // ... and rotates, so that it becomes the lowest priority
        const input = this.highestPriority(this.isr);
        if (input < 0) break;
        this.isr &= ~(1 << input);
        if (value >> 5 === 5) this.lowestPriority = input;
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case 6: // set priority: `level` becomes the lowest
        this.lowestPriority = level;
        break;
      default: // 2: no operation
        break;
    }
  }

  private operationCommand3(value: number): void {
    if (value & OCW3_POLL) this.pollNextRead = true;
    if (value & OCW3_READ_REGISTER) this.readIsr = (value & OCW3_READ_ISR) !== 0;
    if (value & OCW3_SET_SPECIAL_MASK_MODE) this.specialMask = (value & OCW3_SPECIAL_MASK) !== 0;
  }

  writeData(value: number): void {
    switch (this.initStep) {
      case InitStep.Icw2:
        // 8086 mode takes the vector from bits 7-3; MCS-80 mode's call addresses are not modelled.
        this.vectorBase = value & 0xf8;
        this.initializedOnce = true;
        this.initStep = !this.single ? InitStep.Icw3 : this.expectIcw4 ? InitStep.Icw4 : InitStep.Ready;
        break;
      case InitStep.Icw3:
        // The PC wires the slave to the master's input 2 whatever ICW3 says.
        this.initStep = this.expectIcw4 ? InitStep.Icw4 : InitStep.Ready;
        break;
      case InitStep.Icw4:
        this.autoEoi = (value & ICW4_AUTO_EOI) !== 0;
        this.specialFullyNested = (value & ICW4_SPECIAL_FULLY_NESTED) !== 0;
        this.initStep = InitStep.Ready;
        break;
      default:
        this.imr = value;
    }
  }

  /** A command-port read: the poll word after OCW3 poll, else IRR or ISR as OCW3 chose. */
  readCommand(): number {
    if (this.pollNextRead) {
      this.pollNextRead = false;
      const input = this.pendingInput();
      if (input < 0) return 0;
      this.acknowledge(input);
      return 0x80 | input;
    }
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    return this.imr;
  }
}
