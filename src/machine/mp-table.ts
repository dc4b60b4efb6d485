/**
 * The MP floating pointer and configuration table (Intel MultiProcessor Specification 1.4,
 * chapter 4) that tells an SMP kernel what the machine has: its processors and their local
 * APIC IDs, the ISA bus, the IOAPIC, and which IOAPIC pin each ISA IRQ arrives on. The machine
 * builds it from its configuration, for the address the BIOS copies it to (the EBDA, where
 * kernels look first); see docs/firmware-interface.md, item 0x0016.
 */
import { CPU_SIGNATURE } from '../cpu/state.ts';
import { cpuidLeaf } from '../cpu/ops/system.ts';
import { LAPIC_BASE, LAPIC_VERSION } from './devices/local-apic.ts';
import { IOAPIC_BASE } from './devices/io-apic.ts';
import { ioApicPinOfIrq } from './interrupt-routing.ts';

/** Where the BIOS puts the table: 140h bytes into the EBDA (after its drive table). */
export const MP_TABLE_EBDA_OFFSET = 0x140;

const ENTRY_PROCESSOR = 0, ENTRY_BUS = 1, ENTRY_IOAPIC = 2, ENTRY_IO_INTERRUPT = 3, ENTRY_LOCAL_INTERRUPT = 4;
const INTERRUPT_INT = 0, INTERRUPT_NMI = 1, INTERRUPT_EXTINT = 3;
const CPU_ENABLED = 1, CPU_BOOTSTRAP = 2;
const IOAPIC_VERSION = 0x11;
/** The cascade (IRQ 2) has no device; IRQ 0 arrives on pin 2 in its place. */
const CASCADE_IRQ = 2;

export interface MpConfiguration {
  /** The processors' local APIC IDs; the first is the bootstrap processor. */
  apicIds: number[];
  ioApicId: number;
}

/** The floating pointer (16 bytes) followed by the configuration table, for physical address `at`. */
export function buildMpTable(config: MpConfiguration, at: number): Uint8Array {
  const entries: number[][] = [];
  const features = cpuidLeaf(1)[3];
  config.apicIds.forEach((id, i) => {
    entries.push([ENTRY_PROCESSOR, id, LAPIC_VERSION & 0xff, CPU_ENABLED | (i === 0 ? CPU_BOOTSTRAP : 0), ...u32(CPU_SIGNATURE), ...u32(features), ...new Array(8).fill(0)]);
  });
  entries.push([ENTRY_BUS, 0, ...ascii('ISA   ')]);
  entries.push([ENTRY_IOAPIC, config.ioApicId, IOAPIC_VERSION, 1, ...u32(IOAPIC_BASE)]);
  for (let irq = 0; irq < 16; irq++) {
    if (irq === CASCADE_IRQ) continue;
    // Flags 0: polarity and trigger mode conform to the bus (ISA: active high, edge).
    entries.push([ENTRY_IO_INTERRUPT, INTERRUPT_INT, ...u16(0), 0, irq, config.ioApicId, ioApicPinOfIrq(irq)]);
  }
  // The 8259's INTR on the bootstrap processor's LINT0 (virtual wire), NMI on every LINT1.
  entries.push([ENTRY_LOCAL_INTERRUPT, INTERRUPT_EXTINT, ...u16(0), 0, 0, config.apicIds[0], 0]);
  entries.push([ENTRY_LOCAL_INTERRUPT, INTERRUPT_NMI, ...u16(0), 0, 0, 0xff, 1]);

  const body = entries.flat();
  const tableLength = 44 + body.length;
  const table = [
    ...ascii('PCMP'), ...u16(tableLength), 4, 0, ...ascii('MINIVSR '), ...ascii('PC          '),
    ...u32(0), ...u16(0), ...u16(entries.length), ...u32(LAPIC_BASE), ...u16(0), 0, 0,
    ...body,
  ];
  table[7] = checksum(table);
  // Feature bytes 0: a configuration table is present; IMCRP clear: virtual-wire mode, no IMCR.
  const pointer = [...ascii('_MP_'), ...u32(at + 16), 1, 4, 0, 0, 0, 0, 0, 0];
  pointer[10] = checksum(pointer);
  return Uint8Array.from([...pointer, ...table]);
}

/** The byte that makes `bytes` sum to zero (modulo 256). */
function checksum(bytes: number[]): number {
  return -bytes.reduce((a, b) => a + b, 0) & 0xff;
}

function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}
