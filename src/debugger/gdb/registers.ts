/**
 * The registers gdb sees, in the order of its `g` packet, and the target description (XML)
 * made from the same list: gdb's i386 core feature (the general registers, EIP, EFLAGS, the six
 * selectors, and the x87 registers gdb requires of an i386 target, which a 386 without an FPU
 * reads as zero), then minivisor's own feature with what a student of the machine looks at:
 * the control registers as the guest reads them, each segment's hidden base and limit, the
 * GDTR and IDTR, LDTR and TR, the debug registers and the CPL. `info registers cr3` works.
 */
import { getEflags } from '../../cpu/flags.ts';
import { LDTR, S_CPL, S_CR2, S_DR0, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_SEG_BASE, S_SEG_HIGH, S_SEG_SEL, TR } from '../../cpu/state.ts';
import { guestControlRegister, readRegister, writeRegister, type CpuView } from '../registers.ts';

export interface GdbRegister {
  name: string;
  bits: 32 | 80;
  /** gdb's type for it (int32, code_ptr, data_ptr, i386_eflags, i387_ext). */
  type: string;
  group: 'general' | 'float' | 'system';
  read(m: CpuView): number;
  /** Sets it; returns why it cannot be set, or null. */
  write(m: CpuView, value: number): string | null;
}

const readOnly = (name: string) => () => `${name} cannot be set from gdb: the guest loads it itself`;
/** A register the REPL knows by the same name: read and written as `set $name = ...` does there. */
const shared = (name: string, type = 'int32'): GdbRegister => ({
  name,
  bits: 32,
  type,
  group: 'general',
  read: (m) => readRegister(m, name) ?? 0,
  write: (m, v) => writeRegister(m, name, v),
});
const system = (name: string, read: (m: CpuView) => number): GdbRegister => ({ name, bits: 32, type: 'int32', group: 'system', read, write: readOnly(name) });
const segmentNames = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

export const GDB_REGISTERS: readonly GdbRegister[] = [
  ...['eax', 'ecx', 'edx', 'ebx'].map((n) => shared(n)),
  shared('esp', 'data_ptr'),
  shared('ebp', 'data_ptr'),
  shared('esi'),
  shared('edi'),
  shared('eip', 'code_ptr'),
  { ...shared('eflags', 'i386_eflags'), read: (m) => getEflags(m.cpu.st) >>> 0 },
  ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n): GdbRegister => ({ ...shared(n), write: readOnly(n) })),
  ...Array.from({ length: 8 }, (_, i): GdbRegister => ({ name: `st${i}`, bits: 80, type: 'i387_ext', group: 'float', read: () => 0, write: readOnly(`st${i}`) })),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n): GdbRegister => ({ name: n, bits: 32, type: 'int', group: 'float', read: () => 0, write: readOnly(n) })),
  // minivisor's feature: the machine's state behind the selectors and the control registers.
  system('cr0', (m) => guestControlRegister(m, 0)),
  system('cr2', (m) => m.cpu.st[S_CR2] >>> 0),
  system('cr3', (m) => guestControlRegister(m, 3)),
  system('cr4', (m) => guestControlRegister(m, 4)),
  ...segmentNames.map((n, seg) => system(`${n}_base`, (m) => m.cpu.st[S_SEG_BASE + seg] >>> 0)),
  ...segmentNames.map((n, seg) => system(`${n}_limit`, (m) => m.cpu.st[S_SEG_HIGH + seg] >>> 0)),
  system('gdtr_base', (m) => m.cpu.st[S_GDTR_BASE] >>> 0),
  system('gdtr_limit', (m) => m.cpu.st[S_GDTR_LIMIT] & 0xffff),
  system('idtr_base', (m) => m.cpu.st[S_IDTR_BASE] >>> 0),
  system('idtr_limit', (m) => m.cpu.st[S_IDTR_LIMIT] & 0xffff),
  system('ldtr', (m) => m.cpu.st[S_SEG_SEL + LDTR] & 0xffff),
  system('tr', (m) => m.cpu.st[S_SEG_SEL + TR] & 0xffff),
  ...[0, 1, 2, 3, 6, 7].map((i) => system(`dr${i}`, (m) => m.cpu.st[S_DR0 + i] >>> 0)),
  system('cpl', (m) => m.cpu.st[S_CPL]),
];

/** The first register of minivisor's own feature (the rest of the list is gdb's i386 core). */
const FIRST_SYSTEM = GDB_REGISTERS.findIndex((r) => r.group === 'system');

const EFLAGS_TYPE = [
  [0, 'CF'], [1, ''], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
] as const;

function regXml(r: GdbRegister, n: number): string {
  return `    <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${n}"${r.group === 'general' ? '' : ` group="${r.group}"`}/>`;
}

/** target.xml, as qXfer:features:read serves it. */
export function targetDescription(): string {
  const flags = EFLAGS_TYPE.map(([bit, name]) => `      <field name="${name}" start="${bit}" end="${bit}"/>`).join('\n');
  const core = GDB_REGISTERS.slice(0, FIRST_SYSTEM).map(regXml).join('\n');
  const sys = GDB_REGISTERS.slice(FIRST_SYSTEM).map((r, i) => regXml(r, FIRST_SYSTEM + i)).join('\n');
  return `<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>i386</architecture>
  <feature name="org.gnu.gdb.i386.core">
    <flags id="i386_eflags" size="4">
${flags}
    </flags>
${core}
  </feature>
  <feature name="org.minivisor.i386.system">
${sys}
  </feature>
</target>
`;
}

/** A register's value as gdb's hex: little-endian, its size in bytes. */
export function registerHex(r: GdbRegister, m: CpuView): string {
  const value = r.read(m) >>> 0;
  let out = '';
  for (let i = 0; i < r.bits / 8; i++) out += (i < 4 ? (value >>> (8 * i)) & 0xff : 0).toString(16).padStart(2, '0');
  return out;
}

/** All registers, as the `g` packet answers. */
export function allRegistersHex(m: CpuView): string {
  return GDB_REGISTERS.map((r) => registerHex(r, m)).join('');
}

/** A register's value from gdb's little-endian hex (the low 32 bits of an 80-bit one); null when it is not hex of its size. */
export function parseRegisterHex(r: GdbRegister, hex: string): number | null {
  if (hex.length !== r.bits / 4 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  let value = 0;
  for (let i = Math.min(4, r.bits / 8) - 1; i >= 0; i--) value = value * 256 + parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return value >>> 0;
}
