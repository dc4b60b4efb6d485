/**
 * The 8042 keyboard controller of the AT and the keyboard behind it: the data port 0x60, the
 * status register and command port 0x64, the controller's command byte, its output port
 * (A20 gate and CPU reset), and the keyboard's own commands (reset, enable, LEDs, identify).
 * Keys typed by the terminal are queued as scan code set 1 and delivered one byte at a time
 * through the output buffer, raising IRQ 1 when the command byte enables it. Scan codes are
 * always set 1, whether or not the command byte asks for translation. There is no mouse: the
 * auxiliary-port commands only set their bits.
 *
 * Every buffer a guest can fill is as small as the hardware's, so that a guest issuing
 * commands without reading the replies cannot grow the host's memory:
 * - the controller's output buffer (port 0x60) holds one byte;
 * - behind it, one pending byte from the controller itself (a reply to 0x20, 0xAA, 0xD0...).
 *   The 8042 has no queue for these: a reply to a newer command replaces one not yet moved
 *   into the output buffer, as QEMU's i8042 does with its single `cbdata` byte. A driver
 *   that reads each reply (polling the status register) before its next command never sees
 *   the difference. Controller bytes go out before the keyboard's, as in QEMU;
 * - the keyboard's replies to its commands (0xFA, identify...): at most 8 bytes, ahead of
 *   stored keys ("command responses do not disturb stored keystrokes and always have
 *   priority", VirtualBox's PS/2 keyboard notes; QEMU keeps 8 bytes of headroom for them).
 *   Beyond 8 a reply is dropped;
 * - the keyboard's FIFO of scan codes: 16 bytes, as a PS/2 keyboard's (and QEMU's queue).
 * Keys typed by the host wait in a type-ahead outside the keyboard until its FIFO has room for
 * the whole key (a key's bytes are never split or dropped), as type-ahead waits in a terminal:
 * only the host fills it, so it cannot grow at the guest's will, and the FIFO never overruns
 * (a real keyboard would send the set-1 overrun code 0xFF there).
 */
import type { IrqLine } from '../clock.ts';
import { BytePorts } from './byte-ports.ts';
import { ByteQueue } from './byte-queue.ts';
import { typeKey } from './scancodes.ts';

export const KBC_DATA = 0x60, KBC_STATUS_COMMAND = 0x64;

const STATUS_OUTPUT_FULL = 0x01, STATUS_SYSTEM_FLAG = 0x04, STATUS_LAST_WAS_COMMAND = 0x08;
const STATUS_NOT_INHIBITED = 0x10;
const CONFIG_KEYBOARD_IRQ = 0x01, CONFIG_SYSTEM_FLAG = 0x04, CONFIG_KEYBOARD_DISABLED = 0x10;
const CONFIG_AUX_DISABLED = 0x20, CONFIG_TRANSLATE = 0x40;
const OUTPUT_PORT_NOT_RESET = 0x01, OUTPUT_PORT_A20 = 0x02, OUTPUT_PORT_KEYBOARD_FULL = 0x10;

const KEYBOARD_ACK = 0xfa, KEYBOARD_RESEND = 0xfe, KEYBOARD_SELF_TEST_PASSED = 0xaa;
const CONTROLLER_SELF_TEST_PASSED = 0x55;

/** The keyboard's own buffer of scan codes, in bytes. */
export const KEYBOARD_FIFO_BYTES = 16;
/** The keyboard's replies to its commands that can wait behind the output buffer, in bytes. */
export const KEYBOARD_REPLY_BYTES = 8;

export interface KeyboardControllerOptions {
  /** IRQ 1. */
  irq: IrqLine;
  /** The output port's A20 bit changed (0xD1, 0xDD, 0xDF). */
  onA20: (enabled: boolean) => void;
  /** The guest reset the CPU (0xFE, or output port bit 0 written as 0). */
  onReset: () => void;
  /** The A20 gate's real state (port 0x92 moves it too), for reading the output port; without it, the last state this controller set. */
  isA20Enabled?: () => boolean;
}

export class KeyboardController extends BytePorts {
  /** The controller's reply waiting for the output buffer, or -1: one byte, a newer reply replaces it. */
  private controllerReply = -1;
  /** The keyboard's replies to its commands: they go out before its stored keys. */
  private readonly keyboardReplies = new ByteQueue(KEYBOARD_REPLY_BYTES, KEYBOARD_REPLY_BYTES);
  /** The keyboard's FIFO: scan codes of keys pressed. */
  private readonly keys = new ByteQueue(KEYBOARD_FIFO_BYTES, KEYBOARD_FIFO_BYTES);
  /** Keys the host typed that are not yet in the keyboard's FIFO: their bytes, and each key's byte count (only the host fills these). */
  private readonly typeAhead = new ByteQueue(64);
  private readonly typeAheadKeyLengths = new ByteQueue(32);
  private outputByte = 0;
  private outputFull = false;
  private status = STATUS_NOT_INHIBITED;
  /** The controller's command byte (its RAM byte 0): keyboard IRQ on, translation on, as a BIOS leaves it. */
  private config = CONFIG_KEYBOARD_IRQ | CONFIG_SYSTEM_FLAG | CONFIG_TRANSLATE;
  /** The controller command waiting for its data byte at port 0x60, or 0. */
  private pendingControllerCommand = 0;
  /** The keyboard command waiting for its argument byte, or 0. */
  private pendingKeyboardCommand = 0;
  private scanning = true;
  private a20 = true;
  private irqLevel = false;
  /** The keyboard LEDs (0xED): bit 0 Scroll Lock, bit 1 Num Lock, bit 2 Caps Lock. */
  leds = 0;
  private readonly queueTypedByte = (byte: number) => void this.typeAhead.push(byte);

  constructor(private readonly options: KeyboardControllerOptions) {
    super();
  }

  /** Types one key: a character ('a', 'A', '\n') or a name ('Enter', 'Backspace', 'Up', 'F1'). False if there is no such key. */
  pressKey(key: string): boolean {
    const typed = this.typeAheadKey(key);
    this.deliver();
    return typed;
  }

  /** Types each character of `text`; returns how many had no key on the US layout (and were skipped). */
  typeText(text: string): number {
    let skipped = 0;
    for (const character of text) if (!this.typeAheadKey(character)) skipped++;
    this.deliver();
    return skipped;
  }

  private typeAheadKey(key: string): boolean {
    const before = this.typeAhead.length;
    if (!typeKey(key, this.queueTypedByte)) return false;
    this.typeAheadKeyLengths.push(this.typeAhead.length - before);
    return true;
  }

  /** Presses the keys typed ahead, whole, while the keyboard's FIFO has room for them. */
  private pressTypedKeys(): void {
    const lengths = this.typeAheadKeyLengths;
    while (lengths.length > 0 && this.keys.room >= lengths.peek()) {
      for (let n = lengths.shift(); n > 0; n--) this.keys.push(this.typeAhead.shift());
    }
  }

  /** True when a key typed now would reach the guest at once: nothing in or behind the output buffer. */
  get idle(): boolean {
    return !this.outputFull && this.pendingBytes === 0;
  }

  /** Bytes waiting behind the output buffer. */
  get pendingBytes(): number {
    return (this.controllerReply >= 0 ? 1 : 0) + this.keyboardReplies.length + this.keys.length + this.typeAhead.length;
  }

  /** Moves the next byte into the output buffer when it is free, and updates IRQ 1. */
  private deliver(): void {
    this.pressTypedKeys();
    if (!this.outputFull) {
      let byte = this.controllerReply;
      this.controllerReply = -1;
      if (byte < 0) byte = this.keyboardReplies.shift();
      if (byte < 0 && this.scanning && !(this.config & CONFIG_KEYBOARD_DISABLED)) byte = this.keys.shift();
      if (byte >= 0) {
        this.outputByte = byte;
        this.outputFull = true;
      }
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.outputFull && (this.config & CONFIG_KEYBOARD_IRQ) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.options.irq(level);
    }
  }

  /** A byte from the controller itself: it replaces one still waiting (see the top of the file). */
  private reply(byte: number): void {
    this.controllerReply = byte;
  }

  /** A byte from the keyboard in answer to a command: dropped when KEYBOARD_REPLY_BYTES already wait. */
  private keyboardReply(byte: number): void {
    this.keyboardReplies.push(byte);
  }

  private isA20Enabled(): boolean {
    return this.options.isA20Enabled ? this.options.isA20Enabled() : this.a20;
  }

  private setA20(enabled: boolean): void {
    this.a20 = enabled;
    this.options.onA20(enabled);
  }

  protected readByte(port: number): number {
    if (port === KBC_DATA) {
      // Reading an empty buffer returns the last byte again, as the 8042 does.
      const byte = this.outputByte;
      this.outputFull = false;
      // IRQ 1 falls before the next byte raises it again: each byte is an edge the PIC latches.
      this.updateIrq();
      this.deliver();
      return byte;
    }
    if (port === KBC_STATUS_COMMAND) return this.status | (this.outputFull ? STATUS_OUTPUT_FULL : 0);
    return 0xff;
  }

  protected writeByte(port: number, value: number): void {
    if (port === KBC_DATA) {
      this.status &= ~STATUS_LAST_WAS_COMMAND;
      if (this.pendingControllerCommand) this.controllerData(value);
      else this.keyboardByte(value);
    } else if (port === KBC_STATUS_COMMAND) {
      this.status |= STATUS_LAST_WAS_COMMAND;
      this.controllerCommand(value);
    } else {
      return;
    }
    this.deliver();
  }

  private controllerCommand(command: number): void {
    this.pendingControllerCommand = 0;
    if (command === 0x20) {
      this.reply(this.config);
    } else if (command > 0x20 && command < 0x40) {
      this.reply(0); // the rest of the controller's RAM
    } else if ((command >= 0x60 && command < 0x80) || command === 0xd1 || command === 0xd2 || command === 0xd3 || command === 0xd4) {
      this.pendingControllerCommand = command;
    } else if (command >= 0xf0) {
      // Pulse output port lines: a 0 in bit 0 pulses the CPU's reset line.
      if (!(command & 0x01)) this.options.onReset();
    } else {
      this.simpleCommand(command);
    }
  }

  private simpleCommand(command: number): void {
    switch (command) {
      case 0xa7: this.config |= CONFIG_AUX_DISABLED; break;
      case 0xa8: this.config &= ~CONFIG_AUX_DISABLED; break;
      case 0xaa: // controller self test
        this.status |= STATUS_SYSTEM_FLAG;
        this.reply(CONTROLLER_SELF_TEST_PASSED);
        break;
      case 0xab: this.reply(0x00); break; // keyboard interface test: no error
      case 0xad: this.config |= CONFIG_KEYBOARD_DISABLED; break;
      case 0xae: this.config &= ~CONFIG_KEYBOARD_DISABLED; break;
      case 0xc0: this.reply(0x80); break; // input port: keyboard not inhibited
      case 0xd0: this.reply(this.outputPort()); break;
      case 0xdd: this.setA20(false); break;
      case 0xdf: this.setA20(true); break;
      case 0xe0: this.reply(0x00); break; // test inputs
      default: break; // commands for hardware this PC does not have
    }
  }

  private outputPort(): number {
    return OUTPUT_PORT_NOT_RESET | (this.isA20Enabled() ? OUTPUT_PORT_A20 : 0) |
      (this.outputFull ? OUTPUT_PORT_KEYBOARD_FULL : 0);
  }

  private controllerData(value: number): void {
    const command = this.pendingControllerCommand;
    this.pendingControllerCommand = 0;
    if (command === 0x60) {
      this.config = value;
      this.status = (this.status & ~STATUS_SYSTEM_FLAG) | (value & CONFIG_SYSTEM_FLAG ? STATUS_SYSTEM_FLAG : 0);
    } else if (command === 0xd1) {
      this.setA20((value & OUTPUT_PORT_A20) !== 0);
      if (!(value & OUTPUT_PORT_NOT_RESET)) this.options.onReset();
    } else if (command === 0xd2) {
      this.reply(value); // as if the keyboard had sent it
    }
    // 0x61-0x7F write controller RAM nobody reads; 0xD3/0xD4 go to the absent mouse.
  }

  /** A byte for the keyboard itself: a command, or the argument of the last one. */
  private keyboardByte(value: number): void {
    const pending = this.pendingKeyboardCommand;
    if (pending) {
      this.pendingKeyboardCommand = 0;
      if (pending === 0xed) this.leds = value & 0x07;
      this.keyboardReply(KEYBOARD_ACK);
      if (pending === 0xf0 && value === 0) this.keyboardReply(0x02); // scan code set 2, which the controller translates
      return;
    }
    switch (value) {
      case 0xff: // reset: acknowledge, self test, default settings, buffer emptied
        this.keys.clear();
        this.scanning = true;
        this.leds = 0;
        this.keyboardReply(KEYBOARD_ACK);
        this.keyboardReply(KEYBOARD_SELF_TEST_PASSED);
        break;
      case 0xf2: // identify: an MF2 keyboard
        this.keyboardReply(KEYBOARD_ACK);
        this.keyboardReply(0xab);
        this.keyboardReply(this.config & CONFIG_TRANSLATE ? 0x41 : 0x83);
        break;
      case 0xf4:
        this.scanning = true;
        this.keyboardReply(KEYBOARD_ACK);
        break;
      case 0xf5: // disable scanning (and restore defaults)
        this.scanning = false;
        this.keyboardReply(KEYBOARD_ACK);
        break;
      case 0xf6:
        this.keyboardReply(KEYBOARD_ACK);
        break;
      case 0xed: // LEDs, typematic rate, scan code set: an argument follows
      case 0xf3:
      case 0xf0:
        this.pendingKeyboardCommand = value;
        this.keyboardReply(KEYBOARD_ACK);
        break;
      case 0xee: // echo
        this.keyboardReply(0xee);
        break;
      default:
        // 0xF7-0xFD set key types: acknowledged and ignored; anything else is not a command.
        this.keyboardReply(value >= 0xf7 ? KEYBOARD_ACK : KEYBOARD_RESEND);
    }
  }
}
