/**
 * System instructions: descriptor-table registers (LGDT LIDT SGDT SIDT, LLDT LTR SLDT STR),
 * control and debug registers, LMSW/SMSW/CLTS, INVLPG, CPUID, RDTSC, RDMSR/WRMSR, VMCALL,
 * LAR/LSL/VERR/VERW/ARPL. Each sensitive one offers the VMM its exit first.
 */
import type { Cpu } from '../cpu.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { setArithFlags } from '../flags.ts';
import { isProtectedMode, readDescriptor } from '../segments.ts';
import { setBusy } from '../tss.ts';
import { ExitReason } from '../sensitive.ts';
import { readE, readG, writeE, writeG, operandSize, isRegisterOperand } from '../operands.ts';
import {
  ATTR_CODE, ATTR_EXPAND_DOWN, ATTR_S, ATTR_WRITABLE, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP,
  CR4_DE, CR4_MCE, CR4_PGE, CR4_PSE, CR4_PVI, CR4_TSD, CR4_VME, S_SEG_BASE, GP, LDTR, NM, NP,
  S_CPL, S_CR0, S_CR2, S_CR3, S_CR4, S_DR0, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT,
  S_SEG_HIGH, S_SEG_SEL, TR, UD, ZF, CPU_SIGNATURE,
} from '../state.ts';

/**
 * Privileged instructions need CPL 0. The CPL is 0 in real mode and 3 in virtual-8086 mode,
 * so this one test covers every mode.
 */
export function requireCpl0(cpu: Cpu): void {
  if (cpu.st[S_CPL] !== 0) cpu.fault(GP, 0);
}

/** Instructions that exist only in protected mode raise #UD in real mode (and virtual-8086 mode). */
function requireProtectedMode(cpu: Cpu): void {
  if (!isProtectedMode(cpu.st)) cpu.fault(UD);
}

// ------------------------------------------------------------------ GDTR, IDTR

/** 0F 01 /0 SGDT, /1 SIDT, /2 LGDT, /3 LIDT (memory operands only). */
export function execDescriptorTableRegister(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const which = (d.modrm >> 3) & 7;
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  const baseAddress = d.a32 ? (ea + 2) | 0 : (ea + 2) & 0xffff;
  const isIdt = (which & 1) !== 0;
  if (which >= 2) {
    requireCpl0(cpu);
    if (cpu.intercept(ExitReason.GDTR_IDTR_ACCESS, 0)) return;
    const limit = cpu.read16(seg, ea);
    let base = cpu.read32(seg, baseAddress);
    if (!d.o32) base &= 0x00ffffff; // a 16-bit operand loads 24 bits of base
    st[isIdt ? S_IDTR_BASE : S_GDTR_BASE] = base;
    st[isIdt ? S_IDTR_LIMIT : S_GDTR_LIMIT] = limit;
  } else {
    if (cpu.intercept(ExitReason.GDTR_IDTR_ACCESS, 0)) return;
    cpu.checkWritable(seg, ea, 16);
    cpu.checkWritable(seg, baseAddress, 32);
    let base = st[isIdt ? S_IDTR_BASE : S_GDTR_BASE];
    if (!d.o32) base &= 0x00ffffff; // 16-bit SGDT stores the high byte as 0 on a 386
    cpu.write16(seg, ea, st[isIdt ? S_IDTR_LIMIT : S_GDTR_LIMIT]);
    cpu.write32(seg, baseAddress, base);
  }
}

// ------------------------------------------------------------------ LDTR, TR

/** 0F 00 /0 SLDT, /1 STR. */
export function execStoreSystemSegment(cpu: Cpu, d: Insn): void {
  requireProtectedMode(cpu);
  const st = cpu.st;
  const seg = d.modrm & 0x08 ? TR : LDTR;
  writeE(cpu, d, isRegisterOperand(d) ? operandSize(d) : 16, st[S_SEG_SEL + seg] & 0xffff);
}

/** 0F 00 /2 LLDT, /3 LTR. */
export function execLoadSystemSegment(cpu: Cpu, d: Insn): void {
  requireProtectedMode(cpu);
  requireCpl0(cpu);
  const isTr = (d.modrm & 0x08) !== 0;
  if (cpu.intercept(ExitReason.LDTR_TR_ACCESS, 0)) return;
  const selector = readE(cpu, d, 16);
  if ((selector & 0xfffc) === 0) {
    if (isTr) cpu.fault(GP, 0);
    cpu.setNullSegment(LDTR, selector);
    return;
  }
  if (selector & 4) cpu.fault(GP, selector & 0xfffc); // must be in the GDT
  const desc = readDescriptor(cpu, selector);
  const type = desc.attr & 0x1f;
  // LDT: system type 2. TSS: available 286 (1) or 386 (9) TSS.
  const ok = isTr ? type === 0x01 || type === 0x09 : type === 0x02;
  if (!ok) cpu.fault(GP, selector & 0xfffc);
  if (!(desc.attr & 0x80)) cpu.fault(NP, selector & 0xfffc);
  if (isTr) {
    // Mark the TSS busy, in the descriptor and in the cache.
    setBusy(cpu, selector, true);
    desc.attr |= 2;
  }
  cpu.setSegmentCache(isTr ? TR : LDTR, selector, desc.base, 0, desc.limit | 0, desc.attr);
}

/** 0F 00 /4 VERR, /5 VERW: ZF = whether the segment could be read / written at the current privilege. */
export function execVerify(cpu: Cpu, d: Insn): void {
  requireProtectedMode(cpu);
  const st = cpu.st;
  const write = (d.modrm & 0x08) !== 0;
  const selector = readE(cpu, d, 16);
  const desc = accessibleDescriptor(cpu, selector);
  let ok = desc !== null && (desc.attr & ATTR_S) !== 0;
  if (ok && desc !== null) {
    const isCode = (desc.attr & ATTR_CODE) !== 0;
    ok = write ? !isCode && (desc.attr & ATTR_WRITABLE) !== 0 : !isCode || (desc.attr & ATTR_WRITABLE) !== 0;
  }
  setArithFlags(st, ZF, ok ? ZF : 0);
}

/** A descriptor visible at the current privilege (for LAR, LSL, VERR, VERW), or null. */
function accessibleDescriptor(cpu: Cpu, selector: number) {
  const st = cpu.st;
  if ((selector & 0xfffc) === 0) return null;
  const index = selector & 0xfff8;
  const inLdt = (selector & 4) !== 0;
  const limit = inLdt ? st[S_SEG_HIGH + LDTR] : st[S_GDTR_LIMIT];
  if (index + 7 > limit >>> 0) return null;
  const d = readDescriptor(cpu, selector);
  const dpl = (d.attr >> 5) & 3;
  const conformingCode = (d.attr & (ATTR_S | ATTR_CODE | ATTR_EXPAND_DOWN)) === (ATTR_S | ATTR_CODE | ATTR_EXPAND_DOWN);
  if (!conformingCode && dpl < Math.max(st[S_CPL], selector & 3)) return null;
  return d;
}

/** 0F 02 LAR, 0F 03 LSL: access rights or limit of a descriptor, ZF = 1 when it is visible. */
export function execLarLsl(cpu: Cpu, d: Insn): void {
  requireProtectedMode(cpu);
  const st = cpu.st;
  const size = operandSize(d);
  const desc = accessibleDescriptor(cpu, readE(cpu, d, 16));
  const validSystemTypes = d.opcode === 0x102 ? [1, 2, 3, 4, 5, 9, 11, 12] : [1, 2, 3, 9, 11];
  const ok = desc !== null && ((desc.attr & ATTR_S) !== 0 || validSystemTypes.includes(desc.attr & 0x0f));
  if (ok && desc !== null) {
    const value = d.opcode === 0x102 ? desc.high & 0x00f0ff00 : desc.limit;
    writeG(cpu, d, size, value);
  }
  setArithFlags(st, ZF, ok ? ZF : 0);
}

/** 63 ARPL r/m16, r16: raise the RPL of the destination to the source's. */
export function execArpl(cpu: Cpu, d: Insn): void {
  requireProtectedMode(cpu);
  const st = cpu.st;
  const dest = readE(cpu, d, 16);
  const src = readG(cpu, d, 16);
  if ((dest & 3) < (src & 3)) {
    writeE(cpu, d, 16, (dest & ~3) | (src & 3));
    setArithFlags(st, ZF, ZF);
  } else {
    setArithFlags(st, ZF, 0);
  }
}

// ------------------------------------------------------------------ control and debug registers

/** CR0 bits a guest may set (ET is hardwired to 1 on a 486). */
const CR0_WRITABLE = 0xe005003f | 0;

/**
 * The value CR0 takes when `value` is written to it (reserved bits dropped, ET set), or -1 when
 * the write is #GP(0): paging without protection, not-write-through with caching on (SDM Vol. 2,
 * MOV CR). A VMM that completes a MOV to CR0 applies the same rules (src/vmm/exit-handlers.ts).
 */
export function cr0AfterWrite(value: number): number {
  const next = ((value & CR0_WRITABLE) | CR0_ET) | 0;
  if (next & CR0_PG && !(next & CR0_PE)) return -1;
  if (next & CR0_NW && !(next & CR0_CD)) return -1;
  return next;
}

/** Whether `value` may be written to CR4: only bits this CPU has (CPUID reports them); else #GP(0). */
export function cr4Allows(value: number): boolean {
  return (value & ~CR4_SUPPORTED) === 0;
}

/** Writes CR0 and does what the change implies (mode switch takes effect at the next far jump). */
export function writeCr0(cpu: Cpu, value: number): void {
  const st = cpu.st;
  const old = st[S_CR0];
  const next = cr0AfterWrite(value);
  if (next === -1) cpu.fault(GP, 0);
  st[S_CR0] = next;
  cpu.updateAccessMasks(); // CR0.AM arms alignment checks
  if ((old ^ next) & CR0_PE) {
    for (let seg = 0; seg < 6; seg++) cpu.updateAccessRanges(seg);
    if (!(next & CR0_PE)) cpu.setCpl(0); // back in real mode
  }
  if ((old ^ next) & (CR0_PG | CR0_PE | CR0_WP)) cpu.flushTlb();
}

/** `value` with the bits of CR0/CR4 a VMM owns (its guest/host mask) as they are now. */
function keepHostOwned(cpu: Cpu, cr: 0 | 4, value: number): number {
  const mask = cpu.interceptor!.hostOwnedControlBits(cr);
  return mask === 0 ? value : (value & ~mask) | ((cr === 0 ? cpu.st[S_CR0] : cpu.st[S_CR4]) & mask);
}

/** 0F 20 MOV r32, CRn; 0F 22 MOV CRn, r32. */
export function execMovCr(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  const st = cpu.st;
  const modrm = d.modrm;
  const cr = (modrm >> 3) & 7;
  const r = modrm & 7;
  const toCr = d.opcode === 0x122;
  if (cr === 1 || cr > 4) cpu.fault(UD);
  // Exit qualification (SDM Table 28-3): CR number, access type (0 = to CR, 1 = from CR), register.
  if (cpu.intercept(ExitReason.CR_ACCESS, cr | ((toCr ? 0 : 1) << 4) | (r << 8))) return;
  if (!toCr) {
    const value = cr === 0 ? st[S_CR0] : cr === 2 ? st[S_CR2] : cr === 3 ? st[S_CR3] : st[S_CR4];
    // Under a VMM, bits it owns read as its read shadow says.
    cpu.reg[r] = cpu.interceptor !== null && (cr === 0 || cr === 4) ? cpu.interceptor.shadowControlRegister(cpu, cr, value) : value;
    return;
  }
  let value = cpu.reg[r];
  // In VMX non-root operation a move that did not exit leaves the bits the VMM owns alone.
  if (cpu.interceptor !== null && (cr === 0 || cr === 4)) value = keepHostOwned(cpu, cr, value);
  switch (cr) {
    case 0: writeCr0(cpu, value); break;
    case 2: st[S_CR2] = value; break;
    case 3: st[S_CR3] = value & 0xfffff018; cpu.cr3Loads++; cpu.flushTlb(true); break;
    default:
      if (!cr4Allows(value)) cpu.fault(GP, 0); // a bit this CPU does not have (CPUID does not report it)
      st[S_CR4] = value;
      cpu.flushTlb();
      break;
  }
}

/** 0F 21 MOV r32, DRn; 0F 23 MOV DRn, r32 (DR4/DR5 alias DR6/DR7). */
export function execMovDr(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  const st = cpu.st;
  const modrm = d.modrm;
  let dr = (modrm >> 3) & 7;
  const r = modrm & 7;
  const toDr = d.opcode === 0x123;
  if (cpu.intercept(ExitReason.DR_ACCESS, dr | ((toDr ? 0 : 1) << 4) | (r << 8))) return;
  if (dr === 4 || dr === 5) dr += 2;
  if (toDr) {
    st[S_DR0 + dr] = cpu.reg[r];
    cpu.updateAccessMasks(); // breakpoints armed or disarmed
  } else {
    cpu.reg[r] = st[S_DR0 + dr];
  }
}

/**
 * 0F 01 /4 SMSW: the low 16 bits of CR0 (all of it into a 32-bit register). Under a VMM, bits
 * it owns read as its read shadow says, as for MOV from CR0: SMSW does not exit, and must not
 * show the guest the VMM's own CR0.WP or CR0.PG.
 */
export function execSmsw(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const cr0 = cpu.interceptor !== null ? cpu.interceptor.shadowControlRegister(cpu, 0, st[S_CR0]) : st[S_CR0];
  if (isRegisterOperand(d)) writeE(cpu, d, operandSize(d), cr0);
  else writeE(cpu, d, 16, cr0);
}

/** 0F 01 /6 LMSW: loads PE, MP, EM, TS; cannot clear PE. */
export function execLmsw(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  const st = cpu.st;
  const value = readE(cpu, d, 16);
  // Exit qualification: CR0, access type 3 (LMSW), the source operand in bits 31:16.
  if (cpu.intercept(ExitReason.CR_ACCESS, 0 | (3 << 4) | (value << 16))) return;
  const next = (st[S_CR0] & ~0xe) | (value & 0xf) | (st[S_CR0] & CR0_PE);
  writeCr0(cpu, cpu.interceptor !== null ? keepHostOwned(cpu, 0, next) : next);
}

/** 0F 06 CLTS. */
export function execClts(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  if (cpu.intercept(ExitReason.CR_ACCESS, 0 | (2 << 4))) return;
  if (cpu.interceptor !== null && cpu.interceptor.hostOwnedControlBits(0) & CR0_TS) return; // the VMM's TS: the shadow said it was clear
  cpu.st[S_CR0] &= ~CR0_TS;
}

/** 0F 01 /7 INVLPG m: drop one TLB entry. */
export function execInvlpg(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  const lin = (cpu.st[S_SEG_BASE + d.eaSeg] + effectiveAddress(cpu, d)) | 0;
  // Exit qualification: the linear address (SDM Table 28-1).
  if (cpu.intercept(ExitReason.INVLPG, lin)) return;
  cpu.invalidatePage(lin);
}

/** 0F 08 INVD, 0F 09 WBINVD: no caches to flush. */
export function execInvd(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  cpu.intercept(d.opcode === 0x108 ? ExitReason.INVD : ExitReason.WBINVD);
}

// ------------------------------------------------------------------ CPUID, RDTSC, MSRs, VMCALL

/** Feature bits of CPUID leaf 1, EDX. */
const FEATURE_VME = 1 << 1, FEATURE_DE = 1 << 2, FEATURE_PSE = 1 << 3, FEATURE_TSC = 1 << 4, FEATURE_MSR = 1 << 5, FEATURE_MCE = 1 << 7;
const FEATURE_CX8 = 1 << 8, FEATURE_APIC = 1 << 9, FEATURE_PGE = 1 << 13, FEATURE_CMOV = 1 << 15;

/**
 * What this CPU implements, as CPUID leaf 1 reports it in EDX. No VME (nor PVI), no debugging
 * extensions (DR4/DR5 always alias DR6/DR7, no I/O breakpoints), no machine-check exception.
 * The local APIC is the machine's (src/machine/devices/local-apic.ts): every PC has one.
 */
const CPUID_FEATURES_EDX = FEATURE_PSE | FEATURE_TSC | FEATURE_MSR | FEATURE_CX8 | FEATURE_APIC | FEATURE_PGE | FEATURE_CMOV;

/**
 * The CR4 bits this CPU has: those whose feature CPUID reports. The others are reserved here,
 * and MOV to CR4 setting one of them is #GP(0).
 */
const CR4_SUPPORTED =
  (CPUID_FEATURES_EDX & FEATURE_VME ? CR4_VME | CR4_PVI : 0) |
  (CPUID_FEATURES_EDX & FEATURE_TSC ? CR4_TSD : 0) |
  (CPUID_FEATURES_EDX & FEATURE_DE ? CR4_DE : 0) |
  (CPUID_FEATURES_EDX & FEATURE_PSE ? CR4_PSE : 0) |
  (CPUID_FEATURES_EDX & FEATURE_MCE ? CR4_MCE : 0) |
  (CPUID_FEATURES_EDX & FEATURE_PGE ? CR4_PGE : 0);

/** Writes a 12-character string to three registers as CPUID does (EBX, EDX, ECX order is the caller's). */
function stringDword(text: string, index: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= text.charCodeAt(index * 4 + i) << (8 * i);
  return v;
}

/** What CPUID answers for `leaf` on the CPU whose local APIC ID is `apicId`: [EAX, EBX, ECX, EDX]. The VMM adds its own leaves to these. */
export function cpuidLeaf(leaf: number, apicId = 0): [number, number, number, number] {
  const vendor = 'GenuineIntel';
  switch (leaf >>> 0) {
    case 0:
      return [1, stringDword(vendor, 0), stringDword(vendor, 2), stringDword(vendor, 1)];
    case 1:
      return [CPU_SIGNATURE, apicId << 24, 0, CPUID_FEATURES_EDX]; // EBX[31:24]: the initial APIC ID
    default:
      return [0, 0, 0, 0];
  }
}

/** 0F A2 CPUID. */
export function execCpuid(cpu: Cpu, _d: Insn): void {
  if (cpu.intercept(ExitReason.CPUID)) return;
  const r = cpu.reg;
  [r[0], r[3], r[1], r[2]] = cpuidLeaf(r[0], cpu.apicId);
}

/** 0F 31 RDTSC: the time-stamp counter counts retired instructions (virtual time, deterministic). */
export function execRdtsc(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  if (st[S_CR4] & CR4_TSD && st[S_CPL] !== 0) cpu.fault(GP, 0);
  if (cpu.intercept(ExitReason.RDTSC)) return;
  const tsc = BigInt(cpu.retired);
  cpu.reg[0] = Number(BigInt.asIntN(32, tsc));
  cpu.reg[2] = Number(BigInt.asIntN(32, tsc >> 32n));
}

const MSR_TSC = 0x10;

/** 0F 32 RDMSR, 0F 30 WRMSR. MSRs other than the TSC are plain storage; reading one never written is #GP. */
export function execMsr(cpu: Cpu, d: Insn): void {
  requireCpl0(cpu);
  const read = d.opcode === 0x132;
  if (cpu.intercept(read ? ExitReason.RDMSR : ExitReason.WRMSR)) return;
  const index = cpu.reg[1] >>> 0;
  if (read) {
    const value = index === MSR_TSC ? BigInt(cpu.retired) : cpu.msrs.get(index);
    if (value === undefined) cpu.fault(GP, 0);
    cpu.reg[0] = Number(BigInt.asIntN(32, value));
    cpu.reg[2] = Number(BigInt.asIntN(32, value >> 32n));
  } else {
    cpu.msrs.set(index, (BigInt(cpu.reg[2] >>> 0) << 32n) | BigInt(cpu.reg[0] >>> 0));
  }
}

/** 0F 01 C1 VMCALL: outside VMX non-root operation it is #UD; a VMM turns it into a hypercall exit. */
export function execVmcall(cpu: Cpu, d: Insn): void {
  if (cpu.intercept(ExitReason.VMCALL)) return;
  cpu.fault(UD);
}

/** 0F 01 /0: SGDT, or VMCALL in its register form (0F 01 C1); other register forms are #UD. */
export function execGroup7Slot0(cpu: Cpu, d: Insn): void {
  const modrm = d.modrm;
  if (modrm === 0xc1) execVmcall(cpu, d);
  else if (modrm >= 0xc0) cpu.fault(UD);
  else execDescriptorTableRegister(cpu, d);
}

/** D8-DF x87 escapes: with no coprocessor, #NM when CR0.EM or CR0.TS asks for emulation, else nothing. */
export function execFpuEscape(cpu: Cpu, d: Insn): void {
  if (cpu.st[S_CR0] & (CR0_EM | CR0_TS)) cpu.fault(NM);
}

/** 9B WAIT: #NM when CR0.MP and CR0.TS are both set, else nothing (there is no coprocessor to wait for). */
export function execWait(cpu: Cpu, d: Insn): void {
  if ((cpu.st[S_CR0] & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) cpu.fault(NM);
}

/** 0F 0B UD2, and every opcode this CPU does not have. */
export function execInvalid(cpu: Cpu, d: Insn): void {
  cpu.fault(UD);
}

