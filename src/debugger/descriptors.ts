/**
 * The guest's descriptor tables as a person reads them: GDT and LDT entries (segments, TSS and
 * LDT descriptors, gates), IDT gates (or the real-mode IVT), and the TSS. Read through
 * GuestMemory, so looking changes nothing (no accessed bits, no faults).
 */
import { decodeDescriptor } from '../cpu/segments.ts';
import { hex } from '../cpu/physical-memory.ts';
import { ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, ATTR_G, ATTR_PRESENT, ATTR_S, ATTR_WRITABLE, CR0_PE, LDTR, S_CR0, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_SEL, TR } from '../cpu/state.ts';
import type { Cpu } from '../cpu/cpu.ts';
import type { GuestMemory } from './guest-memory.ts';

const h4 = (n: number) => hex(n, 4);

/** What system descriptors (S = 0) of each type are. */
const SYSTEM_TYPES: Record<number, string> = {
  1: '16-bit TSS (available)', 2: 'LDT', 3: '16-bit TSS (busy)', 4: '16-bit call gate', 5: 'task gate', 6: '16-bit interrupt gate',
  7: '16-bit trap gate', 9: '32-bit TSS (available)', 11: '32-bit TSS (busy)', 12: '32-bit call gate', 14: '32-bit interrupt gate', 15: '32-bit trap gate',
};

export function isGate(type: number): boolean {
  return type === 4 || type === 5 || type === 6 || type === 7 || type === 12 || type === 14 || type === 15;
}

/** A descriptor (the two dwords) in one line: what it is, where, its privilege and bits. */
export function describeDescriptor(low: number, high: number, resolve?: (address: number) => string): string {
  if (low === 0 && high === 0) return 'null';
  const d = decodeDescriptor(low, high);
  const dpl = (d.attr >> 5) & 3;
  const present = d.attr & ATTR_PRESENT ? 'present' : 'NOT PRESENT';
  if (d.attr & ATTR_S) {
    const code = (d.attr & ATTR_CODE) !== 0;
    const bits = [present];
    if (code) {
      if (d.attr & ATTR_WRITABLE) bits.push('readable');
      else bits.push('execute-only');
      if (d.attr & ATTR_EXPAND_DOWN) bits.push('conforming');
    } else {
      bits.push(d.attr & ATTR_WRITABLE ? 'writable' : 'read-only');
      if (d.attr & ATTR_EXPAND_DOWN) bits.push('expand-down');
    }
    if (d.attr & 1) bits.push('accessed');
    if (d.attr & ATTR_G) bits.push('4 KiB granularity');
    const size = d.attr & ATTR_DB ? '32-bit' : '16-bit';
    return `${code ? 'code' : 'data'} ${size}  base ${hex(d.base)} limit ${hex(d.limit)}  DPL ${dpl}  ${bits.join(', ')}`;
  }
  const type = d.attr & 0xf;
  const name = SYSTEM_TYPES[type] ?? `reserved system type ${type}`;
  if (isGate(type)) {
    const selector = low >>> 16;
    if (type === 5) return `${name}  TSS selector ${h4(selector)}  DPL ${dpl}  ${present}`;
    const offset = type >= 12 ? ((low & 0xffff) | (high & 0xffff0000)) >>> 0 : low & 0xffff;
    const where = resolve?.(offset) ?? '';
    const params = type === 4 || type === 12 ? `  ${high & 0x1f} parameter(s)` : '';
    return `${name}  ${h4(selector).slice(2)}:${hex(offset).slice(2)}${where ? ` ${where}` : ''}  DPL ${dpl}  ${present}${params}`;
  }
  return `${name}  base ${hex(d.base)} limit ${hex(d.limit)}  DPL ${dpl}  ${present}`;
}

/** One entry of a descriptor table: where it is and its two dwords (null when unmapped). */
export interface TableEntry {
  index: number;
  address: number;
  low: number | null;
  high: number | null;
}

function readEntries(memory: GuestMemory, base: number, limit: number, max: number): TableEntry[] {
  const count = Math.min(Math.floor(((limit >>> 0) + 1) / 8), max);
  const entries: TableEntry[] = [];
  for (let i = 0; i < count; i++) {
    const address = (base + i * 8) >>> 0;
    entries.push({ index: i, address, low: memory.readValue(address, 4), high: memory.readValue((address + 4) >>> 0, 4) });
  }
  return entries;
}

/** The GDT or the LDT (the current LDTR's), one line per entry with its selector. */
export function formatSegmentTable(cpu: Cpu, memory: GuestMemory, which: 'gdt' | 'ldt', resolve?: (address: number) => string): string {
  const st = cpu.st;
  const base = which === 'gdt' ? st[S_GDTR_BASE] : st[S_SEG_BASE + LDTR];
  const limit = which === 'gdt' ? st[S_GDTR_LIMIT] & 0xffff : st[S_SEG_HIGH + LDTR];
  if (which === 'ldt' && (st[S_SEG_SEL + LDTR] & 0xfffc) === 0) return 'LDT: none loaded (LDTR is a null selector)';
  const lines = [`${which.toUpperCase()} at ${hex(base)}, limit ${hex(limit, 4)} (${Math.floor(((limit >>> 0) + 1) / 8)} entries)${which === 'ldt' ? `, LDTR ${h4(st[S_SEG_SEL + LDTR])}` : ''}`];
  let nulls = 0;
  for (const e of readEntries(memory, base, limit, 8192)) {
    const selector = e.index * 8 + (which === 'ldt' ? 4 : 0);
    // Empty entries past the first say nothing (a real-mode GDTR covers 8192 of them).
    if (e.index > 0 && e.low === 0 && e.high === 0) {
      nulls++;
      continue;
    }
    const text = e.low === null || e.high === null ? `(not mapped: ${hex(e.address)})` : describeDescriptor(e.low, e.high, resolve);
    lines.push(`  ${h4(selector)}  ${text}`);
  }
  if (nulls > 0) lines.push(`  (${nulls} more entries are null)`);
  return lines.join('\n');
}

/** The IDT (or, in real mode, the IVT): every gate present, or the one for `vector`. */
export function formatInterruptTable(cpu: Cpu, memory: GuestMemory, vector: number | null, resolve?: (address: number) => string): string {
  const st = cpu.st;
  const base = st[S_IDTR_BASE] >>> 0;
  const limit = st[S_IDTR_LIMIT] & 0xffff;
  if (!(st[S_CR0] & CR0_PE)) {
    const lines = [`IVT (real mode) at ${hex(base)}, limit ${hex(limit, 4)}`];
    const first = vector ?? 0;
    const last = vector ?? Math.min(255, Math.floor((limit + 1) / 4) - 1);
    for (let v = first; v <= last; v++) {
      const entry = memory.readValue((base + v * 4) >>> 0, 4);
      if (entry === null) {
        lines.push(`  ${hex(v, 2)}  (not mapped)`);
        continue;
      }
      const segment = entry >>> 16;
      const offset = entry & 0xffff;
      const where = resolve?.(((segment << 4) + offset) >>> 0) ?? '';
      lines.push(`  ${hex(v, 2)}  ${h4(segment).slice(2)}:${h4(offset).slice(2)}${where ? ` ${where}` : ''}`);
    }
    return lines.join('\n');
  }
  const entries = readEntries(memory, base, limit, 256);
  const lines = [`IDT at ${hex(base)}, limit ${hex(limit, 4)} (${entries.length} gates)`];
  let absent = 0;
  for (const e of entries) {
    if (vector !== null && e.index !== vector) continue;
    if (e.low === null || e.high === null) {
      lines.push(`  ${hex(e.index, 2)}  (not mapped: ${hex(e.address)})`);
      continue;
    }
    if (vector === null && !(e.high & 0x8000)) {
      absent++;
      continue;
    }
    lines.push(`  ${hex(e.index, 2)}  ${describeDescriptor(e.low, e.high, resolve)}`);
  }
  if (vector !== null && vector >= entries.length) lines.push(`  ${hex(vector, 2)}  past the IDT's limit: delivering it is #GP`);
  if (absent > 0) lines.push(`  (${absent} more entries not present; 'info idt VECTOR' shows one)`);
  return lines.join('\n');
}

/** The current TSS (TR): its descriptor cache and the fields of a 32-bit or 16-bit TSS. */
export function formatTss(cpu: Cpu, memory: GuestMemory): string {
  const st = cpu.st;
  const selector = st[S_SEG_SEL + TR] & 0xffff;
  const base = st[S_SEG_BASE + TR] >>> 0;
  const limit = st[S_SEG_HIGH + TR] >>> 0;
  const type = st[S_SEG_ATTR + TR] & 0xf;
  const lines = [`TR ${h4(selector)}: ${SYSTEM_TYPES[type] ?? `type ${type}`}, base ${hex(base)}, limit ${hex(limit)}`];
  if ((selector & 0xfffc) === 0) lines.push('  no TSS loaded (ltr never ran): a switch to an inner ring (an interrupt from ring 3) reads its stack from linear address 0');
  const is32 = (type & 8) !== 0;
  const field = (offset: number, bytes: 2 | 4) => {
    if (offset + bytes - 1 > limit) return 'past the limit';
    const v = memory.readValue((base + offset) >>> 0, bytes);
    return v === null ? 'not mapped' : hex(v, bytes * 2);
  };
  if (is32) {
    lines.push(`  link ${field(0, 2)}`);
    lines.push(`  SS0:ESP0 ${field(8, 2)}:${field(4, 4)}   SS1:ESP1 ${field(16, 2)}:${field(12, 4)}   SS2:ESP2 ${field(24, 2)}:${field(20, 4)}`);
    lines.push(`  CR3 ${field(0x1c, 4)}  EIP ${field(0x20, 4)}  EFLAGS ${field(0x24, 4)}`);
    const regs = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI'].map((r, i) => `${r} ${field(0x28 + i * 4, 4)}`);
    lines.push(`  ${regs.slice(0, 4).join('  ')}`, `  ${regs.slice(4).join('  ')}`);
    const segs = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'].map((r, i) => `${r} ${field(0x48 + i * 4, 2)}`);
    lines.push(`  ${segs.join('  ')}  LDT ${field(0x60, 2)}`);
    lines.push(`  T ${field(0x64, 2)}  I/O map base ${field(0x66, 2)}`);
  } else {
    lines.push(`  link ${field(0, 2)}  SS0:SP0 ${field(4, 2)}:${field(2, 2)}  SS1:SP1 ${field(8, 2)}:${field(6, 2)}  SS2:SP2 ${field(12, 2)}:${field(10, 2)}`);
    lines.push(`  IP ${field(0x0e, 2)}  FLAGS ${field(0x10, 2)}  LDT ${field(0x2a, 2)}`);
  }
  return lines.join('\n');
}
