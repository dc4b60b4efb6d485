/**
 * The guest's registers by name, for expressions, `set` and `info registers`. Under the VMM the
 * control registers are shown as the guest reads them (host-owned bits from the read shadows;
 * under shadow paging its own CR3), with the real ones beside them.
 */
import { ATTN_RECHECK_TF, type Cpu } from '../cpu/cpu.ts';
import { getEflags, setEflags } from '../cpu/flags.ts';
import { hex } from '../cpu/physical-memory.ts';
import {
  AC, AF, ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, ATTR_PRESENT, ATTR_S, ATTR_WRITABLE, CF, CR0_PE, CR0_PG, CS, DF, DS, ES, FS, GS, ID, IF, IOPL, LDTR,
  NT, OF, PF, REG16_NAMES, REG32_NAMES, REG8_NAMES, RF, S_A20_MASK, S_CPL, S_CR0, S_CR2, S_CR3, S_CR4, S_DR0, S_EFLAGS, S_EIP, S_GDTR_BASE,
  S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_LOW, S_SEG_SEL, SEG_NAMES, SF, SS, TF, TR, VIF, VIP, VM, ZF,
} from '../cpu/state.ts';
import type { Vcpu } from '../vmm/vcpu.ts';
import { storeGuestState } from '../vmm/guest-state.ts';

/** EFLAGS bits by name, in the order `info registers` lists them. */
export const FLAG_BITS: [string, number][] = [
  ['CF', CF], ['PF', PF], ['AF', AF], ['ZF', ZF], ['SF', SF], ['TF', TF], ['IF', IF], ['DF', DF], ['OF', OF], ['NT', NT], ['RF', RF], ['VM', VM], ['AC', AC],
  ['VIF', VIF], ['VIP', VIP], ['ID', ID],
];
const CR0_BITS: [string, number][] = [['PE', 1], ['MP', 2], ['EM', 4], ['TS', 8], ['ET', 16], ['NE', 32], ['WP', 1 << 16], ['AM', 1 << 18], ['NW', 1 << 29], ['CD', 1 << 30], ['PG', 1 << 31]];
const CR4_BITS: [string, number][] = [['VME', 1], ['PVI', 2], ['TSD', 4], ['DE', 8], ['PSE', 16], ['PAE', 32], ['MCE', 64], ['PGE', 128]];

const SEGMENTS: Record<string, number> = { es: ES, cs: CS, ss: SS, ds: DS, fs: FS, gs: GS };

function bitNames(value: number, bits: [string, number][]): string {
  const set = bits.filter(([, bit]) => (value & bit) !== 0).map(([name]) => name);
  return `[ ${set.join(' ')}${set.length ? ' ' : ''}]`;
}

/**
 * A processor as the debugger looks at it: its CPU and, under the VMM, its vCPU (a Machine is
 * one, for its first processor; so is each of its processors).
 */
export interface CpuView {
  readonly cpu: Cpu;
  readonly vcpu: Vcpu | null;
}

/** CR0, CR3 or CR4 as the guest reads it. */
export function guestControlRegister(machine: CpuView, cr: 0 | 3 | 4): number {
  const st = machine.cpu.st;
  if (machine.vcpu !== null) return machine.vcpu.guestControlRegister(cr);
  return (cr === 0 ? st[S_CR0] : cr === 3 ? st[S_CR3] : st[S_CR4]) >>> 0;
}

/** "real", "protected, 32-bit code", "virtual-8086". */
export function modeName(cpu: Cpu): 'real' | 'protected' | 'virtual-8086' {
  const st = cpu.st;
  if (!(st[S_CR0] & CR0_PE)) return 'real';
  return st[S_EFLAGS] & VM ? 'virtual-8086' : 'protected';
}

/** A register's value by name (lower case), or undefined when `name` is not a register. */
export function readRegister(machine: CpuView, name: string): number | undefined {
  const cpu = machine.cpu;
  const st = cpu.st;
  let i = (REG32_NAMES as readonly string[]).indexOf(name);
  if (i >= 0) return cpu.reg[i] >>> 0;
  i = (REG16_NAMES as readonly string[]).indexOf(name);
  if (i >= 0) return cpu.reg[i] & 0xffff;
  i = (REG8_NAMES as readonly string[]).indexOf(name);
  if (i >= 0) return i < 4 ? cpu.reg[i] & 0xff : (cpu.reg[i - 4] >>> 8) & 0xff;
  if (name === 'eip') return st[S_EIP] >>> 0;
  // pc: where the next instruction is, as a linear address (CS's base plus EIP), as x/i pc wants it.
  if (name === 'pc') return (st[S_SEG_BASE + CS] + st[S_EIP]) >>> 0;
  if (name === 'ip') return st[S_EIP] & 0xffff;
  if (name === 'eflags' || name === 'flags') return getEflags(st) >>> 0;
  if (name in SEGMENTS) return st[S_SEG_SEL + SEGMENTS[name]] & 0xffff;
  if (name === 'tr' || name === 'ldtr') return st[S_SEG_SEL + (name === 'tr' ? TR : LDTR)] & 0xffff;
  if (name === 'cr0') return guestControlRegister(machine, 0);
  if (name === 'cr2') return st[S_CR2] >>> 0;
  if (name === 'cr3') return guestControlRegister(machine, 3);
  if (name === 'cr4') return guestControlRegister(machine, 4);
  const dr = /^dr([0-7])$/.exec(name);
  if (dr) return st[S_DR0 + Number(dr[1])] >>> 0;
  if (name === 'cpl') return st[S_CPL];
  const flag = FLAG_BITS.find(([n]) => n.toLowerCase() === name);
  if (flag) return getEflags(st) & flag[1] ? 1 : 0;
  return undefined;
}

/** The registers `set` may change. */
export const WRITABLE_REGISTERS = 'eax..edi, ax..di, al..bh, eip (ip; pc is CS base + EIP), eflags (flags), and one flag (cf, zf, ...)';

/**
 * Sets a register the way the guest would see it changed. Returns an error message when the
 * register cannot be set (segment and control registers: a guest loads those itself).
 */
export function writeRegister(machine: CpuView, name: string, value: number): string | null {
  const cpu = machine.cpu;
  const st = cpu.st;
  let i = (REG32_NAMES as readonly string[]).indexOf(name);
  if (i >= 0) cpu.reg[i] = value;
  else if ((i = (REG16_NAMES as readonly string[]).indexOf(name)) >= 0) cpu.reg16[i * 2] = value;
  else if ((i = (REG8_NAMES as readonly string[]).indexOf(name)) >= 0) {
    if (i < 4) cpu.reg[i] = (cpu.reg[i] & ~0xff) | (value & 0xff);
    else cpu.reg[i - 4] = (cpu.reg[i - 4] & ~0xff00) | ((value & 0xff) << 8);
  } else if (name === 'eip') st[S_EIP] = value;
  else if (name === 'pc') st[S_EIP] = value - st[S_SEG_BASE + CS];
  else if (name === 'ip') st[S_EIP] = value & 0xffff;
  else if (name === 'eflags' || name === 'flags') setFlags(cpu, value);
  else {
    const flag = FLAG_BITS.find(([n]) => n.toLowerCase() === name);
    if (!flag) {
      if (readRegister(machine, name) !== undefined) return `${name} cannot be set from the debugger (only ${WRITABLE_REGISTERS}): the guest loads it itself`;
      return `'${name}' is not a register (${WRITABLE_REGISTERS})`;
    }
    const flags = getEflags(st);
    setFlags(cpu, value ? flags | flag[1] : flags & ~flag[1]);
  }
  // Under the VMM the VMCS holds RIP, RSP and RFLAGS for the next entry: keep it in step.
  if (machine.vcpu !== null) storeGuestState(cpu, machine.vcpu.vmcs);
  return null;
}

function setFlags(cpu: Cpu, value: number): void {
  // Bit 1 is always 1; the rest as given (IOPL and VM too: the user asked for them).
  setEflags(cpu.st, value);
  cpu.updateAccessMasks(); // EFLAGS.AC arms alignment checks
  cpu.attention |= ATTN_RECHECK_TF;
  cpu.raiseInterruptLine(); // IF may have opened
}

/** A segment register's hidden cache in one line. */
function describeCache(cpu: Cpu, seg: number): string {
  const st = cpu.st;
  const attr = st[S_SEG_ATTR + seg];
  const low = st[S_SEG_LOW + seg];
  const high = st[S_SEG_HIGH + seg] >>> 0;
  const selector = hex(st[S_SEG_SEL + seg], 4);
  const base = hex(st[S_SEG_BASE + seg]);
  if (low === -1 && st[S_SEG_HIGH + seg] === 0) return `${selector}  (unusable: a null selector)`;
  const limit = low > 0 ? `${hex(low)}-${hex(high)} (expand-down)` : hex(high);
  let kind: string;
  if (seg === TR || seg === LDTR) kind = seg === TR ? `type ${attr & 0xf}` : 'LDT';
  else if (attr & ATTR_S) {
    const code = (attr & ATTR_CODE) !== 0;
    const rw = code ? (attr & ATTR_WRITABLE ? 'readable' : 'execute-only') : attr & ATTR_WRITABLE ? 'writable' : 'read-only';
    kind = `${code ? 'code' : 'data'} ${attr & ATTR_DB ? '32' : '16'}-bit ${rw}${attr & ATTR_EXPAND_DOWN ? (code ? ' conforming' : '') : ''}, DPL ${(attr >> 5) & 3}${attr & ATTR_PRESENT ? '' : ', not present'}`;
  } else kind = `system type ${attr & 0xf}`;
  return `${selector}  base ${base} limit ${limit}  ${kind}`;
}

/** `info registers`: everything a student needs to know where the CPU is. */
export function formatRegisters(machine: CpuView, describeAddress: (linear: number) => string): string {
  const cpu = machine.cpu;
  const st = cpu.st;
  const r = (i: number) => `${REG32_NAMES[i]} ${hex(cpu.reg[i])}`;
  const flags = getEflags(st) >>> 0;
  const lines = [
    `${r(0)}  ${r(1)}  ${r(2)}  ${r(3)}`,
    `${r(4)}  ${r(5)}  ${r(6)}  ${r(7)}`,
  ];
  const linear = (st[S_SEG_BASE + CS] + st[S_EIP]) >>> 0;
  const where = describeAddress(linear);
  lines.push(`eip ${hex(st[S_EIP])}${where ? ` ${where}` : ''}  (linear ${hex(linear)})`);
  lines.push(`eflags ${hex(flags)} ${bitNames(flags, FLAG_BITS)}  IOPL ${(flags & IOPL) >>> 12}`);
  for (const seg of [CS, SS, DS, ES, FS, GS]) lines.push(`${SEG_NAMES[seg]}   ${describeCache(cpu, seg)}`);
  lines.push(`ldtr ${describeCache(cpu, LDTR)}`);
  lines.push(`tr   ${describeCache(cpu, TR)}`);
  lines.push(`gdtr base ${hex(st[S_GDTR_BASE])} limit ${hex(st[S_GDTR_LIMIT], 4)}   idtr base ${hex(st[S_IDTR_BASE])} limit ${hex(st[S_IDTR_LIMIT], 4)}`);
  const cr0 = guestControlRegister(machine, 0);
  const cr4 = guestControlRegister(machine, 4);
  lines.push(`cr0 ${hex(cr0)} ${bitNames(cr0, CR0_BITS)}  cr2 ${hex(st[S_CR2])}  cr3 ${hex(guestControlRegister(machine, 3))}  cr4 ${hex(cr4)} ${bitNames(cr4, CR4_BITS)}`);
  if (machine.vcpu !== null) {
    const real = `real cr0 ${hex(st[S_CR0])}, cr3 ${hex(st[S_CR3])}${machine.vcpu.shadow ? ' (a shadow root)' : ''}, cr4 ${hex(st[S_CR4])}`;
    lines.push(`    (the guest's view; ${real}: the VMM's, under the read shadows)`);
  }
  const drs = [0, 1, 2, 3].map((n) => `dr${n} ${hex(st[S_DR0 + n])}`).join('  ');
  lines.push(`${drs}  dr6 ${hex(st[S_DR0 + 6])}  dr7 ${hex(st[S_DR0 + 7])}`);
  const mode = modeName(cpu);
  const code = st[S_SEG_ATTR + CS] & ATTR_DB ? '32-bit' : '16-bit';
  const paging = cr0 & CR0_PG ? 'paging on' : 'paging off';
  lines.push(`cpl ${st[S_CPL]}  mode ${mode}, ${code} code, ${paging}, A20 ${st[S_A20_MASK] === -1 ? 'on' : 'off'}${cpu.halted ? ', halted (HLT)' : ''}`);
  return lines.join('\n');
}
