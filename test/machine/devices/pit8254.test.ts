import { describe, expect, it } from 'vitest';
import { PIT_HZ, Pit8254, pitTickNs } from '../../../src/machine/devices/pit8254.ts';
import { SystemControlPortB } from '../../../src/machine/devices/port61.ts';

/** A PIT on a clock the test moves, with IRQ 0's rising edges recorded. */
function timer() {
  const clock = { ns: 0 };
  const edges: number[] = [];
  let level = false;
  const pit = new Pit8254(() => clock.ns, (high) => {
    if (high && !level) edges.push(clock.ns);
    level = high;
  });
  /** Runs the machine's loop: jump from event to event until `ns`. */
  const runUntil = (ns: number) => {
    for (;;) {
      const next = pit.nextEventNs();
      if (next > ns) break;
      clock.ns = next;
      pit.advanceTo(next);
    }
    clock.ns = ns;
    pit.advanceTo(ns);
  };
  return { pit, clock, edges, runUntil };
}

const atTick = (tick: number) => pitTickNs(tick);

function program(pit: Pit8254, channel: number, mode: number, count: number): void {
  pit.write(0x43, 1, (channel << 6) | 0x30 | (mode << 1));
  pit.write(0x40 + channel, 1, count & 0xff);
  pit.write(0x40 + channel, 1, (count >> 8) & 0xff);
}

function readCount(pit: Pit8254, channel: number): number {
  const low = pit.read(0x40 + channel, 1);
  return low | (pit.read(0x40 + channel, 1) << 8);
}

describe('8254 PIT', () => {
  it('mode 3 at divisor 65536 ticks 18.2 times per virtual second', () => {
    const { pit, edges, runUntil } = timer();
    program(pit, 0, 3, 0); // 0 means 65536, the BIOS's setting
    runUntil(1e9);
    expect(edges.length).toBe(18);
    runUntil(10e9);
    expect(edges.length).toBe(182);
    const period = edges[1] - edges[0];
    expect(period / 1e6).toBeCloseTo((65536 / PIT_HZ) * 1e3, 3); // 54.925 ms
  });

  it('mode 2 at divisor 1193 gives 1000 edges per second, each a whole period after the load', () => {
    const { pit, edges, runUntil } = timer();
    program(pit, 0, 2, 1193);
    runUntil(1e9);
    expect(edges.length).toBe(1000);
    // Loaded on the clock after the write, OUT rises each time the count reloads.
    expect(edges[0]).toBe(atTick(1 + 1193));
    expect(edges[1]).toBe(atTick(1 + 2 * 1193));
  });

  it('mode 2 counts down from the divisor to 1 and OUT is low only at count 1', () => {
    const { pit, clock } = timer();
    program(pit, 0, 2, 100);
    clock.ns = atTick(1);
    expect(readCount(pit, 0)).toBe(100);
    clock.ns = atTick(1 + 98);
    expect(readCount(pit, 0)).toBe(2);
    clock.ns = atTick(1 + 99);
    pit.write(0x43, 1, 0xe2);
    expect(pit.read(0x40, 1) & 0x80).toBe(0); // OUT low at count 1
    clock.ns = atTick(1 + 100);
    expect(readCount(pit, 0)).toBe(100);
    pit.write(0x43, 1, 0xe2);
    expect(pit.read(0x40, 1)).toBe(0x80 | 0x30 | (2 << 1));
  });

  it('mode 0 raises IRQ 0 once, the count plus one clocks after the write', () => {
    const { pit, edges, runUntil, clock } = timer();
    clock.ns = 1000;
    program(pit, 0, 0, 500);
    const writtenTick = Math.floor((1000 * PIT_HZ) / 1e9);
    expect(pit.nextEventNs()).toBe(atTick(writtenTick + 1 + 500));
    runUntil(1e9);
    expect(edges).toEqual([atTick(writtenTick + 1 + 500)]);
    expect(pit.nextEventNs()).toBe(Infinity);
  });

  it('latches a running counter: later reads return the latched value until both bytes are read', () => {
    const { pit, clock } = timer();
    program(pit, 0, 2, 10000);
    clock.ns = atTick(1 + 1234);
    pit.write(0x43, 1, 0x00); // latch channel 0
    clock.ns = atTick(1 + 5000);
    expect(readCount(pit, 0)).toBe(10000 - 1234);
    expect(readCount(pit, 0)).toBe(10000 - 5000);
  });

  it('reads back status and count through the read-back command', () => {
    const { pit, clock } = timer();
    pit.write(0x43, 1, 0xb0); // channel 2, lobyte/hibyte, mode 0
    pit.write(0x43, 1, 0xe8); // latch channel 2's status only
    expect(pit.read(0x42, 1)).toBe(0x40 | 0x30); // null count (no count yet), OUT low, lobyte/hibyte, mode 0
    pit.write(0x42, 1, 0x10);
    pit.write(0x42, 1, 0x00);
    clock.ns = atTick(10);
    pit.write(0x43, 1, 0xc8); // latch count and status of channel 2
    expect(pit.read(0x42, 1)).toBe(0x30); // status first: count loaded, gate low so OUT low
    expect(readCount(pit, 2)).toBe(0x10); // gate low: not counting
  });

  it('reads lobyte-only and hibyte-only counters', () => {
    const { pit, clock } = timer();
    pit.write(0x43, 1, 0x14); // channel 0, lobyte, mode 2
    pit.write(0x40, 1, 200);
    clock.ns = atTick(1 + 50);
    expect(pit.read(0x40, 1)).toBe(150);
    pit.write(0x43, 1, 0x24); // hibyte, mode 2: count 0x0300
    pit.write(0x40, 1, 0x03);
    clock.ns = atTick(51 + 1 + 0x100);
    expect(pit.read(0x40, 1)).toBe(0x02);
  });

  it('counts in BCD', () => {
    const { pit, clock } = timer();
    pit.write(0x43, 1, 0x35); // channel 0, lobyte/hibyte, mode 2, BCD
    pit.write(0x40, 1, 0x00);
    pit.write(0x40, 1, 0x10); // 1000
    clock.ns = atTick(1 + 1);
    expect(readCount(pit, 0)).toBe(0x0999);
  });

  it('a new mode 2 count takes over at the end of the current period', () => {
    const { pit, edges, runUntil } = timer();
    program(pit, 0, 2, 1000);
    runUntil(atTick(1 + 500));
    pit.write(0x40, 1, 100);
    pit.write(0x40, 1, 0);
    runUntil(atTick(1 + 1000 + 250));
    expect(edges).toEqual([atTick(1001), atTick(1101), atTick(1201)]);
  });

  it('channel 2: gated by port 0x61 bit 0, its OUT read at bit 5', () => {
    const { pit, clock } = timer();
    const port61 = new SystemControlPortB(pit, () => clock.ns);
    // Linux's TSC calibration: gate on, speaker off, mode 0, poll OUT.
    port61.write(0x61, 1, (port61.read(0x61, 1) & ~0x02) | 0x01);
    pit.write(0x43, 1, 0xb0);
    pit.write(0x42, 1, 0xe8);
    pit.write(0x42, 1, 0x03); // 1000
    expect(port61.read(0x61, 1) & 0x20).toBe(0);
    clock.ns = atTick(1000);
    expect(port61.read(0x61, 1) & 0x20).toBe(0);
    clock.ns = atTick(1001);
    expect(port61.read(0x61, 1) & 0x20).toBe(0x20);
    expect(port61.read(0x61, 1) & 0x0f).toBe(0x01);
  });

  it('channel 2 mode 2 stops with its gate low, OUT high, and restarts with the full count', () => {
    const { pit, clock } = timer();
    const port61 = new SystemControlPortB(pit, () => clock.ns);
    program(pit, 2, 2, 100);
    clock.ns = atTick(50);
    expect(readCount(pit, 2)).toBe(100); // gate low: not counting
    port61.write(0x61, 1, 0x01);
    clock.ns = atTick(50 + 1 + 30);
    expect(readCount(pit, 2)).toBe(70);
    port61.write(0x61, 1, 0x00);
    clock.ns = atTick(500);
    expect(readCount(pit, 2)).toBe(70);
    expect(port61.read(0x61, 1) & 0x20).toBe(0x20);
    port61.write(0x61, 1, 0x01);
    clock.ns = atTick(500 + 1 + 5);
    expect(readCount(pit, 2)).toBe(95);
  });

  it('port 0x61 bit 4 toggles with virtual time, every 15 µs', () => {
    const { pit, clock } = timer();
    const port61 = new SystemControlPortB(pit, () => clock.ns);
    const seen = new Set<number>();
    let toggles = 0;
    let last = port61.read(0x61, 1) & 0x10;
    for (clock.ns = 0; clock.ns < 1e6; clock.ns += 1000) {
      const bit = port61.read(0x61, 1) & 0x10;
      seen.add(bit);
      if (bit !== last) toggles++;
      last = bit;
    }
    expect(seen).toEqual(new Set([0, 0x10]));
    expect(toggles).toBeGreaterThanOrEqual(65);
    expect(toggles).toBeLessThanOrEqual(67);
  });
});
