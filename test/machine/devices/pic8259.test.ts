import { describe, expect, it } from 'vitest';
import { PicPair } from '../../../src/machine/devices/pic8259.ts';

/** The BIOS's initialisation: master vectors 0x08-0x0F, slave 0x70-0x77, 8086 mode. */
function initialisedPair(masterBase = 0x08, slaveBase = 0x70, icw4 = 0x01) {
  let requests = 0;
  const pic = new PicPair(() => requests++);
  pic.write(0x20, 1, 0x11);
  pic.write(0x21, 1, masterBase);
  pic.write(0x21, 1, 0x04);
  pic.write(0x21, 1, icw4);
  pic.write(0xa0, 1, 0x11);
  pic.write(0xa1, 1, slaveBase);
  pic.write(0xa1, 1, 0x02);
  pic.write(0xa1, 1, icw4);
  pic.write(0x21, 1, 0x00);
  pic.write(0xa1, 1, 0x00);
  return { pic, requests: () => requests };
}

function pulse(pic: PicPair, irq: number): void {
  pic.setIrq(irq, true);
  pic.setIrq(irq, false);
}

const readIrr = (pic: PicPair, command: number) => (pic.write(command, 1, 0x0a), pic.read(command, 1));
const readIsr = (pic: PicPair, command: number) => (pic.write(command, 1, 0x0b), pic.read(command, 1));

describe('8259A PIC pair', () => {
  it('takes the vector base from ICW2 and reads back the masks written after initialisation', () => {
    const { pic } = initialisedPair(0x20, 0x28);
    pic.write(0x21, 1, 0xfb);
    pic.write(0xa1, 1, 0xff);
    expect(pic.read(0x21, 1)).toBe(0xfb);
    expect(pic.read(0xa1, 1)).toBe(0xff);
    pic.write(0x21, 1, 0x00);
    pulse(pic, 3);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('latches an edge and calls onInterruptRequest', () => {
    const { pic, requests } = initialisedPair();
    expect(pic.hasInterrupt()).toBe(false);
    const before = requests();
    pulse(pic, 0);
    expect(requests()).toBeGreaterThan(before);
    expect(readIrr(pic, 0x20)).toBe(0x01);
    expect(pic.acknowledge()).toBe(0x08);
    expect(readIrr(pic, 0x20)).toBe(0x00);
    expect(readIsr(pic, 0x20)).toBe(0x01);
  });

  it('delivers by priority and holds lower priorities until EOI', () => {
    const { pic } = initialisedPair();
    pulse(pic, 4);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x09); // IRQ 1 before IRQ 4
    expect(pic.hasInterrupt()).toBe(false); // IRQ 4 waits for IRQ 1's EOI
    pulse(pic, 0);
    expect(pic.acknowledge()).toBe(0x08); // a higher priority nests
    expect(readIsr(pic, 0x20)).toBe(0x03);
    pic.write(0x20, 1, 0x20); // non-specific EOI ends IRQ 0 (the highest in service)
    expect(readIsr(pic, 0x20)).toBe(0x02);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write(0x20, 1, 0x61); // specific EOI for IRQ 1
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x0c);
  });

  it('keeps a masked request pending until it is unmasked', () => {
    const { pic, requests } = initialisedPair();
    pic.write(0x21, 1, 0x10);
    pulse(pic, 4);
    expect(pic.hasInterrupt()).toBe(false);
    expect(readIrr(pic, 0x20)).toBe(0x10);
    const before = requests();
    pic.write(0x21, 1, 0x00);
    expect(pic.hasInterrupt()).toBe(true);
    expect(requests()).toBeGreaterThan(before);
    expect(pic.acknowledge()).toBe(0x0c);
  });

  it('delivers IRQ 9 through the master\'s IRQ 2 with the slave\'s vector', () => {
    const { pic } = initialisedPair();
    pulse(pic, 9);
    expect(readIrr(pic, 0x20)).toBe(0x04);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x71);
    expect(readIsr(pic, 0x20)).toBe(0x04);
    expect(readIsr(pic, 0xa0)).toBe(0x02);
    pic.write(0xa0, 1, 0x20);
    pic.write(0x20, 1, 0x20);
    expect(readIsr(pic, 0x20)).toBe(0);
    expect(readIsr(pic, 0xa0)).toBe(0);
  });

  it('ranks slave IRQs between IRQ 1 and IRQ 3', () => {
    const { pic } = initialisedPair();
    pulse(pic, 3);
    pulse(pic, 12);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x09);
    pic.write(0x20, 1, 0x20);
    expect(pic.acknowledge()).toBe(0x74);
    pic.write(0xa0, 1, 0x20);
    pic.write(0x20, 1, 0x20);
    expect(pic.acknowledge()).toBe(0x0b);
  });

  it('masks the whole slave through the master\'s mask bit 2', () => {
    const { pic } = initialisedPair();
    pic.write(0x21, 1, 0x04);
    pulse(pic, 14);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write(0x21, 1, 0x00);
    expect(pic.acknowledge()).toBe(0x76);
  });

  it('answers an acknowledge with nothing pending as spurious IRQ 7, with no ISR bit set', () => {
    const { pic } = initialisedPair();
    pic.write(0x4d0, 1, 0x20); // IRQ 5 level-triggered
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(5, false); // the device withdrew its request before INTA
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.acknowledge()).toBe(0x0f);
    expect(readIsr(pic, 0x20)).toBe(0);
  });

  it('clears the edge latches on ICW1, so a line already high must rise again', () => {
    const { pic } = initialisedPair();
    pic.setIrq(0, true);
    pic.write(0x20, 1, 0x11);
    pic.write(0x21, 1, 0x08);
    pic.write(0x21, 1, 0x04);
    pic.write(0x21, 1, 0x01);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, false);
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x08);
  });

  it('ends interrupts by itself in auto-EOI mode', () => {
    const { pic } = initialisedPair(0x08, 0x70, 0x03);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x09);
    expect(readIsr(pic, 0x20)).toBe(0);
    pulse(pic, 4);
    expect(pic.acknowledge()).toBe(0x0c);
  });

  it('rotates priorities on a rotating EOI', () => {
    const { pic } = initialisedPair();
    pulse(pic, 0);
    expect(pic.acknowledge()).toBe(0x08);
    pic.write(0x20, 1, 0xa0); // rotate on non-specific EOI: IRQ 0 becomes the lowest
    pulse(pic, 0);
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(0x0d);
  });

  it('answers a poll with the highest request and acknowledges it', () => {
    const { pic } = initialisedPair();
    pulse(pic, 6); // the CPU has interrupts disabled and polls instead
    pic.write(0x20, 1, 0x0c);
    expect(pic.read(0x20, 1)).toBe(0x86);
    expect(readIsr(pic, 0x20)).toBe(0x40);
    pic.write(0x20, 1, 0x0c);
    expect(pic.read(0x20, 1)).toBe(0x00);
  });

  it('keeps a level-triggered request while the line stays high', () => {
    const { pic } = initialisedPair();
    pic.write(0x4d1, 1, 0x08); // IRQ 11
    expect(pic.read(0x4d1, 1)).toBe(0x08);
    pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x73);
    pic.write(0xa0, 1, 0x20);
    pic.write(0x20, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(true); // still high: asks again
    pic.setIrq(11, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('routes a device on IRQ 2 to IRQ 9, as the AT bus does', () => {
    const { pic } = initialisedPair();
    pic.irqLine(2)(true);
    expect(pic.acknowledge()).toBe(0x71);
  });
});
