/** The CPU's state: registers, set, print; info registers, gdt, idt, ldt, tss, tlb, mem (tab), fault. */
import { TLB_ALL, TLB_APIC, TLB_MMIO_SHIFT, TLB_READ, TLB_USER_READ, TLB_USER_WRITE, TLB_USER_WRITE_KEPT, TLB_WRITE, TLB_WRITE_KEPT } from '../../cpu/cpu.ts';
import { PDE_LARGE, PTE_PRESENT, PTE_USER, PTE_WRITABLE, WALK_PSE } from '../../cpu/page-walk.ts';
import { hex } from '../../cpu/physical-memory.ts';
import { IF, S_EFLAGS } from '../../cpu/state.ts';
import type { Machine } from '../../machine/machine.ts';
import type { Processor } from '../../machine/processor.ts';
import { CommandError } from '../command-error.ts';
import { formatInterruptTable, formatSegmentTable, formatTss } from '../descriptors.ts';
import { explainFaultChain } from '../fault-report.ts';
import { FLAG_BITS, formatRegisters, readRegister, writeRegister } from '../registers.ts';

const FLAG_NAMES = FLAG_BITS.map(([n]) => n.toLowerCase());
import type { DebugSession } from '../session.ts';
import { words, type DebugCommand } from './command.ts';

/** A topic of `info`. */
export interface InfoTopic {
  name: string;
  aliases?: string[];
  usage: string;
  summary: string;
  run(session: DebugSession, args: string): string;
}

/** `print`'s formats: x hex, d signed, u unsigned, o octal, t binary, c character, a address (with the symbol). */
export function formatValue(value: number, format: string, bytes = 4): string {
  const v = value >>> 0;
  switch (format) {
    case 'd': return String(bytes === 4 ? v | 0 : bytes === 2 ? (v << 16) >> 16 : (v << 24) >> 24);
    case 'u': return String(v);
    case 'o': return '0' + v.toString(8);
    case 't': return v.toString(2).padStart(bytes * 8, '0');
    case 'c': {
      // A character is the low byte, as gdb's /c takes it.
      const c = v & 0xff;
      return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `'\\x${c.toString(16).padStart(2, '0')}'`;
    }
    default: return '0x' + v.toString(16).padStart(bytes * 2, '0');
  }
}

const SIZES: Record<string, number> = { byte: 1, word: 2, dword: 4 };

/** How wide a register is, for showing it: al 1 byte, ax 2, eax 4 (a flag shows as a byte). */
function registerBytes(name: string): number {
  if (/^(e..|eip|eflags|cr\d|dr\d|pc)$/.test(name)) return 4;
  if (/^[abcd][lh]$/.test(name) || FLAG_NAMES.includes(name) || name === 'cpl') return 1;
  return 2;
}

/** `set REG = EXPR` or `set byte|word|dword [ADDR] = EXPR`. */
function set(session: DebugSession, args: string): string | void {
  const text = args.replace(/^var\s+/, '');
  const m = /^(.+?)\s*=\s*(.+)$/s.exec(text);
  if (!m) throw new CommandError('write set REG = EXPR (set eax = 0x1234, set zf = 1) or set dword [ADDR] = EXPR');
  const target = m[1].trim();
  const value = session.evaluate(m[2]);
  const memory = /^(byte|word|dword)\s*\[(.+)\]$/i.exec(target);
  if (memory) {
    const bytes = SIZES[memory[1].toLowerCase()];
    const address = session.resolveAddress(memory[2]);
    const data = Array.from({ length: bytes }, (_, i) => (value >>> (8 * i)) & 0xff);
    // (Through this processor's paging, whichever one has the focus when a replay makes the change again.)
    const through = session.memoryOf(session.processor);
    const refused = session.edit(`set ${target}`, () => through.write(address.address, data, address.physical));
    if (refused !== null) throw new CommandError(`nothing written: ${refused}`);
    return `${memory[1].toLowerCase()} [${address.physical ? 'p:' : ''}${hex(address.address)}] = ${formatValue(value, 'x', bytes)}`;
  }
  const name = target.replace(/^\$/, '').toLowerCase();
  const processor = session.processor;
  const error = session.edit(`set ${name}`, () => writeRegister(processor, name, value));
  if (error !== null) throw new CommandError(error);
  return `${name} = ${formatValue(readRegister(session.processor, name) ?? value, 'x', registerBytes(name))}`;
}

/** `info tlb [ADDR]`: what the CPU's TLB caches (linear page → host frame, with rights). */
function tlb(session: DebugSession, args: string): string {
  const entries = session.cpu.tlbEntries();
  const only = args.trim() === '' ? null : session.resolveAddress(args).address >>> 12;
  // (A page that holds decoded code is written through the slow path, as the same translation: TLB_WRITE_KEPT.)
  const rights = (e: number) => `supervisor ${e & TLB_READ ? 'r' : '-'}${e & (TLB_WRITE | TLB_WRITE_KEPT) ? 'w' : '-'}, user ${e & TLB_USER_READ ? 'r' : '-'}${e & (TLB_USER_WRITE | TLB_USER_WRITE_KEPT) ? 'w' : '-'}`;
  const lines = [`TLB: ${entries.length} pages cached (linear page -> host frame, supervisor and user rights; w only once the page is dirty)`];
  const shown = only === null ? entries.slice(0, 256) : entries.filter((e) => e.page === only);
  for (const e of shown) {
    // A device's page (TLB_MMIO_*): its physical address, every access on the slow path to the device.
    const device = (e.entry & (TLB_ALL << TLB_MMIO_SHIFT)) !== 0;
    const target = !device ? `HPA ${hex(e.entry & ~0xfff)}` : e.entry & TLB_APIC ? `APIC-access page (APICv)` : `MMIO at ${hex(e.entry & ~0xfff)}`;
    const allowed = device ? (e.entry >> TLB_MMIO_SHIFT) & TLB_ALL : e.entry;
    lines.push(`  ${hex(e.page << 12)} -> ${target}  ${rights(allowed)}${e.global ? '  global' : ''}${session.symbols.describe(e.page << 12) ? `  ${session.symbols.describe(e.page << 12)}` : ''}`);
  }
  if (only !== null && shown.length === 0) lines.push(`  ${hex(only << 12)}: not cached (the next access walks the page tables)`);
  if (only === null && entries.length > shown.length) lines.push(`  ... ${entries.length - shown.length} more ('info tlb ADDR' shows one page)`);
  return lines.join('\n');
}

/** `info mem`: the guest's page tables as ranges of linear addresses, with what they map to and allow. */
function mem(session: DebugSession): string {
  const view = session.memory.view();
  if (!view.on) return `Paging is off: linear addresses are physical (A20 ${view.a20Mask === -1 ? 'on' : 'off: bit 20 is cleared'}).`;
  const pv = view.machineToGuest !== null;
  const lines = [`The guest's page tables (CR3 ${hex(view.cr3)}${pv ? ', machine frames' : ''}): linear range -> ${pv ? 'machine' : 'physical'} range, rights`];
  type Run = { start: number; end: number; phys: number; flags: string };
  let run: Run | null = null;
  const flush = () => {
    if (run === null) return;
    const size = run.end - run.start;
    const human = size >= 1 << 20 && size % (1 << 20) === 0 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    lines.push(`  ${hex(run.start)}-${hex(run.end - 1)} -> ${hex(run.phys)}-${hex(run.phys + size - 1)}  ${human.padStart(8)}  ${run.flags}`);
    run = null;
  };
  const add = (start: number, phys: number, size: number, flags: string) => {
    if (run !== null && run.end === start && run.phys + (run.end - run.start) === phys && run.flags === flags) {
      run.end += size;
      return;
    }
    flush();
    run = { start, end: start + size, phys, flags };
  };
  const describe = (entry: number) => `${entry & PTE_WRITABLE ? 'rw' : 'r-'} ${entry & PTE_USER ? 'user' : 'supervisor'}`;
  for (let i = 0; i < 1024; i++) {
    const pde = view.tables.readTableEntry(((view.cr3 & ~0xfff) + i * 4) & view.addressMask) >>> 0;
    if (!(pde & PTE_PRESENT)) {
      flush();
      continue;
    }
    if (pde & PDE_LARGE && view.flags & WALK_PSE) {
      add(i * 0x400000, (pde & 0xffc00000) >>> 0, 0x400000, `${describe(pde)} 4M`);
      continue;
    }
    for (let j = 0; j < 1024; j++) {
      const pte = view.tables.readTableEntry(((pde & ~0xfff) + j * 4) & view.addressMask) >>> 0;
      if (!(pte & PTE_PRESENT)) {
        flush();
        continue;
      }
      add(i * 0x400000 + j * 0x1000, (pte & ~0xfff) >>> 0, 0x1000, describe(pde & pte));
    }
  }
  flush();
  if (lines.length === 1) lines.push('  (nothing mapped)');
  return lines.join('\n');
}

export const stateCommands: DebugCommand[] = [
  {
    name: 'cpu',
    usage: 'cpu [N]',
    summary: 'which processor the commands show and step (--smp); cpu N picks processor N',
    help: "As QEMU's monitor 'cpu N' and gdb's 'thread N': registers, x, disas, step, next, finish and\nthe other commands follow that processor. The others run on when the guest runs; a breakpoint,\nwatchpoint or catchpoint that one of them hits stops the guest there and makes it the current\none. 'info cpus' lists them.",
    run(session, args) {
      const processors = session.machine.processors;
      if (args.trim() !== '') {
        const n = session.evaluate(args);
        if (n < 0 || n >= processors.length) throw new CommandError(`there is no cpu ${args.trim()}: this machine has ${processors.length} processor${processors.length === 1 ? '' : 's'}, cpu 0${processors.length > 1 ? ` to cpu ${processors.length - 1}` : ''} (info cpus lists them)`);
        session.debugger.setFocus(processors[n]);
      }
      const p = session.processor;
      return `Current processor: cpu ${p.index} (APIC ID ${p.apic.id}${p.waitingForStartup ? ', waiting for a STARTUP IPI' : ''})\n${session.location()}`;
    },
  },
  {
    name: 'registers',
    aliases: ['regs', 'reg', 'r'],
    usage: 'registers',
    summary: 'the registers: general, EIP, EFLAGS decoded, segments with their hidden caches, CRs, DRs, CPL, mode',
    run: (session) => formatRegisters(session.processor, (linear) => session.symbols.describe(linear)),
  },
  {
    name: 'set',
    usage: 'set REG = EXPR | set byte|word|dword [ADDR] = EXPR',
    summary: 'change a register, a flag or memory',
    help: "Registers: eax..edi, ax..di, al..bh, eip, eflags, and one flag (set zf = 1). Memory is written\nthrough the guest's page tables, into RAM (the VMM is not told: a write to a shadowed page\ntable is not seen by the shadow until it is rebuilt).",
    run: set,
  },
  {
    name: 'print',
    aliases: ['p'],
    usage: 'print[/FMT] EXPR',
    summary: 'the value of an expression: hex, decimal and the symbol it points into',
    help:
      'Expressions: numbers (42, 0x2a, 2ah, \'*\'), registers (eax or $eax, ip, cr3, zf; pc is the\n' +
      'linear address of CS:EIP), symbols,\n' +
      "memory as NASM writes it ([esp+4] is a dword; byte [esi], word [...]) or gdb's *ADDR, and\n" +
      "C's operators (+ - * / % << >> & | ^ ~ ! == != < <= > >= && ||). FMT: x d u o t c a.",
    run(session, args) {
      const m = /^(?:\/(\S*))?\s*(.*)$/s.exec(args.trim())!;
      const format = m[1];
      if (format !== undefined && !/^[xduotca]$/.test(format)) throw new CommandError(`/${format}: print's format is one letter of x d u o t c a (x/s shows a string)`);
      if (m[2] === '') throw new CommandError('print what? (an expression: print eax+4, print [esp], print/x 42)');
      const value = session.evaluate(m[2]);
      if (format === 'a') {
        const symbol = session.symbols.describe(value);
        return `= ${formatValue(value, 'x')}${symbol ? ` ${symbol}` : ''}`;
      }
      if (format !== undefined) return `= ${formatValue(value, format)}`;
      const symbol = session.symbols.describe(value);
      return `= ${formatValue(value, 'x')} (${value >>> 0}${(value | 0) < 0 ? `, ${value | 0}` : ''})${symbol ? ` ${symbol}` : ''}`;
    },
  },
];

export const stateTopics: InfoTopic[] = [
  {
    name: 'registers',
    aliases: ['reg', 'r', 'all-registers'],
    usage: 'info registers [NAME...]',
    summary: 'the registers (or only those named)',
    run(session, args) {
      const names = words(args);
      if (names.length === 0) return formatRegisters(session.processor, (linear) => session.symbols.describe(linear));
      return names.map((n) => {
        const name = n.replace(/^\$/, '').toLowerCase();
        const v = readRegister(session.processor, name);
        if (v === undefined) throw new CommandError(`'${n}' is not a register`);
        return `${n.padEnd(8)}${formatValue(v, 'x', registerBytes(name))}  ${v >>> 0}`;
      }).join('\n');
    },
  },
  { name: 'gdt', usage: 'info gdt', summary: 'the GDT, decoded: segments, TSS and LDT descriptors, gates', run: (s) => formatSegmentTable(s.cpu, s.memory, 'gdt', (l) => s.symbols.describe(l)) },
  { name: 'ldt', usage: 'info ldt', summary: 'the current LDT, decoded', run: (s) => formatSegmentTable(s.cpu, s.memory, 'ldt', (l) => s.symbols.describe(l)) },
  {
    name: 'idt',
    aliases: ['ivt'],
    usage: 'info idt [VECTOR]',
    summary: 'the IDT gates that are present (or one), decoded; the IVT in real mode',
    run(s, args) {
      const vector = args.trim() === '' ? null : s.evaluate(args);
      if (vector !== null && vector > 255) throw new CommandError(`'${args.trim()}' is no vector: vectors go from 0 to 255`);
      return formatInterruptTable(s.cpu, s.memory, vector, (l) => s.symbols.describe(l));
    },
  },
  { name: 'tss', usage: 'info tss', summary: 'the current TSS: its stacks for rings 0-2, saved registers, I/O map base', run: (s) => formatTss(s.cpu, s.memory) },
  { name: 'tlb', usage: 'info tlb [ADDR]', summary: "the CPU's TLB: cached linear pages, their host frames and rights", run: tlb },
  {
    name: 'cpus',
    aliases: ['processors'],
    usage: 'info cpus',
    summary: 'the processors (--smp): APIC ID, running, halted or waiting for a STARTUP IPI, CS:EIP, instructions',
    run: (s) => formatProcessors(s.machine, s.processor),
  },
  {
    name: 'mem',
    aliases: ['tab', 'pages'],
    usage: 'info mem',
    summary: "the guest's page tables as ranges: linear -> physical, rights (Bochs's info tab)",
    run: mem,
  },
  {
    name: 'fault',
    usage: 'info fault',
    summary: 'the last exception delivered, and the chain it started (why a guest shut down)',
    run(s) {
      const chain = s.cpu.faultChain;
      if (chain.length === 0) return 'No exception or interrupt has been delivered yet.';
      const head = chain.shutdown ? 'The last delivery ended in a triple fault:' : 'The last event delivered:';
      return [head, ...explainFaultChain(s.machine, chain.events, (l) => s.symbols.describe(l), s.processor).map((l) => `  ${l}`)].join('\n');
    },
  },
];

/**
 * One line per processor (QEMU's `info cpus`): whether it runs, is halted or waits for a STARTUP
 * IPI, where it is, how many instructions it has retired; a star marks the one the commands follow.
 */
function formatProcessors(machine: Machine, focus: Processor): string {
  const lines = machine.processors.map((p) => {
    const cpu = p.cpu;
    const state = p.waitingForStartup ? 'waiting for a STARTUP IPI' : !cpu.halted ? 'running' : cpu.st[S_EFLAGS] & IF ? 'halted, waiting for an interrupt' : 'halted with interrupts off';
    const where = p.waitingForStartup ? '' : `  at ${cpu.location()}`;
    return `${p === focus ? '*' : ' '} cpu ${p.index}  APIC ID ${p.apic.id}  ${p.bootstrap ? 'bootstrap' : 'application'} processor, ${state}${where}, ${cpu.instructions} instructions`;
  });
  if (machine.processors.length > 1) lines.push("(* the processor the other commands show and step: 'cpu N' picks another)");
  return lines.join('\n');
}
