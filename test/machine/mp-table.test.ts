/**
 * The MP tables as an SMP kernel finds them after the BIOS's POST: it searches the EBDA's first
 * KiB for the floating pointer, checks both checksums, and walks the entries (as xv6's mpinit
 * and Linux's find_smp_config do).
 */
import { describe, expect, it } from 'vitest';
import { boot, bootSector } from '../firmware/harness.ts';
import { LAPIC_BASE } from '../../src/machine/devices/local-apic.ts';
import { IOAPIC_BASE } from '../../src/machine/devices/io-apic.ts';
import type { Machine } from '../../src/machine/machine.ts';

function findMpTable(m: Machine) {
  const read = (a: number, n: 1 | 2 | 4) => m.phys.read(a, n) >>> 0;
  const sum = (a: number, n: number) => Array.from(m.phys.dump(a, n)).reduce((x, y) => x + y, 0) & 0xff;
  const ebda = read(0x40e, 2) << 4;
  let pointer = -1;
  for (let a = ebda; a < ebda + 1024; a += 16) {
    if (String.fromCharCode(...m.phys.dump(a, 4)) === '_MP_' && sum(a, 16) === 0) {
      pointer = a;
      break;
    }
  }
  expect(pointer, 'no _MP_ floating pointer in the EBDA').toBeGreaterThan(0);
  expect(m.phys.read8(pointer + 9)).toBe(4); // spec revision 1.4
  expect(m.phys.read8(pointer + 12) & 0x80).toBe(0); // no IMCR: virtual-wire mode
  const conf = read(pointer + 4, 4);
  expect(String.fromCharCode(...m.phys.dump(conf, 4))).toBe('PCMP');
  const length = read(conf + 4, 2);
  expect(sum(conf, length)).toBe(0);
  const entries: { type: number; bytes: Uint8Array }[] = [];
  let p = conf + 44;
  for (let i = 0; i < read(conf + 34, 2); i++) {
    const type = m.phys.read8(p);
    const size = type === 0 ? 20 : 8;
    entries.push({ type, bytes: m.phys.dump(p, size) });
    p += size;
  }
  expect(p).toBe(conf + length);
  return { lapic: read(conf + 36, 4), entries };
}

describe('the MP tables the BIOS leaves for an SMP kernel', () => {
  it('say one bootstrap processor (APIC 0), an ISA bus, the IOAPIC (ID 1) and where each ISA IRQ arrives', () => {
    const run = boot({ hardDisk: bootSector('cli\nhlt'), maxInstructions: 5_000_000 });
    expect(run.outcome.kind).toBe('halted');
    const { lapic, entries } = findMpTable(run.machine);
    expect(lapic).toBe(LAPIC_BASE);
    const processors = entries.filter((e) => e.type === 0);
    expect(processors.map((e) => [e.bytes[1], e.bytes[3]])).toEqual([[0, 3]]); // APIC ID 0, enabled and bootstrap
    const bus = entries.find((e) => e.type === 1)!;
    expect(String.fromCharCode(...bus.bytes.subarray(2, 8))).toBe('ISA   ');
    const ioApic = entries.find((e) => e.type === 2)!;
    expect(ioApic.bytes[1]).toBe(1);
    expect(new DataView(ioApic.bytes.buffer, ioApic.bytes.byteOffset).getUint32(4, true)).toBe(IOAPIC_BASE);
    const routes = new Map(entries.filter((e) => e.type === 3).map((e) => [e.bytes[5], e.bytes[7]]));
    expect(routes.get(0)).toBe(2);
    expect(routes.get(1)).toBe(1);
    expect(routes.get(4)).toBe(4);
    expect(routes.get(14)).toBe(14);
    expect(routes.has(2)).toBe(false);
    const local = entries.filter((e) => e.type === 4).map((e) => [e.bytes[1], e.bytes[6], e.bytes[7]]);
    expect(local).toEqual([[3, 0, 0], [1, 0xff, 1]]); // ExtINT on the BSP's LINT0, NMI on every LINT1
    // The IOAPIC's own ID register agrees with the table.
    expect(run.machine.ioApic.id).toBe(1);
  });
});
