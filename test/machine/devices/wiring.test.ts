import { describe, expect, it } from 'vitest';
import { KeyboardController } from '../../../src/machine/devices/kbc8042.ts';
import { PicPair } from '../../../src/machine/devices/pic8259.ts';
import { Pit8254 } from '../../../src/machine/devices/pit8254.ts';
import { Uart16550 } from '../../../src/machine/devices/uart16550.ts';

/** The devices wired to the PIC as the machine will wire them, the PIC set up as a BIOS does. */
function pc() {
  const clock = { ns: 0 };
  const pic = new PicPair(() => {});
  for (const [port, value] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01]]) {
    pic.write(port, 1, value);
  }
  const pit = new Pit8254(() => clock.ns, pic.irqLine(0));
  const kbc = new KeyboardController({ irq: pic.irqLine(1), onA20: () => {}, onReset: () => {} });
  const uart = new Uart16550(0x3f8, pic.irqLine(4), () => {});
  return { clock, pic, pit, kbc, uart };
}

describe('devices wired to the PIC', () => {
  it('the timer interrupts 18.2 times a second, each taken and ended by a handler', () => {
    const { clock, pic, pit } = pc();
    pit.write(0x43, 1, 0x36);
    pit.write(0x40, 1, 0);
    pit.write(0x40, 1, 0);
    let ticks = 0;
    for (;;) {
      const next = pit.nextEventNs();
      if (next > 1e9) break;
      clock.ns = next;
      pit.advanceTo(next);
      while (pic.hasInterrupt()) {
        expect(pic.acknowledge()).toBe(0x08);
        ticks++;
        pic.write(0x20, 1, 0x20);
      }
    }
    expect(ticks).toBe(18);
  });

  it('each typed byte interrupts once: the handler reads port 0x60 and sends EOI', () => {
    const { pic, kbc } = pc();
    kbc.typeText('ok');
    const received: number[] = [];
    while (pic.hasInterrupt()) {
      expect(pic.acknowledge()).toBe(0x09);
      received.push(kbc.read(0x60, 1));
      pic.write(0x20, 1, 0x20);
    }
    expect(received).toEqual([0x18, 0x98, 0x25, 0xa5]);
  });

  it('a serial byte received interrupts on IRQ 4 once OUT2 and IER allow it', () => {
    const { pic, uart } = pc();
    uart.write(0x3fc, 1, 0x0b);
    uart.write(0x3f9, 1, 0x01);
    uart.receive(0x41);
    expect(pic.acknowledge()).toBe(0x0c);
    expect(uart.read(0x3fa, 1)).toBe(0x04);
    expect(uart.read(0x3f8, 1)).toBe(0x41);
    pic.write(0x20, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });
});
