/**
 * The VMM's side: translate (GVA → GPA → HVA → HPA, every level), exits, stats, and info vmcs,
 * ept, shadow, pv, slots, frames.
 */
import { EPT_EXECUTE, EPT_READ, EPT_WRITE } from '../../vmm/ept.ts';
import { hex } from '../../cpu/physical-memory.ts';
import { S_CR3 } from '../../cpu/state.ts';
import { PTE_ACCESSED, PTE_DIRTY, PTE_GLOBAL, PTE_PRESENT, PTE_USER, PTE_WRITABLE, PDE_LARGE } from '../../cpu/page-walk.ts';
import { formatStats } from '../../machine/stats.ts';
import { describeExit, EXIT_REASONS } from '../../vmm/exit-info.ts';
import { Field } from '../../vmm/vmcs.ts';
import { IDENTITY } from '../../vmm/shadow.ts';
import { CommandError } from '../command-error.ts';
import type { DebugSession } from '../session.ts';
import { countArgument, type DebugCommand } from './command.ts';
import type { InfoTopic } from './state.ts';

/** A page-table entry's bits: "P RW U A D" and so on. */
function pteBits(entry: number, directory: boolean): string {
  if (!(entry & PTE_PRESENT)) return 'not present';
  const bits = ['P', entry & PTE_WRITABLE ? 'RW' : 'RO', entry & PTE_USER ? 'U' : 'S'];
  if (entry & PTE_ACCESSED) bits.push('A');
  if (entry & PTE_DIRTY) bits.push('D');
  if (directory && entry & PDE_LARGE) bits.push('PS(4M)');
  if (entry & PTE_GLOBAL) bits.push('G');
  return bits.join(' ');
}

const eptBits = (p: number) => `${p & EPT_READ ? 'r' : '-'}${p & EPT_WRITE ? 'w' : '-'}${p & EPT_EXECUTE ? 'x' : '-'}`;

/** `translate GVA`: the whole walk, as the machine does it, changing nothing. */
function translate(session: DebugSession, args: string): string {
  if (args.trim() === '') throw new CommandError('translate what? translate GVA (a linear address: translate 0x40001000, translate esp)');
  const target = session.resolveAddress(args);
  if (target.physical) throw new CommandError('translate takes a guest-virtual (linear) address; xp reads a physical one');
  const machine = session.machine;
  const t = machine.translate(target.address, session.processor);
  const vcpu = session.processor.vcpu;
  const mode = machine.config.mode ?? 'bare';
  const pv = t.machine !== null || vcpu?.pv != null;
  const view = session.memory.view();
  const symbol = session.symbols.describe(t.gva);
  const lines = [`GVA ${hex(t.gva)}${symbol ? ` ${symbol}` : ''}  (mode ${mode})`];
  if (view.on) {
    const where = pv ? 'machine address' : 'GPA';
    lines.push(`  the guest's page walk, from its CR3 ${hex(view.cr3)}${pv ? ' (a machine address: a paravirtual guest\'s tables hold machine frames)' : ''}:`);
    for (const level of t.guestWalk) {
      const index = level.level === 'PDE' ? t.gva >>> 22 : (t.gva >>> 12) & 0x3ff;
      lines.push(`    ${level.level}[${String(index).padStart(4)}] at ${where} ${hex(level.address)} = ${hex(level.entry)}  ${pteBits(level.entry, level.level === 'PDE')}`);
    }
    if (t.access) lines.push(`    the page allows: ${t.access.writable ? 'read and write' : 'read only'}, ${t.access.user ? 'user and supervisor' : 'supervisor only'}${t.access.large ? ' (a 4 MiB page)' : ''}`);
  } else {
    lines.push(`  the guest's paging is off: GPA = GVA${view.a20Mask === -1 ? '' : ' with bit 20 cleared (the A20 gate is closed)'}`);
  }
  if (t.machine !== null) lines.push(`  machine address ${hex(t.machine)}: its pseudo-physical frame (M2P) gives the GPA`);
  if (t.gpa !== null) lines.push(`  GPA ${hex(t.gpa)}`);
  if (t.slot !== null) lines.push(`  memory slot ${t.slot.slot} (${t.slot.label}): GPA ${hex(t.slot.guestPhysAddr)}-${hex(t.slot.guestPhysAddr + t.slot.size - 1)} at HVA ${hex(t.slot.userspaceAddr)}${t.slot.readOnly ? ', read-only' : ''}`);
  if (t.hva !== null) lines.push(`  HVA ${hex(t.hva)}  (${vcpu === null ? "minivisor's own address for it: no VMM, but the host still keeps guest RAM in its memory" : "the VMM's own virtual address"})`);
  if (t.hostPageTable !== null) lines.push(`  host page table: HVA page ${hex(t.hostPageTable.hva & ~0xfff)} -> ${t.hostPageTable.hpa === null ? 'no frame yet (nothing touched it)' : `frame ${hex(t.hostPageTable.hpa & ~0xfff)}`}`);
  if (vcpu?.ept) {
    lines.push(`  EPT (EPTP ${hex(vcpu.ept.pointer)}), GPA -> HPA:`);
    for (const level of t.eptWalk) {
      const present = level.entry & 7;
      lines.push(`    ${level.level.padEnd(4)}[${String(level.index).padStart(3)}] in table ${hex(level.tableHpa)} = ${hex(level.entry)}  ${present ? eptBits(level.entry) : 'not present'}`);
    }
  }
  if (t.identity !== null) {
    const e = t.identity.entry;
    lines.push(`  the VMM's identity page directory (the CPU's page table while the guest's paging is off: --unrestricted off), GVA = GPA:`);
    lines.push(`    PDE[${String(t.gva >>> 22).padStart(4)}] at GPA ${hex(t.identity.address)} = ${hex(e)}  ${e & 1 ? pteBits(e, true) : 'not filled yet: the next access is a #PF that the VMM fills'}`);
  }
  if (t.shadow !== null) {
    const identity = vcpu?.restricted && !view.on;
    const which = identity ? 'the identity shadow (the page table the CPU walks while the guest\'s paging is off: --unrestricted off)' : `shadow page table (the one the CPU walks, rooted at CR3 ${hex(session.cpu.st[S_CR3])})`;
    lines.push(`  ${which}: entry ${hex(t.shadow.entry)}  ${t.shadow.entry & 1 ? pteBits(t.shadow.entry, false) : 'not filled yet'}`);
  }
  if (t.hpa !== null) {
    const value = session.memory.readValue(t.gva, 4);
    lines.push(`  HPA ${hex(t.hpa)}  (host-physical: the byte is here${value === null ? '' : `; the dword there is ${hex(value)}`})`);
  }
  if (t.stop !== null) lines.push(`  stops: ${t.stop}`);
  return lines.join('\n');
}

/** `exits [N]`: the last N VM exits from the log, decoded. */
function exits(session: DebugSession, args: string): string {
  if (session.processor.vcpu === null) return 'No VM exits in --mode bare: there is no VMM to exit to (run under ept, shadow or pv).';
  const n = args.trim() === '' ? 10 : countArgument(session, args, 4096);
  const log = session.debugger.exitLog;
  if (log.length === 0) return 'No VM exits yet.';
  const shown = log.slice(-n);
  // With several processors each exit says whose vCPU it was (its count is that processor's).
  const several = session.machine.processors.length > 1;
  const lines = [`${session.debugger.exitsSeen} VM exits since the debugger started; the last ${shown.length}:`, `       ${several ? 'cpu ' : ''}instructions  CS:EIP          reason: what`];
  const first = session.debugger.exitsSeen - shown.length + 1;
  shown.forEach((r, i) => {
    const where = `${hex(r.cs, 4).slice(2)}:${hex(r.exit.guestRip).slice(2)}`;
    lines.push(`  ${String(first + i).padStart(5)} ${several ? `${String(r.cpu).padStart(3)} ` : ''}${String(r.retired).padStart(12)}  ${where}  ${describeExit(r.exit)}`);
  });
  return lines.join('\n');
}

/** Control bits by field: bit → the SDM's name (Vol. 3, 25.6). */
const CONTROL_BITS: Partial<Record<Field, Record<number, string>>> = {
  [Field.PIN_BASED_VM_EXEC_CONTROL]: { 0: 'external-interrupt exiting', 3: 'NMI exiting', 5: 'virtual NMIs', 6: 'VMX-preemption timer' },
  [Field.CPU_BASED_VM_EXEC_CONTROL]: {
    2: 'interrupt-window exiting', 3: 'use TSC offsetting', 7: 'HLT exiting', 9: 'INVLPG exiting', 10: 'MWAIT exiting', 11: 'RDPMC exiting',
    12: 'RDTSC exiting', 15: 'CR3-load exiting', 16: 'CR3-store exiting', 19: 'CR8-load exiting', 20: 'CR8-store exiting', 21: 'use TPR shadow',
    22: 'NMI-window exiting', 23: 'MOV-DR exiting', 24: 'unconditional I/O exiting', 25: 'use I/O bitmaps', 27: 'monitor trap flag',
    28: 'use MSR bitmaps', 29: 'MONITOR exiting', 30: 'PAUSE exiting', 31: 'activate secondary controls',
  },
  [Field.SECONDARY_VM_EXEC_CONTROL]: { 0: 'virtualize APIC accesses', 1: 'enable EPT', 2: 'descriptor-table exiting', 3: 'enable RDTSCP', 5: 'enable VPID', 6: 'WBINVD exiting', 7: 'unrestricted guest', 8: 'APIC-register virtualization' },
};

/** The four kinds of field, by bits 11:10 of the encoding (SDM Vol. 3, Appendix B). */
const FIELD_KINDS = ['controls', 'exit information (read-only)', 'guest state', 'host state'];

function vmcsField(field: Field, value: number): string {
  const name = Field[field] ?? `field ${hex(field, 4)}`;
  let detail = '';
  const bits = CONTROL_BITS[field];
  if (bits !== undefined) {
    const set = Object.entries(bits).filter(([bit]) => (value >>> Number(bit)) & 1).map(([, n]) => n);
    detail = set.length ? `  ${set.join(', ')}` : '';
  } else if (field === Field.EXCEPTION_BITMAP) {
    const vectors = [...Array(32).keys()].filter((v) => (value >>> v) & 1);
    detail = vectors.length ? `  vectors ${vectors.join(', ')}${vectors.includes(14) ? ' (#PF: shadow paging)' : ''}` : '  no exception exits';
  } else if (field === Field.VM_EXIT_REASON) {
    detail = `  ${EXIT_REASONS[value]?.name ?? ''}`;
  }
  return `  ${name.toLowerCase().padEnd(32)} ${hex(value)}${detail}`;
}

function infoVmcs(session: DebugSession): string {
  const vcpu = session.processor.vcpu;
  if (vcpu === null) return 'No VMCS in --mode bare: the guest runs on the bare machine (run under ept, shadow or pv).';
  const groups = new Map<number, string[]>();
  for (const [field, value] of vcpu.vmcs.entries()) {
    const kind = (field >> 10) & 3;
    if (!groups.has(kind)) groups.set(kind, []);
    groups.get(kind)!.push(vmcsField(field, value));
  }
  const lines = [`VMCS (field names and encodings as in the SDM, Vol. 3, Appendix B), ${vcpu.hasLaunched ? 'launched' : 'not launched yet'}:`];
  for (const kind of [0, 2, 1, 3]) {
    const rows = groups.get(kind);
    if (rows) lines.push(`${FIELD_KINDS[kind]}:`, ...rows);
  }
  return lines.join('\n');
}

/** Consecutive pages as ranges: "GPA a-b -> HPA c-d". */
function ranges(pages: { from: number; to: number; tag: string }[], fromName: string, toName: string): string[] {
  const lines: string[] = [];
  let run: { from: number; to: number; tag: string; count: number } | null = null;
  const flush = () => {
    if (run === null) return;
    const size = run.count * 4096;
    lines.push(`  ${fromName} ${hex(run.from)}-${hex(run.from + size - 1)} -> ${toName} ${hex(run.to)}-${hex(run.to + size - 1)}  ${String(run.count).padStart(6)} page${run.count === 1 ? ' ' : 's'}  ${run.tag}`);
  };
  for (const p of pages) {
    if (run !== null && p.from === run.from + run.count * 4096 && p.to === run.to + run.count * 4096 && p.tag === run.tag) run.count++;
    else {
      flush();
      run = { ...p, count: 1 };
    }
  }
  flush();
  return lines;
}

function infoEpt(session: DebugSession): string {
  const vcpu = session.processor.vcpu;
  const ept = vcpu?.ept;
  if (!ept) return `No EPT in --mode ${session.machine.config.mode ?? 'bare'}${vcpu?.shadow ? ': shadow page tables instead (info shadow)' : vcpu?.pv ? ': the guest maps machine frames itself (info pv)' : ''}.`;
  const maps = ept.mappings();
  return [
    `EPT: EPTP ${hex(ept.pointer)} (root table ${hex(ept.root)}), ${maps.length} guest pages mapped, ${ept.tableFrames} frames of EPT tables, ${vcpu!.eptMappings} violations mapped a page`,
    ...ranges(maps.map((m) => ({ from: m.gpa, to: m.hpa, tag: eptBits(m.permissions) })), 'GPA', 'HPA'),
  ].join('\n');
}

function infoShadow(session: DebugSession): string {
  const shadow = session.processor.vcpu?.shadow;
  if (!shadow) return `No shadow page tables in --mode ${session.machine.config.mode ?? 'bare'} (run with --mode shadow).`;
  const mmu = shadow.mmu;
  const s = mmu.stats;
  const lookups = s.cacheHits + s.cacheMisses;
  const lines = [
    `Shadow page tables: the guest's CR3 is ${hex(shadow.guestCr3)}, paging ${shadow.guestPagingOn ? 'on' : 'off (the identity shadow)'}; the cache keeps ${mmu.capacity} root${mmu.capacity === 1 ? '' : 's'} (${mmu.capacity === 1 ? 'off' : 'on'})`,
    'cached roots (most recently used first):',
  ];
  for (const r of mmu.describeRoots()) {
    lines.push(`  ${r.current ? '*' : ' '} ${r.key === IDENTITY ? 'identity (paging off)' : `guest CR3 ${hex(r.key)}`} -> shadow directory at HPA ${hex(r.directory)}, ${r.tables} shadow page table${r.tables === 1 ? '' : 's'}`);
  }
  const pages = mmu.protectedTablePages();
  lines.push(`guest pages write-protected because they hold page tables: ${pages.length}`);
  for (const p of pages.slice(0, 64)) lines.push(`  GPA ${hex(p.page)}  used by ${p.uses} shadow${p.uses === 1 ? '' : 's'}${p.selfMapped ? ', maps itself: its writes are always emulated' : ''}`);
  if (pages.length > 64) lines.push(`  ... ${pages.length - 64} more`);
  lines.push(
    `work: ${s.filled} faults filled, ${s.injected} injected into the guest, ${s.writeProtectTraps} page-table writes trapped, ${s.unshadowed} tables unshadowed, ${s.zapped} entries dropped, ${s.emulated} MMIO/ROM accesses emulated`,
    `cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (${lookups ? ((100 * s.cacheHits) / lookups).toFixed(1) : '0.0'}% hits), ${s.evictions} evictions; ${mmu.tableFrames} frames of shadow tables`,
  );
  return lines.join('\n');
}

function infoPv(session: DebugSession): string {
  const pv = session.processor.vcpu?.pv;
  if (!pv) return `No paravirtual paging in --mode ${session.machine.config.mode ?? 'bare'} (run a guest written for it with --mode pv).`;
  const mmu = pv.mmu;
  const s = mmu.stats;
  const pinned = mmu.pinnedTables();
  const lines = [
    `Paravirtual paging: the guest's paging is ${pv.guestPagingOn ? 'on' : 'off'}; its page directory (CR3) is ${mmu.baseMachineAddress < 0 ? 'not set yet' : `machine address ${hex(mmu.baseMachineAddress)}`}; ${mmu.ramFrames} machine frames of RAM in its P2M`,
    `pinned tables: ${pinned.length}`,
  ];
  for (const p of pinned.slice(0, 64)) lines.push(`  machine frame ${hex(p.mfn << 12)} (pseudo-physical ${hex(mmu.pseudoPhysicalFrame(p.mfn) << 12)})  ${p.level === 'L2' ? 'L2: a page directory' : 'L1: a page table'}`);
  if (pinned.length > 64) lines.push(`  ... ${pinned.length - 64} more`);
  lines.push(`hypercalls: ${s.pins} pins, ${s.unpins} unpins, ${s.updates} entries updated, ${s.baseLoads} CR3 loads, ${s.rejected} requests refused${session.processor.vcpu!.lastRefusal ? ` (the last: ${session.processor.vcpu!.lastRefusal})` : ''}`);
  return lines.join('\n');
}

function infoSlots(session: DebugSession): string {
  const phys = session.machine.phys;
  const lines = ['Memory slots (KVM_SET_USER_MEMORY_REGION): GPA range -> HVA, and what they are'];
  for (const s of phys.slots) lines.push(`  slot ${String(s.slot).padStart(2)}  GPA ${hex(s.guestPhysAddr)}-${hex(s.guestPhysAddr + s.size - 1)}  -> HVA ${hex(s.userspaceAddr)}  ${String(s.size >> 10).padStart(8)} KiB  ${s.readOnly ? 'read-only' : 'read-write'}  ${s.label}${s.vmmPrivate ? ' (private: the VMM maps it for its CPU; the guest finds nothing there)' : ''}`);
  lines.push('MMIO (no slot: accesses exit to the machine, as KVM_EXIT_MMIO):');
  for (const m of phys.mmioRegions) lines.push(`  GPA ${hex(m.base)}-${hex(m.base + m.size - 1)}  ${m.device}`);
  lines.push('Everything else is a hole: reads give all ones, writes vanish.');
  return lines.join('\n');
}

function infoFrames(session: DebugSession): string {
  const host = session.machine.phys.hostMemory;
  const pages = host.mappedPages();
  return [
    `Host frames: ${host.framesInUse} of ${host.frameCount} in use (${((host.framesInUse * 4096) / 1048576).toFixed(1)} MiB), ${host.tableFrames} of them the VMM's own tables (EPT or shadow); guest RAM ${session.machine.config.memoryBytes >> 20} MiB`,
    "the host's page table (HVA -> HPA), pages touched so far:",
    ...ranges(pages.map((p) => ({ from: p.hva, to: p.hpa, tag: '' })), 'HVA', 'HPA'),
  ].join('\n');
}

export const vmmCommands: DebugCommand[] = [
  {
    name: 'translate',
    aliases: ['t', 'walk'],
    usage: 'translate GVA',
    summary: 'GVA -> GPA -> HVA -> HPA: every level of the walk, as the machine does it',
    help:
      "The guest's page-directory and page-table entries (address, value, bits), the GPA, the memory\n" +
      "slot and the HVA, the host's frame (HPA), and what the VMM maps in between: the EPT's four\n" +
      'levels under --mode ept, the shadow entry the CPU walks under --mode shadow, the machine frame\n' +
      'under --mode pv. Changes nothing: no accessed bits, no exits, no frames allocated.',
    run: translate,
  },
  {
    name: 'exits',
    usage: 'exits [N]',
    summary: 'the last N VM exits (default 10), decoded: reason, port/CR/EPT access, CS:EIP, when',
    run: exits,
  },
  {
    name: 'stats',
    usage: 'stats',
    summary: 'instructions, blocks compiled, VM exits by reason, EPT/shadow/PV work, host frames',
    run: (session) => formatStats(session.machine, null).replace(/\n$/, '').replace(/^minivisor: /gm, ''),
  },
];

export const vmmTopics: InfoTopic[] = [
  { name: 'vmcs', usage: 'info vmcs', summary: 'the VMCS: controls decoded, exception bitmap, guest state, the last exit', run: infoVmcs },
  { name: 'ept', usage: 'info ept', summary: 'the EPT: its root, and the guest pages it maps (GPA -> HPA ranges)', run: infoEpt },
  { name: 'shadow', usage: 'info shadow', summary: 'shadow paging: cached roots, write-protected guest tables, the work done', run: infoShadow },
  { name: 'pv', usage: 'info pv', summary: 'paravirtual paging: the base, pinned tables, hypercalls', run: infoPv },
  { name: 'slots', usage: 'info slots', summary: 'memory slots (GPA -> HVA) and MMIO regions', run: infoSlots },
  { name: 'frames', usage: 'info frames', summary: "host frames in use and the host's page table (HVA -> HPA)", run: infoFrames },
];
