import { describe, expect, it } from 'vitest';
import { KEYBOARD_FIFO_BYTES, KEYBOARD_REPLY_BYTES, KeyboardController } from '../../../src/machine/devices/kbc8042.ts';
import { typeKey } from '../../../src/machine/devices/scancodes.ts';

function keyboard() {
  const events: string[] = [];
  const irq = { level: false, edges: 0 };
  const kbc = new KeyboardController({
    irq: (level) => {
      if (level && !irq.level) irq.edges++;
      irq.level = level;
    },
    onA20: (enabled) => events.push(`a20 ${enabled}`),
    onReset: () => events.push('reset'),
  });
  const out = (port: number, value: number) => kbc.write(port, 1, value);
  const inp = (port: number) => kbc.read(port, 1);
  /** Reads every byte the controller has, as a polling driver does. */
  const drain = () => {
    const bytes: number[] = [];
    while (inp(0x64) & 0x01) bytes.push(inp(0x60));
    return bytes;
  };
  return { kbc, events, irq, out, inp, drain };
}

describe('8042 keyboard controller', () => {
  it('passes its self test with 0x55 and sets the system flag', () => {
    const { out, inp, drain } = keyboard();
    expect(inp(0x64) & 0x04).toBe(0);
    out(0x64, 0xaa);
    expect(inp(0x64) & 0x08).toBe(0x08); // last write was a command
    expect(drain()).toEqual([0x55]);
    expect(inp(0x64) & 0x04).toBe(0x04);
    out(0x64, 0xab);
    expect(drain()).toEqual([0x00]);
  });

  it('reads and writes the command byte', () => {
    const { out, drain } = keyboard();
    out(0x64, 0x20);
    expect(drain()).toEqual([0x45]);
    out(0x64, 0x60);
    out(0x60, 0x44);
    out(0x64, 0x20);
    expect(drain()).toEqual([0x44]);
  });

  it('gates A20 through the output port, and with 0xDD/0xDF', () => {
    const { out, events, drain } = keyboard();
    out(0x64, 0xd1);
    out(0x60, 0xdd);
    expect(events).toEqual(['a20 false']);
    out(0x64, 0xd0);
    expect(drain()[0] & 0x03).toBe(0x01);
    out(0x64, 0xd1);
    out(0x60, 0xdf);
    out(0x64, 0xd0);
    expect(drain()[0] & 0x03).toBe(0x03);
    out(0x64, 0xdd);
    out(0x64, 0xdf);
    expect(events).toEqual(['a20 false', 'a20 true', 'a20 false', 'a20 true']);
  });

  it('resets the CPU with 0xFE and with output port bit 0 clear', () => {
    const { out, events } = keyboard();
    out(0x64, 0xfe);
    expect(events).toEqual(['reset']);
    out(0x64, 0xff); // pulses nothing
    out(0x64, 0xd1);
    out(0x60, 0x02);
    expect(events).toEqual(['reset', 'a20 true', 'reset']);
  });

  it('delivers typed text as set-1 make and break codes, Shift around capitals, one byte per IRQ 1', () => {
    const { kbc, irq, inp } = keyboard();
    kbc.typeText('Hi!\n');
    const bytes: number[] = [];
    while (inp(0x64) & 0x01) bytes.push(inp(0x60));
    expect(bytes).toEqual([
      0x2a, 0x23, 0xa3, 0xaa, // Shift, h, h up, Shift up
      0x17, 0x97, // i
      0x2a, 0x02, 0x82, 0xaa, // Shift, 1
      0x1c, 0x9c, // Enter
    ]);
    expect(irq.edges).toBe(bytes.length); // each byte loaded into the buffer is an edge on IRQ 1
    expect(irq.level).toBe(false);
  });

  it('types named keys: arrows with the 0xE0 prefix, Backspace, Tab, Escape, and Ctrl letters', () => {
    const { kbc, drain } = keyboard();
    expect(kbc.pressKey('Up')).toBe(true);
    kbc.pressKey('Backspace');
    kbc.pressKey('Tab');
    kbc.pressKey('Escape');
    kbc.pressKey('\x03'); // Ctrl-C
    expect(kbc.pressKey('é')).toBe(false);
    expect(drain()).toEqual([0xe0, 0x48, 0xe0, 0xc8, 0x0e, 0x8e, 0x0f, 0x8f, 0x01, 0x81, 0x1d, 0x2e, 0xae, 0x9d]);
  });

  it('covers the US layout: every printable ASCII character has a key', () => {
    const { kbc } = keyboard();
    let printable = '';
    for (let c = 0x20; c < 0x7f; c++) printable += String.fromCharCode(c);
    expect(kbc.typeText(printable)).toBe(0);
  });

  it('raises IRQ 1 only when the command byte enables it', () => {
    const { kbc, irq, out, inp } = keyboard();
    out(0x64, 0x60);
    out(0x60, 0x44); // keyboard interrupt off
    kbc.pressKey('a');
    expect(irq.edges).toBe(0);
    expect(inp(0x64) & 0x01).toBe(1);
    out(0x64, 0x60);
    out(0x60, 0x45);
    expect(irq.level).toBe(true);
    expect(inp(0x60)).toBe(0x1e);
  });

  it('holds keys while the keyboard is disabled with 0xAD', () => {
    const { kbc, out, inp, drain } = keyboard();
    out(0x64, 0xad);
    kbc.pressKey('a');
    expect(inp(0x64) & 0x01).toBe(0);
    out(0x64, 0xae);
    expect(drain()).toEqual([0x1e, 0x9e]);
  });

  it('answers keyboard commands: reset, enable, LEDs, identify, echo', () => {
    const { kbc, out, drain } = keyboard();
    kbc.pressKey('x');
    out(0x60, 0xff);
    expect(drain()).toEqual([0x2d, 0xfa, 0xaa]); // the byte already in the buffer, then the reset's replies
    out(0x60, 0xf4);
    expect(drain()).toEqual([0xfa]);
    out(0x60, 0xed);
    out(0x60, 0x04);
    expect(drain()).toEqual([0xfa, 0xfa]);
    expect(kbc.leds).toBe(0x04);
    out(0x60, 0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x41]);
    out(0x60, 0xee);
    expect(drain()).toEqual([0xee]);
  });

  it('puts a command reply ahead of queued keys', () => {
    const { kbc, out, inp } = keyboard();
    kbc.typeText('ab');
    expect(inp(0x60)).toBe(0x1e);
    out(0x64, 0x20); // 'a' up is already in the output buffer; the reply comes before 'b'
    expect(inp(0x60)).toBe(0x9e);
    expect(inp(0x60)).toBe(0x45);
    expect(inp(0x60)).toBe(0x30);
  });

  describe('buffers a guest can fill are as small as the hardware\'s', () => {
    it('controller replies never read take one byte behind the output buffer: the newest replaces the one waiting', () => {
      const { kbc, out, inp, drain } = keyboard();
      for (let i = 0; i < 100_000; i++) out(0x64, 0x20); // read the command byte, never reading port 0x60
      expect(kbc.pendingBytes).toBe(1);
      expect(inp(0x64) & 0x01).toBe(1);
      out(0x64, 0x60);
      out(0x60, 0x44);
      for (let i = 0; i < 1000; i++) out(0x64, 0x20);
      out(0x64, 0xaa); // self test: replaces the command byte still waiting
      expect(kbc.pendingBytes).toBe(1);
      // The first reply, loaded into the output buffer at once, then the newest.
      expect(drain()).toEqual([0x45, 0x55]);
      expect(kbc.idle).toBe(true);
      out(0x64, 0x20);
      expect(drain()).toEqual([0x44]);
    });

    it('keyboard command replies never read stop at the keyboard\'s reply buffer', () => {
      const { kbc, out, drain } = keyboard();
      for (let i = 0; i < 100_000; i++) out(0x60, 0xee); // echo
      expect(kbc.pendingBytes).toBe(KEYBOARD_REPLY_BYTES);
      expect(drain()).toEqual(new Array(1 + KEYBOARD_REPLY_BYTES).fill(0xee)); // the output buffer's, and those that waited
      out(0x60, 0xf2);
      expect(drain()).toEqual([0xfa, 0xab, 0x41]);
    });

    it('replies and keys interleaved without reading stay bounded, and keys typed meanwhile all arrive', () => {
      const { kbc, out, drain } = keyboard();
      kbc.typeText('x');
      for (let i = 0; i < 10_000; i++) {
        out(0x64, 0xd0);
        out(0x60, 0xf4);
      }
      expect(kbc.pendingBytes).toBeLessThanOrEqual(1 + KEYBOARD_REPLY_BYTES + 1);
      const bytes = drain();
      expect(bytes[0]).toBe(0x2d); // 'x', already in the output buffer
      expect(bytes[1] & 0x01).toBe(0x01); // the output port (not in reset), the one controller byte kept
      expect(bytes.slice(2)).toEqual([...new Array(KEYBOARD_REPLY_BYTES).fill(0xfa), 0xad]); // acks, then 'x' up
    });

    it('text typed faster than the guest reads waits outside the 16-byte FIFO and arrives whole, in order', () => {
      const { kbc, inp } = keyboard();
      const text = 'Hello, World! ~|{}()';
      const expected: number[] = [];
      for (const ch of text) typeKey(ch, (b) => expected.push(b));
      expect(expected.length).toBeGreaterThan(3 * KEYBOARD_FIFO_BYTES);
      expect(kbc.typeText(text)).toBe(0);
      const fifo = kbc['keys'];
      const bytes: number[] = [];
      while (inp(0x64) & 0x01) {
        expect(fifo.length).toBeLessThanOrEqual(KEYBOARD_FIFO_BYTES);
        bytes.push(inp(0x60));
      }
      expect(bytes).toEqual(expected);
      expect(kbc.idle).toBe(true);
    });
  });
});
