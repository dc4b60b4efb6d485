/**
 * Types the user's input into the guest at a typist's pace, one character every
 * KEY_INTERVAL_NS of virtual time, to the PC keyboard and to COM1 (to COM1 alone once the guest
 * takes COM1's input by interrupt: a serial console's kernel would read each key twice). Input that arrives before the
 * guest can take it (during POST, say, with the keyboard's IRQ not yet routed) waits here, as
 * type-ahead waits in a terminal: on a real PC those keys would be lost, and a user who pipes a
 * line into `minivisor run` means the guest to read it. All at once, a pasted line would also
 * overflow the BIOS's 15-key buffer and the UART's 16-byte FIFO.
 */
import type { TimedDevice } from './clock.ts';
import type { KeyboardController } from './devices/kbc8042.ts';
import type { Uart16550 } from './devices/uart16550.ts';

/** 5 ms per character: 200 characters a second, faster than anyone types, slower than a guest reads. */
export const KEY_INTERVAL_NS = 5_000_000;

export class Typist implements TimedDevice {
  private readonly forKeyboard: string[] = [];
  private readonly forSerial: number[] = [];
  private nextNs = 0;

  constructor(
    private readonly keyboard: KeyboardController,
    /** Whether the keyboard's IRQ 1 reaches the CPU (through an initialised 8259, or the IOAPIC). */
    private readonly keyboardInterruptReaches: () => boolean,
    private readonly serial: Uart16550,
    private readonly now: () => number,
  ) {}

  type(text: string): void {
    if (this.pending === 0) this.nextNs = Math.max(this.nextNs, this.now());
    for (const ch of text) this.forKeyboard.push(ch);
    for (const byte of new TextEncoder().encode(text)) this.forSerial.push(byte);
  }

  get pending(): number {
    return this.forKeyboard.length + this.forSerial.length;
  }

  /** The keyboard can take a key: the 8042 is idle and its interrupt reaches the CPU. */
  private keyboardReady(): boolean {
    return this.keyboard.idle && this.keyboardInterruptReaches();
  }

  nextEventNs(): number {
    return this.pending === 0 ? Infinity : this.nextNs;
  }

  advanceTo(nowNs: number): void {
    while (this.pending > 0 && this.nextNs <= nowNs) {
      // A guest that takes COM1's input by interrupt has a serial console (xv6, Linux's ttyS0):
      // it gets the terminal there alone, as QEMU's -serial stdio gives it, not twice over.
      if (this.serial.receivesByInterrupt) this.forKeyboard.length = 0;
      if (this.forKeyboard.length > 0 && this.keyboardReady()) this.keyboard.typeText(this.forKeyboard.shift()!);
      if (this.forSerial.length > 0 && this.serial.receiveRoom() > 0) this.serial.receive(this.forSerial.shift()!);
      this.nextNs += KEY_INTERVAL_NS;
    }
  }
}
