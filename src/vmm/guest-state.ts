/**
 * The VMCS guest-state area and the CPU: at a VM exit the CPU's state is stored into the
 * VMCS (so that handlers and tools read it where the SDM says it is); at VM entry it is loaded
 * back (so that what a handler or a user wrote there takes effect). The two are exact inverses.
 * General-purpose registers are not in the VMCS (as on hardware): they stay in the CPU.
 */
import { ATTN_SHADOW, type Cpu } from '../cpu/cpu.ts';
import { getEflags, setEflags } from '../cpu/flags.ts';
import {
  ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, CR0_PE, CS, ES, ESP, FS, GS, IF, LDTR, S_CR0, S_CR3, S_CR4, S_DR0, S_EFLAGS, S_EIP,
  S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_LOW, S_SEG_SEL, SS, DS, TR,
  VM,
} from '../cpu/state.ts';
import { Field, INTERRUPTIBILITY_MOV_SS, INTERRUPTIBILITY_STI, type Vmcs } from './vmcs.ts';

/** Access-rights "unusable" bit (SDM 25.4.1): a null segment register. */
export const AR_UNUSABLE = 1 << 16;

/** Guest-state field encodings per segment register, in the CPU's order (ES CS SS DS FS GS LDTR TR). */
export const SELECTOR = [Field.GUEST_ES_SELECTOR, Field.GUEST_CS_SELECTOR, Field.GUEST_SS_SELECTOR, Field.GUEST_DS_SELECTOR, Field.GUEST_FS_SELECTOR, Field.GUEST_GS_SELECTOR, Field.GUEST_LDTR_SELECTOR, Field.GUEST_TR_SELECTOR];
export const BASE = [Field.GUEST_ES_BASE, Field.GUEST_CS_BASE, Field.GUEST_SS_BASE, Field.GUEST_DS_BASE, Field.GUEST_FS_BASE, Field.GUEST_GS_BASE, Field.GUEST_LDTR_BASE, Field.GUEST_TR_BASE];
export const LIMIT = [Field.GUEST_ES_LIMIT, Field.GUEST_CS_LIMIT, Field.GUEST_SS_LIMIT, Field.GUEST_DS_LIMIT, Field.GUEST_FS_LIMIT, Field.GUEST_GS_LIMIT, Field.GUEST_LDTR_LIMIT, Field.GUEST_TR_LIMIT];
export const ACCESS = [Field.GUEST_ES_AR_BYTES, Field.GUEST_CS_AR_BYTES, Field.GUEST_SS_AR_BYTES, Field.GUEST_DS_AR_BYTES, Field.GUEST_FS_AR_BYTES, Field.GUEST_GS_AR_BYTES, Field.GUEST_LDTR_AR_BYTES, Field.GUEST_TR_AR_BYTES];
export const SEGMENTS = [ES, CS, SS, DS, FS, GS, LDTR, TR];

function isExpandDownData(attr: number): boolean {
  return (attr & (ATTR_CODE | ATTR_EXPAND_DOWN)) === ATTR_EXPAND_DOWN;
}

/** CPU → VMCS, at a VM exit. */
export function storeGuestState(cpu: Cpu, vmcs: Vmcs): void {
  const st = cpu.st;
  for (const seg of SEGMENTS) {
    const unusable = st[S_SEG_LOW + seg] === -1 && st[S_SEG_HIGH + seg] === 0;
    const attr = st[S_SEG_ATTR + seg];
    vmcs.write(SELECTOR[seg], st[S_SEG_SEL + seg] & 0xffff);
    vmcs.write(BASE[seg], st[S_SEG_BASE + seg] >>> 0);
    vmcs.write(LIMIT[seg], unusable ? 0 : isExpandDownData(attr) ? (st[S_SEG_LOW + seg] - 1) >>> 0 : st[S_SEG_HIGH + seg] >>> 0);
    vmcs.write(ACCESS[seg], (attr & 0xf0ff) | (unusable ? AR_UNUSABLE : 0));
  }
  vmcs.write(Field.GUEST_GDTR_BASE, st[S_GDTR_BASE] >>> 0);
  vmcs.write(Field.GUEST_GDTR_LIMIT, st[S_GDTR_LIMIT] & 0xffff);
  vmcs.write(Field.GUEST_IDTR_BASE, st[S_IDTR_BASE] >>> 0);
  vmcs.write(Field.GUEST_IDTR_LIMIT, st[S_IDTR_LIMIT] & 0xffff);
  vmcs.write(Field.GUEST_CR0, st[S_CR0] >>> 0);
  vmcs.write(Field.GUEST_CR3, st[S_CR3] >>> 0);
  vmcs.write(Field.GUEST_CR4, st[S_CR4] >>> 0);
  vmcs.write(Field.GUEST_DR7, st[S_DR0 + 7] >>> 0);
  vmcs.write(Field.GUEST_RIP, st[S_EIP] >>> 0);
  vmcs.write(Field.GUEST_RSP, cpu.reg[ESP] >>> 0);
  vmcs.write(Field.GUEST_RFLAGS, getEflags(st) >>> 0);
  // The CPU keeps one interrupt shadow for STI, MOV SS and POP SS; VMX names two. With IF clear it
  // cannot be STI's (STI sets IF), so it is reported as blocking by MOV SS.
  const shadow = (cpu.attention & ATTN_SHADOW) !== 0;
  vmcs.write(Field.GUEST_INTERRUPTIBILITY_INFO, !shadow ? 0 : st[S_EFLAGS] & IF ? INTERRUPTIBILITY_STI : INTERRUPTIBILITY_MOV_SS);
  vmcs.write(Field.GUEST_ACTIVITY_STATE, cpu.halted ? 1 : 0);
}

/** VMCS → CPU, at a VM entry (after the checks in vmentry.ts). */
export function loadGuestState(cpu: Cpu, vmcs: Vmcs): void {
  const st = cpu.st;
  const cr3 = vmcs.read(Field.GUEST_CR3) | 0;
  const cr0 = vmcs.read(Field.GUEST_CR0) | 0;
  const cr4 = vmcs.read(Field.GUEST_CR4) | 0;
  const translationChanged = cr0 !== st[S_CR0] || cr3 !== st[S_CR3] || cr4 !== st[S_CR4];
  st[S_CR0] = cr0;
  st[S_CR3] = cr3;
  st[S_CR4] = cr4;
  st[S_DR0 + 7] = vmcs.read(Field.GUEST_DR7) | 0;
  setEflags(st, vmcs.read(Field.GUEST_RFLAGS) | 0);
  for (const seg of SEGMENTS) {
    const selector = vmcs.read(SELECTOR[seg]);
    const ar = vmcs.read(ACCESS[seg]);
    if (ar & AR_UNUSABLE) {
      // Unusable (the CPU's empty range), with the base and attributes it had: a real-mode
      // segment load over a null cache changes the base only, and a later access must see it.
      cpu.setSegmentCache(seg, selector, vmcs.read(BASE[seg]) | 0, -1, 0, ar & 0xf0ff);
      continue;
    }
    const attr = ar & 0xf0ff;
    const limit = vmcs.read(LIMIT[seg]) | 0;
    const expandDown = seg < LDTR && isExpandDownData(attr);
    const low = expandDown ? (limit + 1) | 0 : 0;
    const high = expandDown ? (attr & ATTR_DB ? -1 : 0xffff) : limit;
    cpu.setSegmentCache(seg, selector, vmcs.read(BASE[seg]) | 0, low, high, attr);
  }
  st[S_GDTR_BASE] = vmcs.read(Field.GUEST_GDTR_BASE) | 0;
  st[S_GDTR_LIMIT] = vmcs.read(Field.GUEST_GDTR_LIMIT);
  st[S_IDTR_BASE] = vmcs.read(Field.GUEST_IDTR_BASE) | 0;
  st[S_IDTR_LIMIT] = vmcs.read(Field.GUEST_IDTR_LIMIT);
  st[S_EIP] = vmcs.read(Field.GUEST_RIP) | 0;
  cpu.reg[ESP] = vmcs.read(Field.GUEST_RSP) | 0;
  // The CPL: 0 in real mode, 3 in virtual-8086 mode, else SS's DPL (as VMX defines it).
  const vm86 = (st[S_EFLAGS] & VM) !== 0;
  cpu.setCpl(!(cr0 & CR0_PE) ? 0 : vm86 ? 3 : (vmcs.read(Field.GUEST_SS_AR_BYTES) >> 5) & 3);
  for (let seg = 0; seg < 6; seg++) cpu.updateAccessRanges(seg);
  if (vmcs.read(Field.GUEST_INTERRUPTIBILITY_INFO) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) cpu.attention |= ATTN_SHADOW;
  else cpu.attention &= ~ATTN_SHADOW;
  cpu.halted = vmcs.read(Field.GUEST_ACTIVITY_STATE) === 1;
  if (translationChanged) cpu.flushTlb();
}
