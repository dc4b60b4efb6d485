/**
 * GVA → GPA → HVA → HPA, every step shown: the guest's own page walk (each level's entry), the
 * memory slot that holds the guest-physical address, the host's page table, and what the VMM
 * maps underneath (the EPT's levels, the shadow's entry, or a paravirtual guest's machine
 * frame). For the debugger and for people: it reads, and changes nothing (no accessed bits, no
 * exits, no mappings made).
 */
import type { Cpu } from '../cpu/cpu.ts';
import type { MemorySlot, PhysicalMemory } from '../cpu/physical-memory.ts';
import { PageWalk, WALK_PSE, WALK_WP, walkPageTables, type PageTableMemory } from '../cpu/page-walk.ts';
import { CR0_PG, CR0_WP, CR4_PSE, S_A20_MASK, S_CR0, S_CR3, S_CR4 } from '../cpu/state.ts';
import type { EptLevel } from './ept.ts';
import { NO_FRAME } from '../cpu/host-memory.ts';
import { GuestPhysicalTables } from './guest-walk.ts';
import type { Vcpu } from './vcpu.ts';
import { Field } from './vmcs.ts';

/**
 * The guest's paging as the guest set it, whatever the VMM runs underneath (under shadow
 * paging the CPU's CR3 is a shadow's; a paravirtual guest's tables hold machine frames): what
 * a walk of the guest's own tables needs.
 */
export interface GuestPagingView {
  /** CR0.PG as the guest set it. */
  on: boolean;
  /** The guest's CR3 (a paravirtual guest's: the machine address of its directory). */
  cr3: number;
  /** WALK_WP and WALK_PSE, as the guest set CR0.WP and CR4.PSE. */
  flags: number;
  /** Where the guest's entries are read. */
  tables: PageTableMemory;
  /** Masks the walk's physical addresses: the A20 gate on the bare machine and under EPT; -1 where the VMM walks. */
  addressMask: number;
  /** The A20 gate, for unpaged addresses. */
  a20Mask: number;
  /** Paravirtual paging: turns a machine address the tables gave into the guest's pseudo-physical one (-1: not the guest's). */
  machineToGuest: ((machine: number) => number) | null;
}

/** Page tables in host (machine) memory: a paravirtual guest's. */
class MachineTables implements PageTableMemory {
  constructor(private readonly memory: PhysicalMemory) {}
  readTableEntry(address: number): number {
    const at = address >>> 0;
    return at + 4 <= this.memory.host.length ? this.memory.hostView.getInt32(at & ~3, true) : 0;
  }
  writeTableEntry(): void {
    throw new Error('the debugger and translate only read a paravirtual guest\'s tables');
  }
}

export function guestPagingView(cpu: Cpu, memory: PhysicalMemory, vcpu: Vcpu | null): GuestPagingView {
  const st = cpu.st;
  const a20Mask = st[S_A20_MASK];
  const shadow = vcpu?.shadow ?? null;
  const pv = vcpu?.pv ?? null;
  if (shadow !== null) {
    const paging = shadow.guestPaging;
    return {
      on: shadow.guestPagingOn, cr3: paging.cr3, flags: (paging.wp ? WALK_WP : 0) | (paging.pse ? WALK_PSE : 0),
      tables: new GuestPhysicalTables(memory), addressMask: a20Mask, a20Mask, machineToGuest: null,
    };
  }
  if (pv !== null) {
    const wp = (vcpu!.vmcs.read(Field.CR0_READ_SHADOW) & CR0_WP) !== 0;
    return {
      on: pv.guestPagingOn, cr3: Math.max(pv.mmu.baseMachineAddress, 0), flags: wp ? WALK_WP : 0,
      tables: new MachineTables(memory), addressMask: -1, a20Mask,
      machineToGuest: (machine) => {
        const pfn = pv.mmu.pseudoPhysicalFrame(machine >>> 12);
        return pfn < 0 ? -1 : ((pfn << 12) | (machine & 0xfff)) >>> 0;
      },
    };
  }
  return {
    on: (st[S_CR0] & CR0_PG) !== 0, cr3: st[S_CR3] >>> 0, flags: (st[S_CR0] & CR0_WP ? WALK_WP : 0) | (st[S_CR4] & CR4_PSE ? WALK_PSE : 0),
    tables: new GuestPhysicalTables(memory), addressMask: a20Mask, a20Mask, machineToGuest: null,
  };
}

/**
 * GVA → GPA by the guest's own tables, read-only: the GPA, or -1 when the guest's tables do
 * not map it (`walk`, when given, receives the levels).
 */
export function guestPhysicalOf(view: GuestPagingView, gva: number, walk = new PageWalk()): number {
  if (!view.on) return (gva & view.a20Mask) >>> 0;
  if (!walkPageTables(view.tables, view.cr3, gva, view.flags, view.addressMask, walk)) return -1;
  return view.machineToGuest === null ? walk.physical >>> 0 : view.machineToGuest(walk.physical);
}

export interface GuestWalkLevel {
  level: 'PDE' | 'PTE';
  /** Where the entry is (guest-physical; machine-physical for a paravirtual guest), and what it holds. */
  address: number;
  entry: number;
}

export interface Translation {
  gva: number;
  /** The guest's page walk; empty when paging is off (GPA = GVA, through the A20 gate). */
  guestWalk: GuestWalkLevel[];
  /** What the guest's entries allow, when the walk reached a page. */
  access: { writable: boolean; user: boolean; large: boolean } | null;
  /** Paravirtual paging: the machine address the guest's tables gave (its GPA is the pseudo-physical one behind it). */
  machine: number | null;
  gpa: number | null;
  slot: MemorySlot | null;
  hva: number | null;
  /** The host's page table (the VMM process's): the frame behind the HVA's page, or null before its first touch. */
  hostPageTable: { hva: number; hpa: number | null } | null;
  /** The EPT walk for the GPA (empty on the bare machine and under shadow or paravirtual paging). */
  eptWalk: EptLevel[];
  /**
   * Under shadow paging: the shadow's entry for the GVA (0 when it has none yet: the next access
   * is a shadow fault), and the HPA it gives. The CPU walks this, not the guest's tables.
   */
  shadow: { entry: number; hpa: number | null } | null;
  /**
   * Under EPT without "unrestricted guest", while the guest's paging is off: the VMM's identity
   * directory's entry for the GVA (where it is, guest-physical, and what it holds; 0 until the
   * first access fills it). The CPU walks this, then the EPT.
   */
  identity: { address: number; entry: number } | null;
  hpa: number | null;
  /** Where the translation stops, when it does: "not present in the guest's page table", "no slot: MMIO", ... */
  stop: string | null;
}

export function translateAddress(cpu: Cpu, memory: PhysicalMemory, vcpu: Vcpu | null, gva: number): Translation {
  const ept = vcpu?.ept ?? null;
  const shadow = vcpu?.shadow ?? null;
  const view = guestPagingView(cpu, memory, vcpu);
  const t: Translation = {
    gva: gva >>> 0, guestWalk: [], access: null, machine: null, gpa: null, slot: null, hva: null, hostPageTable: null, eptWalk: [], shadow: null, identity: null, hpa: null, stop: null,
  };
  if (ept !== null && vcpu?.restricted && !view.on) t.identity = vcpu.restricted.identityEntryFor(gva);
  if (shadow !== null) {
    const entry = shadow.mmu.entryFor(view.on ? gva : (gva & view.a20Mask));
    t.shadow = { entry: entry >>> 0, hpa: entry & 1 ? ((entry & ~0xfff) | (gva & 0xfff)) >>> 0 : null };
  }
  if (view.on) {
    const walk = new PageWalk();
    const gpa = guestPhysicalOf(view, gva, walk);
    t.guestWalk.push({ level: 'PDE', address: walk.pdeAddress >>> 0, entry: walk.pde >>> 0 });
    if (walk.pteAddress !== -1) t.guestWalk.push({ level: 'PTE', address: walk.pteAddress >>> 0, entry: walk.pte >>> 0 });
    if (walk.errorCode !== -1) return { ...t, stop: walk.pteAddress === -1 ? 'not present in the guest page directory' : 'not present in the guest page table' };
    t.access = { writable: walk.writable, user: walk.user, large: walk.large };
    if (view.machineToGuest !== null) {
      t.machine = walk.physical >>> 0;
      t.hpa = t.machine;
      if (gpa === -1) return { ...t, stop: 'that machine frame is not the guest\'s' };
    }
    t.gpa = gpa;
  } else {
    t.gpa = (gva & view.a20Mask) >>> 0;
  }
  const slot = memory.slotAt(t.gpa) ?? null;
  t.slot = slot;
  if (ept !== null) {
    t.eptWalk = ept.walk(t.gpa);
    const leaf = ept.lookup(t.gpa);
    if (leaf !== null) t.hpa = (leaf.hpa | (t.gpa & 0xfff)) >>> 0;
  }
  if (slot === null) return { ...t, stop: 'no memory slot: MMIO or a hole' };
  t.hva = slot.userspaceAddr + (t.gpa - slot.guestPhysAddr);
  const frame = memory.hostMemory.frameOf(t.hva);
  const hostHpa = frame === NO_FRAME ? null : (frame | (t.hva & 0xfff)) >>> 0;
  t.hostPageTable = { hva: t.hva, hpa: hostHpa };
  if (shadow !== null) {
    t.hpa = t.shadow!.hpa;
    if (t.hpa === null) t.stop = 'not in the shadow yet: the next access is a shadow fault that fills it';
  } else if (t.machine !== null) {
    // Paravirtual: the machine frame is the HPA, as the guest's own entry says.
  } else if (ept === null) {
    t.hpa = hostHpa;
    if (hostHpa === null) t.stop = 'no host frame yet: nothing has touched this page';
  } else if (t.hpa === null) {
    t.stop = hostHpa === null ? 'not in the EPT and no host frame yet: the first access will be an EPT violation that backs it' : 'not in the EPT yet: the first access will be an EPT violation';
  }
  return t;
}
