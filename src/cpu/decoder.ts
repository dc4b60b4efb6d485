/**
 * Decodes one instruction and executes it. Everything about an opcode's encoding (ModRM,
 * group, immediate, whether LOCK is allowed) comes from the opcode table (opcodes.ts),
 * compiled at load time into the typed arrays below. The decoder leaves its results in the
 * decode-scratch slots of `st` (S_MODRM, S_EA, S_EA_SEG, S_IMM, ...), then calls the entry's
 * semantics, which find their operands there (operands.ts).
 */
import type { Cpu } from './cpu.ts';
import {
  DECODE_INFO, EXECUTE, GROUP_BASE, D_GROUP, D_IGNORE_MOD, D_LOCKABLE, D_MEM_ONLY, D_MODRM, D_REG_ONLY, IMM_SHIFT, IMM_MASK, Imm,
} from './opcode-table.ts';
import {
  CS, DS, EBP, ES, FS, GP, GS, SS, UD,
  S_A32, S_CODE32, S_EA, S_EA_SEG, S_EIP, S_IMM, S_IMM2, S_INSN_EIP, S_MODRM, S_O32, S_OPCODE, S_PREFIXES,
} from './state.ts';

/** Prefix bits in S_PREFIXES. */
export const P_REP = 1, P_REPNE = 2, P_LOCK = 4, P_SEG = 8;
/** S_PREFIXES >> SEG_SHIFT is the segment-override register when P_SEG is set. */
const SEG_SHIFT = 8;

/** For each byte: 0 when it is not a prefix, else 1 + the segment register or a code. */
const PREFIX = new Uint8Array(256);
PREFIX[0x26] = 1 + ES;
PREFIX[0x2e] = 1 + CS;
PREFIX[0x36] = 1 + SS;
PREFIX[0x3e] = 1 + DS;
PREFIX[0x64] = 1 + FS;
PREFIX[0x65] = 1 + GS;
const PFX_OPSIZE = 10, PFX_ADDRSIZE = 11, PFX_LOCK = 12, PFX_REPNE = 13, PFX_REP = 14;
PREFIX[0x66] = PFX_OPSIZE;
PREFIX[0x67] = PFX_ADDRSIZE;
PREFIX[0xf0] = PFX_LOCK;
PREFIX[0xf2] = PFX_REPNE;
PREFIX[0xf3] = PFX_REP;

/** The longest instruction a 386 accepts; one byte more is #GP(0). */
const MAX_INSN_LENGTH = 15;

export function step(cpu: Cpu): void {
  const st = cpu.st;
  const code32 = st[S_CODE32];
  let o32 = code32;
  let a32 = code32;
  let prefixes = 0;
  let op = cpu.fetch8();
  let kind = PREFIX[op];
  while (kind !== 0) {
    if (kind <= 6) prefixes = (prefixes & ((1 << SEG_SHIFT) - 1)) | P_SEG | ((kind - 1) << SEG_SHIFT);
    else if (kind === PFX_OPSIZE) o32 = code32 ^ 1;
    else if (kind === PFX_ADDRSIZE) a32 = code32 ^ 1;
    else if (kind === PFX_LOCK) prefixes |= P_LOCK;
    else if (kind === PFX_REPNE) prefixes = (prefixes & ~P_REP) | P_REPNE;
    else prefixes = (prefixes & ~P_REPNE) | P_REP;
    if (st[S_EIP] - st[S_INSN_EIP] >= MAX_INSN_LENGTH) cpu.fault(GP, 0);
    op = cpu.fetch8();
    kind = PREFIX[op];
  }
  st[S_O32] = o32;
  st[S_A32] = a32;
  st[S_PREFIXES] = prefixes;
  if (op === 0x0f) op = 0x100 | cpu.fetch8();

  let entry = op;
  let info = DECODE_INFO[op];
  if (info & D_MODRM) {
    const modrm = cpu.fetch8();
    st[S_MODRM] = modrm;
    if (info & D_GROUP) {
      entry = GROUP_BASE[op] + ((modrm >> 3) & 7);
      info = DECODE_INFO[entry];
    }
    if (modrm < 0xc0 && !(info & D_IGNORE_MOD)) {
      if (info & D_REG_ONLY) cpu.fault(UD);
      if (a32) decodeEA32(cpu, modrm, prefixes);
      else decodeEA16(cpu, modrm, prefixes);
    } else if (info & D_MEM_ONLY) {
      cpu.fault(UD);
    }
    if (prefixes & P_LOCK && (!(info & D_LOCKABLE) || modrm >= 0xc0)) cpu.fault(UD);
  } else if (prefixes & P_LOCK) {
    cpu.fault(UD);
  }
  st[S_OPCODE] = op;
  const imm = (info >> IMM_SHIFT) & IMM_MASK;
  if (imm !== Imm.None) fetchImmediate(cpu, imm, o32, a32);
  EXECUTE[entry](cpu);
}

function fetchImmediate(cpu: Cpu, imm: number, o32: number, a32: number): void {
  const st = cpu.st;
  switch (imm) {
    case Imm.Byte:
      st[S_IMM] = cpu.fetch8();
      break;
    case Imm.SignedByte:
      st[S_IMM] = (cpu.fetch8() << 24) >> 24;
      break;
    case Imm.Word:
      st[S_IMM] = cpu.fetch16();
      break;
    case Imm.Operand:
      st[S_IMM] = o32 ? cpu.fetch32() : cpu.fetch16();
      break;
    case Imm.SignedOperand:
      st[S_IMM] = o32 ? cpu.fetch32() : (cpu.fetch16() << 16) >> 16;
      break;
    case Imm.FarPointer:
      st[S_IMM] = o32 ? cpu.fetch32() : cpu.fetch16();
      st[S_IMM2] = cpu.fetch16();
      break;
    case Imm.MemoryOffset:
      st[S_EA] = a32 ? cpu.fetch32() : cpu.fetch16();
      st[S_EA_SEG] = st[S_PREFIXES] & P_SEG ? st[S_PREFIXES] >> SEG_SHIFT : DS;
      break;
    case Imm.WordThenByte:
      st[S_IMM] = cpu.fetch16();
      st[S_IMM2] = cpu.fetch8();
      break;
  }
}

/** 16-bit addressing: [BX+SI], [BX+DI], [BP+SI], [BP+DI], [SI], [DI], [BP]/disp16, [BX] (+disp). */
function decodeEA16(cpu: Cpu, modrm: number, prefixes: number): void {
  const st = cpu.st;
  const r = cpu.reg;
  const mod = modrm >> 6;
  let offset: number;
  let seg = DS;
  switch (modrm & 7) {
    case 0: offset = r[3] + r[6]; break;
    case 1: offset = r[3] + r[7]; break;
    case 2: offset = r[5] + r[6]; seg = SS; break;
    case 3: offset = r[5] + r[7]; seg = SS; break;
    case 4: offset = r[6]; break;
    case 5: offset = r[7]; break;
    case 6:
      if (mod === 0) {
        offset = cpu.fetch16();
      } else {
        offset = r[5];
        seg = SS;
      }
      break;
    default: offset = r[3]; break;
  }
  if (mod === 1) offset += (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) offset += cpu.fetch16();
  st[S_EA] = offset & 0xffff;
  st[S_EA_SEG] = prefixes & P_SEG ? prefixes >> SEG_SHIFT : seg;
}

/** 32-bit addressing: base + index * scale + displacement, with SIB when r/m = 4. */
function decodeEA32(cpu: Cpu, modrm: number, prefixes: number): void {
  const st = cpu.st;
  const r = cpu.reg;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let offset: number;
  let seg = DS;
  if (rm === 4) {
    const sib = cpu.fetch8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    if (base === 5 && mod === 0) {
      offset = cpu.fetch32();
    } else {
      offset = r[base];
      if (base === 4 || base === EBP) seg = SS;
    }
    if (index !== 4) offset += r[index] << (sib >> 6);
  } else if (rm === 5 && mod === 0) {
    offset = cpu.fetch32();
  } else {
    offset = r[rm];
    if (rm === EBP) seg = SS;
  }
  if (mod === 1) offset += (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) offset += cpu.fetch32();
  st[S_EA] = offset | 0;
  st[S_EA_SEG] = prefixes & P_SEG ? prefixes >> SEG_SHIFT : seg;
}

/** The segment an instruction with an implicit DS operand uses (string sources, XLAT): DS unless overridden. */
export function dataSegment(st: Int32Array): number {
  const p = st[S_PREFIXES];
  return p & P_SEG ? p >> SEG_SHIFT : DS;
}

