/**
 * GVA → GPA → HVA → HPA, every step shown: the guest's own page walk (each level's entry),
 * the memory slot that holds the guest-physical address, the host's page table, and the EPT
 * (each level's entry). For the debugger and for people: it reads, and changes nothing (no
 * accessed bits, no exits, no mappings made).
 */
import type { Cpu } from '../cpu/cpu.ts';
import type { MemorySlot, PhysicalMemory } from '../cpu/physical-memory.ts';
import { CR0_PG, S_A20_MASK, S_CR0, S_CR3, S_CR4 } from '../cpu/state.ts';
import type { Ept, EptLevel } from './ept.ts';
import { NO_FRAME } from '../cpu/host-memory.ts';
import type { ShadowPaging } from './shadow-paging.ts';

export interface GuestWalkLevel {
  level: 'PDE' | 'PTE';
  /** Guest-physical address of the entry, and what it holds. */
  address: number;
  entry: number;
}

export interface Translation {
  gva: number;
  /** The guest's page walk; empty when paging is off (GPA = GVA, through the A20 gate). */
  guestWalk: GuestWalkLevel[];
  gpa: number | null;
  slot: MemorySlot | null;
  hva: number | null;
  /** The host's page table (the VMM process's): the frame behind the HVA's page, or null before its first touch. */
  hostPageTable: { hva: number; hpa: number | null } | null;
  /** The EPT walk for the GPA (empty on the bare machine and under shadow paging). */
  eptWalk: EptLevel[];
  /**
   * Under shadow paging: the shadow's entry for the GVA (0 when it has none yet: the next access
   * is a shadow fault), and the HPA it gives. The CPU walks this, not the guest's tables.
   */
  shadow: { entry: number; hpa: number | null } | null;
  hpa: number | null;
  /** Where the translation stops, when it does: "not present in the guest's page table", "no slot: MMIO", ... */
  stop: string | null;
}

export function translateAddress(cpu: Cpu, memory: PhysicalMemory, ept: Ept | null, gva: number, shadow: ShadowPaging | null = null): Translation {
  const st = cpu.st;
  const t: Translation = { gva: gva >>> 0, guestWalk: [], gpa: null, slot: null, hva: null, hostPageTable: null, eptWalk: [], shadow: null, hpa: null, stop: null };
  const readGuestPhysical = (gpa: number) => memory.read(gpa, 4) >>> 0;
  // The guest's own paging controls: under shadow paging the CPU's are the VMM's.
  const paging = shadow === null ? (st[S_CR0] & CR0_PG) !== 0 : shadow.guestPagingOn;
  const cr3 = shadow === null ? st[S_CR3] : shadow.guestCr3;
  const pse = shadow === null ? (st[S_CR4] & 0x10) !== 0 : shadow.guestPaging.pse;
  if (shadow !== null) {
    const entry = shadow.mmu.entryFor(paging ? gva : (gva & st[S_A20_MASK]));
    t.shadow = { entry: entry >>> 0, hpa: entry & 1 ? ((entry & ~0xfff) | (gva & 0xfff)) >>> 0 : null };
  }
  if (paging) {
    const pdeAddress = ((cr3 & ~0xfff) | ((gva >>> 22) << 2)) >>> 0;
    const pde = readGuestPhysical(pdeAddress);
    t.guestWalk.push({ level: 'PDE', address: pdeAddress, entry: pde });
    if (!(pde & 1)) return { ...t, stop: 'not present in the guest page directory' };
    if (pde & 0x80 && pse) {
      t.gpa = ((pde & 0xffc00000) | (gva & 0x3fffff)) >>> 0;
    } else {
      const pteAddress = ((pde & ~0xfff) | (((gva >>> 12) & 0x3ff) << 2)) >>> 0;
      const pte = readGuestPhysical(pteAddress);
      t.guestWalk.push({ level: 'PTE', address: pteAddress, entry: pte });
      if (!(pte & 1)) return { ...t, stop: 'not present in the guest page table' };
      t.gpa = ((pte & ~0xfff) | (gva & 0xfff)) >>> 0;
    }
  } else {
    t.gpa = (gva & st[S_A20_MASK]) >>> 0;
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
  } else if (ept === null) {
    t.hpa = hostHpa;
    if (hostHpa === null) t.stop = 'no host frame yet: nothing has touched this page';
  } else if (t.hpa === null) {
    t.stop = hostHpa === null ? 'not in the EPT and no host frame yet: the first access will be an EPT violation that backs it' : 'not in the EPT yet: the first access will be an EPT violation';
  }
  return t;
}
