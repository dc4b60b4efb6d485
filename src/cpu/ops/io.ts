/**
 * Port I/O: IN and OUT (the string forms are in string.ts). Sensitive: each access offers the
 * VMM an I/O-instruction exit, with the qualification laid out as Intel's (SDM Vol. 3,
 * Table 28-5), before it reaches the machine's I/O bus. In protected mode, CPL > IOPL needs
 * the TSS I/O permission bitmap, which comes with the TSS work; until then it is #GP(0).
 */
import { GUEST_FAULT, type Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { ioPermitted } from '../tss.ts';
import { ExitReason } from '../sensitive.ts';
import { GP, IOPL, S_CPL, S_EFLAGS, VM } from '../state.ts';
import { P_REP, P_REPNE } from '../decoder.ts';
import { readReg, sizeFromOpcodeBit, writeReg } from '../operands.ts';

/** Exit qualification for an I/O instruction. */
export function ioQualification(port: number, size: number, isIn: boolean, isString: boolean, rep: boolean, immediate: boolean): number {
  return ((size >> 3) - 1) | (isIn ? 8 : 0) | (isString ? 16 : 0) | (rep ? 32 : 0) | (immediate ? 64 : 0) | (port << 16);
}

/**
 * IN and OUT need CPL <= IOPL; above it (and always in virtual-8086 mode) the TSS's I/O
 * permission bitmap decides, port by port.
 */
function checkIoPrivilege(cpu: Cpu, port: number, size: number): void {
  const st = cpu.st;
  const aboveIopl = st[S_CPL] > (st[S_EFLAGS] & IOPL) >> 12 || (st[S_EFLAGS] & VM) !== 0;
  if (aboveIopl && !ioPermitted(cpu, port, size >> 3)) cpu.fault(GP, 0);
}

/** Reads a port for IN/INS, after the privilege check and the VMM's look. */
export function portIn(cpu: Cpu, d: Insn, port: number, size: number, isString: boolean, immediate = false): number {
  checkIoPrivilege(cpu, port, size);
  const rep = (d.prefixes & (P_REP | P_REPNE)) !== 0;
  if (cpu.intercept(ExitReason.IO_INSTRUCTION, ioQualification(port, size, true, isString, rep, immediate))) throw GUEST_FAULT; // a VM exit: Cpu.intercept has stopped the CPU, nothing is delivered
  return cpu.io.read(port, (size >> 3) as 1 | 2 | 4);
}

export function portOut(cpu: Cpu, d: Insn, port: number, size: number, value: number, isString: boolean, immediate = false): void {
  checkIoPrivilege(cpu, port, size);
  const rep = (d.prefixes & (P_REP | P_REPNE)) !== 0;
  if (cpu.intercept(ExitReason.IO_INSTRUCTION, ioQualification(port, size, false, isString, rep, immediate))) throw GUEST_FAULT; // a VM exit: Cpu.intercept has stopped the CPU, nothing is delivered
  cpu.io.write(port, (size >> 3) as 1 | 2 | 4, size === 32 ? value : value & ((1 << size) - 1));
}

/** E4/E5 IN acc, imm8; EC/ED IN acc, DX. */
export function execIn(cpu: Cpu, d: Insn): void {
  const opcode = d.opcode;
  const size = sizeFromOpcodeBit(d);
  const immediate = opcode < 0xe8;
  const port = immediate ? d.imm & 0xff : cpu.reg16[4];
  writeReg(cpu, 0, size, portIn(cpu, d, port, size, false, immediate));
}

/** E6/E7 OUT imm8, acc; EE/EF OUT DX, acc. */
export function execOut(cpu: Cpu, d: Insn): void {
  const opcode = d.opcode;
  const size = sizeFromOpcodeBit(d);
  const immediate = opcode < 0xe8;
  const port = immediate ? d.imm & 0xff : cpu.reg16[4];
  portOut(cpu, d, port, size, readReg(cpu, 0, size), false, immediate);
}

