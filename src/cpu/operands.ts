/**
 * Operand access for instruction semantics, size-generic (8, 16 or 32 bits) so that each
 * instruction is written once. Values read are zero-extended for 8 and 16 bits and int32 for
 * 32 bits; values written are truncated to the operand size.
 */
import type { Cpu } from './cpu.ts';
import { effectiveAddress, type Insn } from './insn.ts';
import { CS, ESP, GP, S_EIP, S_SEG_HIGH, S_STACK32, SS } from './state.ts';

/** Byte offsets of AL, CL, DL, BL, AH, CH, DH, BH in the register file. */
export const REG8_INDEX = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);

/** The instruction's operand size in bits (16 or 32), after any 0x66 prefix. */
export function operandSize(d: Insn): number {
  return d.o32 !== 0 ? 32 : 16;
}

/** Size of the operand of an opcode whose low bit selects byte (0) or word/dword (1). */
export function sizeFromOpcodeBit(d: Insn): number {
  return (d.opcode & 1) === 0 ? 8 : d.o32 !== 0 ? 32 : 16;
}

export function readReg(cpu: Cpu, r: number, size: number): number {
  return size === 32 ? cpu.reg[r] : size === 16 ? cpu.reg16[r << 1] : cpu.reg8[REG8_INDEX[r]];
}

export function writeReg(cpu: Cpu, r: number, size: number, value: number): void {
  if (size === 32) cpu.reg[r] = value;
  else if (size === 16) cpu.reg16[r << 1] = value;
  else cpu.reg8[REG8_INDEX[r]] = value;
}

/** The ModRM reg field's register operand. */
export function readG(cpu: Cpu, d: Insn, size: number): number {
  return readReg(cpu, (d.modrm >> 3) & 7, size);
}
export function writeG(cpu: Cpu, d: Insn, size: number, value: number): void {
  writeReg(cpu, (d.modrm >> 3) & 7, size, value);
}

/** The ModRM r/m operand: a register, or memory at the decoded effective address. */
export function readE(cpu: Cpu, d: Insn, size: number): number {
  const modrm = d.modrm;
  if (modrm >= 0xc0) return readReg(cpu, modrm & 7, size);
  return cpu.read(d.eaSeg, effectiveAddress(cpu, d), size);
}
export function writeE(cpu: Cpu, d: Insn, size: number, value: number): void {
  const modrm = d.modrm;
  if (modrm >= 0xc0) writeReg(cpu, modrm & 7, size, value);
  else cpu.write(d.eaSeg, effectiveAddress(cpu, d), value, size);
}

/**
 * Reads the r/m operand of a read-modify-write instruction. A memory operand is checked for
 * writing first, so that the later write cannot fault after flags or registers have changed
 * (exceptions stay precise).
 */
export function readEForUpdate(cpu: Cpu, d: Insn, size: number): number {
  const modrm = d.modrm;
  if (modrm >= 0xc0) return readReg(cpu, modrm & 7, size);
  const ea = effectiveAddress(cpu, d);
  cpu.checkWritable(d.eaSeg, ea, size);
  return cpu.read(d.eaSeg, ea, size);
}

/** True when the ModRM r/m operand is a register. */
export function isRegisterOperand(d: Insn): boolean {
  return d.modrm >= 0xc0;
}

// ------------------------------------------------------------------ the stack

/** Pushes `value` (16 or 32 bits) on SS:SP or SS:ESP, per the stack segment's B bit. */
export function push(cpu: Cpu, value: number, size: number): void {
  const st = cpu.st;
  const bytes = size >> 3;
  if (st[S_STACK32] !== 0) {
    const sp = (cpu.reg[ESP] - bytes) | 0;
    cpu.write(SS, sp, value, size);
    cpu.reg[ESP] = sp;
  } else {
    const sp = (cpu.reg16[ESP << 1] - bytes) & 0xffff;
    cpu.write(SS, sp, value, size);
    cpu.reg16[ESP << 1] = sp;
  }
}

/**
 * Prepares `count` pushes of `size` bits from SS:ESP as it is (Cpu.prepareAccess), in the order
 * they will be made: a frame that must be written whole or not at all (an event's, ENTER's).
 */
export function preparePushes(cpu: Cpu, count: number, size: number): void {
  const bytes = size >> 3;
  const stack32 = cpu.st[S_STACK32] !== 0;
  let sp = stack32 ? cpu.reg[ESP] : cpu.reg16[ESP << 1];
  for (let i = 0; i < count; i++) {
    sp = stack32 ? (sp - bytes) | 0 : (sp - bytes) & 0xffff;
    cpu.prepareAccess(SS, sp, size, true);
  }
}

/** Pops a 16- or 32-bit value. */
export function pop(cpu: Cpu, size: number): number {
  const value = peek(cpu, 0, size);
  adjustStack(cpu, size >> 3);
  return value;
}

/** Reads the stack `offset` bytes above the top without popping. */
export function peek(cpu: Cpu, offset: number, size: number): number {
  const st = cpu.st;
  const sp = st[S_STACK32] !== 0 ? (cpu.reg[ESP] + offset) | 0 : (cpu.reg16[ESP << 1] + offset) & 0xffff;
  return cpu.read(SS, sp, size);
}

/** Adds `bytes` to SP or ESP. */
export function adjustStack(cpu: Cpu, bytes: number): void {
  if (cpu.st[S_STACK32] !== 0) cpu.reg[ESP] = (cpu.reg[ESP] + bytes) | 0;
  else cpu.reg16[ESP << 1] = cpu.reg16[ESP << 1] + bytes;
}

/** The current stack pointer as an offset in SS (SP or ESP). */
export function stackPointer(cpu: Cpu): number {
  return cpu.st[S_STACK32] !== 0 ? cpu.reg[ESP] : cpu.reg16[ESP << 1];
}

/** Sets the stack pointer as SS counts it: ESP, or SP (the upper half of ESP kept). */
export function setStackPointer(cpu: Cpu, value: number): void {
  if (cpu.st[S_STACK32] !== 0) cpu.reg[ESP] = value;
  else cpu.reg16[ESP << 1] = value;
}

// ------------------------------------------------------------------ the instruction pointer

/**
 * Sets EIP to a branch target after checking it against CS's limit (the CS the code will run
 * in: after a far transfer, the new one): #GP(0) past it, with EIP unchanged.
 */
export function setEipChecked(cpu: Cpu, eip: number): void {
  const st = cpu.st;
  if (eip >>> 0 > st[S_SEG_HIGH + CS] >>> 0) cpu.fault(GP, 0);
  st[S_EIP] = eip;
}

// ------------------------------------------------------------------ string-instruction registers

/** ECX or CX, per the address size: the REP count. */
export function readCount(cpu: Cpu, d: Insn): number {
  return d.a32 !== 0 ? cpu.reg[1] >>> 0 : cpu.reg16[2];
}
export function writeCount(cpu: Cpu, d: Insn, value: number): void {
  if (d.a32 !== 0) cpu.reg[1] = value;
  else cpu.reg16[2] = value;
}
/** ESI/EDI or SI/DI, per the address size. */
export function readIndex(cpu: Cpu, d: Insn, r: number): number {
  return d.a32 !== 0 ? cpu.reg[r] : cpu.reg16[r << 1];
}
export function advanceIndex(cpu: Cpu, d: Insn, r: number, delta: number): void {
  if (d.a32 !== 0) cpu.reg[r] = (cpu.reg[r] + delta) | 0;
  else cpu.reg16[r << 1] = cpu.reg16[r << 1] + delta;
}
