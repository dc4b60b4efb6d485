import { describe, expect, it } from 'vitest';
import { CmosRtc } from '../../../src/machine/devices/cmos-rtc.ts';

function rtc(start?: Date) {
  const clock = { ns: 0 };
  const irq = { level: false, edges: 0 };
  const cmos = new CmosRtc(() => clock.ns, {
    start,
    irq: (level) => {
      if (level && !irq.level) irq.edges++;
      irq.level = level;
    },
  });
  const read = (index: number) => {
    cmos.write(0x70, 1, index);
    return cmos.read(0x71, 1);
  };
  const write = (index: number, value: number) => {
    cmos.write(0x70, 1, index);
    cmos.write(0x71, 1, value);
  };
  return { cmos, clock, irq, read, write };
}

const timeRegisters = (read: (i: number) => number) => [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(read);

describe('CMOS and MC146818 RTC', () => {
  it('starts at 2026-01-01 00:00:00 (a Thursday) in BCD, 24-hour', () => {
    const { read } = rtc();
    expect(timeRegisters(read)).toEqual([0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x26, 0x20]);
    expect(read(0x0b)).toBe(0x02);
    expect(read(0x0d)).toBe(0x80);
  });

  it('runs on virtual time, and reads binary when register B says so', () => {
    const { read, write, clock } = rtc();
    clock.ns = (13 * 3600 + 59 * 60 + 58) * 1e9; // 13:59:58
    expect(read(0x04)).toBe(0x13);
    expect(read(0x02)).toBe(0x59);
    expect(read(0x00)).toBe(0x58);
    write(0x0b, 0x06); // binary, 24-hour
    expect([read(0x04), read(0x02), read(0x00), read(0x09), read(0x32)]).toEqual([13, 59, 58, 26, 20]);
    clock.ns += 3e9;
    expect(read(0x00)).toBe(1);
    expect(read(0x02)).toBe(0);
    expect(read(0x04)).toBe(14);
  });

  it('reads 12-hour time with bit 7 for PM', () => {
    const { read, write } = rtc(new Date(Date.UTC(2024, 1, 29, 15, 4, 5)));
    write(0x0b, 0x00); // BCD, 12-hour
    expect(read(0x04)).toBe(0x83);
    expect(timeRegisters(read).slice(3)).toEqual([0x05, 0x29, 0x02, 0x24, 0x20]); // Thursday 29 February 2024
  });

  it('lets the guest set the clock (SET bit, then the fields)', () => {
    const { read, write, clock } = rtc();
    write(0x0b, 0x82); // SET: the clock stops
    write(0x09, 0x99);
    write(0x32, 0x19);
    write(0x08, 0x12);
    write(0x07, 0x31);
    write(0x04, 0x23);
    write(0x02, 0x59);
    write(0x00, 0x59);
    clock.ns += 5e9;
    expect(read(0x00)).toBe(0x59); // stopped
    write(0x0b, 0x02);
    clock.ns += 1e9;
    expect(timeRegisters(read)).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]); // a Saturday, 2000-01-01
  });

  it('sets UIP in the 244 µs before each update', () => {
    const { read, clock } = rtc();
    clock.ns = 0.5e9;
    expect(read(0x0a)).toBe(0x26);
    clock.ns = 1e9 - 100_000;
    expect(read(0x0a) & 0x80).toBe(0x80);
    clock.ns = 1e9 + 1000;
    expect(read(0x0a) & 0x80).toBe(0);
  });

  it('records the memory size in KiB and 64 KiB blocks, and keeps the checksum', () => {
    const { cmos, read } = rtc();
    cmos.setMemorySize(128 * 1024 * 1024);
    expect(read(0x15) | (read(0x16) << 8)).toBe(640);
    expect(read(0x17) | (read(0x18) << 8)).toBe(0xffff); // 127 MiB of extended memory, capped
    expect(read(0x30) | (read(0x31) << 8)).toBe(0xffff);
    expect(read(0x34) | (read(0x35) << 8)).toBe((128 - 16) * 16);
    cmos.setMemorySize(32 * 1024 * 1024);
    expect(read(0x17) | (read(0x18) << 8)).toBe(31 * 1024);
    expect(read(0x34) | (read(0x35) << 8)).toBe(16 * 16);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
    expect((read(0x2e) << 8) | read(0x2f)).toBe(sum);
    expect(sum).toBeGreaterThan(0);
  });

  it('reports no floppy drives unless told', () => {
    const { cmos, read } = rtc();
    expect(read(0x14) & 0xc1).toBe(0);
    expect(read(0x10)).toBe(0);
    cmos.setFloppyDrives(1);
    expect(read(0x14) & 0xc1).toBe(0x01);
    expect(read(0x10)).toBe(0x40);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
    expect((read(0x2e) << 8) | read(0x2f)).toBe(sum);
  });

  it('keeps ordinary CMOS bytes and notes the NMI mask bit', () => {
    const { cmos, read, write } = rtc();
    write(0x0f, 0x0a); // the shutdown status byte the BIOS uses
    expect(read(0x0f)).toBe(0x0a);
    cmos.write(0x70, 1, 0x8f);
    expect(cmos.nmiDisabled).toBe(true);
    expect(cmos.read(0x71, 1)).toBe(0x0a);
  });

  it('raises IRQ 8 for the periodic interrupt, holding it until register C is read', () => {
    const { cmos, irq, read, write, clock } = rtc();
    write(0x0b, 0x42); // periodic interrupt on, 1024 Hz
    const next = cmos.nextEventNs();
    expect(next).toBeCloseTo(976_562.5, 0);
    clock.ns = next;
    cmos.advanceTo(next);
    expect(irq.level).toBe(true);
    clock.ns = 3 * next;
    cmos.advanceTo(clock.ns);
    expect(irq.edges).toBe(1); // not read yet: no new edge
    expect(read(0x0c)).toBe(0xc0);
    expect(irq.level).toBe(false);
    expect(read(0x0c)).toBe(0x00);
  });

  it('raises the update-ended interrupt each second and the alarm when it matches', () => {
    const { cmos, irq, read, write, clock } = rtc();
    write(0x01, 0x02); // alarm at 00:00:02
    write(0x03, 0x00);
    write(0x05, 0x00);
    write(0x0b, 0x32); // update-ended and alarm interrupts
    const run = () => {
      const next = cmos.nextEventNs();
      clock.ns = next;
      cmos.advanceTo(next);
      return read(0x0c) & ~0x40; // the periodic flag is set too (it does not need PIE), but raises nothing
    };
    expect(run()).toBe(0x90);
    expect(run()).toBe(0xb0);
    expect(irq.edges).toBe(2);
  });
});
