import { describe, expect, it } from 'vitest';
import { Uart16550 } from '../../../src/machine/devices/uart16550.ts';

const BASE = 0x3f8;
const THR = BASE, IER = BASE + 1, IIR = BASE + 2, FCR = BASE + 2, LCR = BASE + 3, MCR = BASE + 4, LSR = BASE + 5, MSR = BASE + 6, SCR = BASE + 7;

function com1() {
  const sent: number[] = [];
  const irq = { level: false, edges: 0 };
  const uart = new Uart16550(BASE, (level) => {
    if (level && !irq.level) irq.edges++;
    irq.level = level;
  }, (byte) => sent.push(byte));
  const out = (port: number, value: number) => uart.write(port, 1, value);
  const inp = (port: number) => uart.read(port, 1);
  return { uart, sent, irq, out, inp };
}

describe('16550 UART', () => {
  it('sends THR bytes to the sink and always reads transmitter empty', () => {
    const { sent, out, inp } = com1();
    out(THR, 0x41);
    out(THR, 0x42);
    expect(sent).toEqual([0x41, 0x42]);
    expect(inp(LSR) & 0x60).toBe(0x60);
  });

  it('reads and writes the divisor latch when DLAB is set, without touching THR or IER', () => {
    const { uart, sent, out, inp } = com1();
    out(IER, 0x05);
    out(LCR, 0x83);
    out(THR, 0x01); // divisor 1: 115200 baud
    out(IER, 0x00);
    expect(inp(THR)).toBe(0x01);
    expect(inp(IER)).toBe(0x00);
    expect(uart.baudRate).toBe(115200);
    out(LCR, 0x03);
    expect(inp(IER)).toBe(0x05);
    expect(sent).toEqual([]);
    out(LCR, 0x80);
    out(THR, 0x0c);
    out(LCR, 0x03);
    expect(uart.baudRate).toBe(9600);
  });

  it('keeps the scratch register', () => {
    const { out, inp } = com1();
    out(SCR, 0x5a);
    expect(inp(SCR)).toBe(0x5a);
  });

  it('loops transmitted bytes back to the receiver, and MCR outputs to the MSR inputs', () => {
    const { sent, out, inp } = com1();
    out(MCR, 0x10); // loopback, all outputs off
    inp(MSR);
    out(THR, 0xae);
    expect(sent).toEqual([]);
    expect(inp(LSR) & 0x01).toBe(0x01);
    expect(inp(THR)).toBe(0xae);
    expect(inp(LSR) & 0x01).toBe(0x00);
    out(MCR, 0x1f); // the test Linux's autoconfig makes: RTS,DTR,OUT1,OUT2 → CTS,DSR,RI,DCD
    expect(inp(MSR) & 0xf0).toBe(0xf0);
    out(MCR, 0x10);
    expect(inp(MSR)).toBe(0x0f); // inputs all low; CTS, DSR, DCD changed and RI fell (trailing edge)
  });

  it('reports the terminal connected when not in loopback', () => {
    const { out, inp } = com1();
    out(MCR, 0x0b);
    expect(inp(MSR)).toBe(0xb0);
  });

  it('buffers 16 bytes with FIFOs enabled, sets overrun on the 17th, clears it when LSR is read', () => {
    const { uart, inp, out } = com1();
    out(FCR, 0x07);
    expect(inp(IIR) & 0xc0).toBe(0xc0);
    for (let i = 0; i < 17; i++) uart.receive(0x30 + i);
    expect(uart.receiveRoom()).toBe(0);
    expect(inp(LSR) & 0x03).toBe(0x03);
    expect(inp(LSR) & 0x02).toBe(0x00);
    const got: number[] = [];
    while (inp(LSR) & 0x01) got.push(inp(THR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x30 + i));
  });

  it('clears the receive FIFO with FCR bit 1', () => {
    const { uart, inp, out } = com1();
    out(FCR, 0x01);
    uart.receive(1);
    uart.receive(2);
    out(FCR, 0x03);
    expect(inp(LSR) & 0x01).toBe(0);
  });

  it('holds one byte without FIFOs: a second overwrites it and sets overrun', () => {
    const { uart, inp } = com1();
    uart.receive(0x61);
    uart.receive(0x62);
    expect(inp(LSR) & 0x03).toBe(0x03);
    expect(inp(THR)).toBe(0x62);
    expect(inp(IIR)).toBe(0x01);
  });

  it('raises the IRQ with OUT2 clear too, as QEMU\'s 16550 does (xv6 enables receive interrupts with MCR = 0)', () => {
    const { uart, irq, out, inp } = com1();
    out(MCR, 0x00);
    out(IER, 0x01);
    uart.receive(0x41);
    expect(irq.level).toBe(true);
    expect(inp(IIR)).toBe(0x04);
    inp(THR);
    expect(irq.level).toBe(false);
  });

  it('raises THR empty when it is enabled and after each byte; reading IIR acknowledges it', () => {
    const { irq, out, inp } = com1();
    out(MCR, 0x0b);
    out(IER, 0x02);
    expect(irq.level).toBe(true);
    expect(inp(IIR)).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(inp(IIR)).toBe(0x01);
    out(THR, 0x41);
    expect(irq.edges).toBe(2);
    expect(inp(IIR)).toBe(0x02);
  });

  it('identifies interrupts in priority order: line status, received data, THR empty, modem status', () => {
    const { uart, out, inp } = com1();
    out(MCR, 0x18); // loopback with OUT2
    out(IER, 0x0f);
    out(MCR, 0x19); // DTR → DSR changes: modem status pending
    uart.receive(1);
    uart.receive(2); // overrun without FIFOs: line status pending
    expect(inp(IIR)).toBe(0x06);
    inp(LSR);
    expect(inp(IIR)).toBe(0x04);
    inp(THR);
    expect(inp(IIR)).toBe(0x02); // enabling ETBEI made THR empty pending; this read acknowledges it
    expect(inp(IIR)).toBe(0x00);
    inp(MSR);
    expect(inp(IIR)).toBe(0x01);
  });

  it('reports data below the FIFO trigger level as a character timeout, at the trigger as received data', () => {
    const { uart, out, inp } = com1();
    out(FCR, 0x81); // FIFOs on, trigger at 8 bytes
    out(IER, 0x01);
    uart.receive(0x41);
    expect(inp(IIR)).toBe(0xcc);
    for (let i = 0; i < 7; i++) uart.receive(0x41);
    expect(inp(IIR)).toBe(0xc4);
  });
});
