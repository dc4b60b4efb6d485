/**
 * Why a guest shut down: the chain of exceptions of the delivery that triple-faulted (the CPU
 * records it, cpu/fault-chain.ts), each decoded, with what the guest's own tables say about
 * its cause where that can be read: the IDT gate that refused an INT, the page-table entries
 * behind a #PF, the TSS a ring switch needed. Used by `minivisor run`'s report and by the
 * debugger's `info fault`.
 */
import type { ChainEvent } from '../cpu/fault-chain.ts';
import { EventKind } from '../cpu/interrupts.ts';
import { exceptionMnemonic, exceptionName, formatException } from '../cpu/exceptions.ts';
import { PageWalk, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../cpu/page-walk.ts';
import { hex } from '../cpu/physical-memory.ts';
import { LDTR, S_GDTR_BASE, S_IDTR_BASE, S_IDTR_LIMIT, S_SEG_BASE, S_SEG_SEL, TR } from '../cpu/state.ts';
import type { Machine } from '../machine/machine.ts';
import type { CpuView } from './registers.ts';
import { describeDescriptor, isGate } from './descriptors.ts';
import { GuestMemory } from './guest-memory.ts';

const where = (e: ChainEvent, describe?: (linear: number) => string) => {
  const at = `${hex(e.cs, 4).slice(2)}:${hex(e.eip).slice(2)}`;
  const symbol = describe?.(e.linear) ?? '';
  return symbol ? `${at} ${symbol}` : at;
};

/** What the guest's tables say about one event of the chain ('' when nothing more can be said). */
function cause(machine: CpuView, memory: GuestMemory, e: ChainEvent, first: boolean): string {
  const st = machine.cpu.st;
  const code = e.errorCode;
  if (e.vector === 14) return pageFaultCause(memory, e);
  if (code >= 0 && (e.vector === 10 || e.vector === 11 || e.vector === 12 || e.vector === 13) && code & 2) {
    // An IDT entry: past the limit, not present, not a gate, or a gate this INT may not use.
    const vector = code >>> 3;
    const limit = st[S_IDTR_LIMIT] & 0xffff;
    if (vector * 8 + 7 > limit) return `vector 0x${vector.toString(16)} is past the IDT's limit (${hex(limit, 4)}): the IDT has ${Math.floor((limit + 1) / 8)} entries`;
    const address = (st[S_IDTR_BASE] + vector * 8) >>> 0;
    const low = memory.readValue(address, 4);
    const high = memory.readValue((address + 4) >>> 0, 4);
    if (low === null || high === null) return `the IDT entry for 0x${vector.toString(16)} is at ${hex(address)}, which the guest's page tables do not map`;
    const gate = describeDescriptor(low, high);
    const name = vector < 32 ? ` (${exceptionMnemonic(vector)})` : '';
    if (low === 0 && high === 0) return `the IDT has no gate for vector 0x${vector.toString(16)}${name}: the guest installed no handler for it`;
    if (!(high & 0x8000)) return `the IDT gate for vector 0x${vector.toString(16)}${name} is not present: ${gate}`;
    if (!isGate((high >> 8) & 0xf) || (high & 0x1000) !== 0) return `the IDT entry for 0x${vector.toString(16)} is not an interrupt, trap or task gate: ${gate}`;
    const dpl = (high >> 13) & 3;
    if (first && dpl < e.cpl) return `INT 0x${vector.toString(16)} from CPL ${e.cpl} needs a gate with DPL ${e.cpl} or more; this gate has DPL ${dpl} (a kernel's system-call gate must say DPL 3)`;
    return `the IDT entry for 0x${vector.toString(16)}: ${gate}`;
  }
  if (code >= 0 && (e.vector === 10 || e.vector === 11 || e.vector === 12 || e.vector === 13) && (code & ~3) !== 0) {
    const selector = code & 0xfffc;
    if (e.vector === 10 && (st[S_SEG_SEL + TR] & 0xfffc) === 0) {
      return `no TSS was loaded (TR is 0: ltr never ran), so the stack for the inner ring came from linear address 0, and its SS (${hex(selector, 4)}) is no ring-0 stack: load a TSS with SS0:ESP0 with ltr before ring 3 can take an interrupt`;
    }
    const table = code & 4 ? 'LDT' : 'GDT';
    const base = (code & 4 ? st[S_SEG_BASE + LDTR] : st[S_GDTR_BASE]) >>> 0;
    const address = (base + (selector & 0xfff8)) >>> 0;
    const low = memory.readValue(address, 4);
    const high = memory.readValue((address + 4) >>> 0, 4);
    if (low === null || high === null) return `${table} selector ${hex(selector, 4)}: its descriptor is not mapped`;
    return `${table} selector ${hex(selector, 4)} is ${describeDescriptor(low, high)}`;
  }
  if (e.vector === 6) {
    const bytes = memory.readLinear(e.linear, 4).map((b) => (b === null ? '??' : b.toString(16).padStart(2, '0'))).join(' ');
    return `the bytes at that address (${bytes}) are not an instruction this 386 knows`;
  }
  return '';
}

function pageFaultCause(memory: GuestMemory, e: ChainEvent): string {
  const view = memory.view();
  const walk = new PageWalk();
  const cr2 = e.cr2 >>> 0;
  memory.physical(cr2, view, walk);
  const entry = (name: string, address: number, value: number) =>
    `${name} at ${hex(address)} = ${hex(value)} (${value & PTE_PRESENT ? 'present' : 'not present'}${value & PTE_PRESENT ? `, ${value & PTE_WRITABLE ? 'writable' : 'read-only'}, ${value & PTE_USER ? 'user' : 'supervisor only'}` : ''})`;
  const parts = [`CR2 = ${hex(cr2)}`];
  if (!view.on) return `${parts[0]} (the guest's paging is off now)`;
  parts.push(entry('PDE', walk.pdeAddress, walk.pde));
  if (walk.pteAddress !== -1) parts.push(entry('PTE', walk.pteAddress, walk.pte));
  const code = e.errorCode;
  let why = '';
  if (!(code & 1)) why = 'the page is not mapped';
  else if (code & 4 && !walk.user && walk.errorCode === -1) why = 'a user-mode access to a supervisor page (U/S clear)';
  else if (code & 4 && walk.pde & PTE_PRESENT && !(walk.pde & PTE_USER)) why = 'a user-mode access through a directory entry without U/S';
  else if (code & 4 && walk.pte & PTE_PRESENT && !(walk.pte & PTE_USER)) why = 'a user-mode access to a supervisor page (U/S clear)';
  else if (code & 2) why = 'a write to a read-only page';
  return `${parts.join('; ')}${why ? `: ${why}` : ''}`;
}

/** One line per event: what it was, where, and why where that can be told. */
export function explainFaultChain(machine: Machine, events: ChainEvent[], describe?: (linear: number) => string, processor: CpuView = machine): string[] {
  const memory = new GuestMemory(machine, () => processor);
  const lines: string[] = [];
  events.forEach((e, i) => {
    const what = e.kind === EventKind.External ? `external interrupt 0x${e.vector.toString(16)}` : `${formatException(e.vector, e.errorCode)} ${exceptionName(e.vector)}`;
    const lead = i === 0 ? `${what} at ${where(e, describe)}, CPL ${e.cpl}` : e.vector === 8 ? `the two make a double fault: ${what}` : `while delivering it: ${what}`;
    lines.push(`${i + 1}. ${lead}`);
    const why = cause(processor, memory, e, i === 0);
    if (why) lines.push(`   ${why}`);
  });
  return lines;
}

/** The shutdown in one line: "#NP while delivering #DF, after #GP(0x0402: IDT vector 0x80) at 001B:40000010". */
export function summarizeFaultChain(events: ChainEvent[]): string {
  if (events.length === 0) return 'a triple fault';
  const first = events[0];
  const last = events[events.length - 1];
  const start = `${formatException(first.vector, first.errorCode)} at ${hex(first.cs, 4).slice(2)}:${hex(first.eip).slice(2)}`;
  return `a triple fault: ${exceptionMnemonic(last.vector)} while delivering a double fault, in a chain that began with ${start}`;
}
