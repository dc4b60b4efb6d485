/**
 * Control transfer: JMP, Jcc, CALL, RET (near and far), LOOP*, JCXZ, INT n, INT3, INTO, IRET,
 * BOUND, HLT. Targets are checked against the CS limit before anything changes, so that a bad
 * target faults at the branch, with the branch's EIP.
 */
import { ATTN_HALT, type Cpu } from '../cpu.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { getOF, getZF, testCondition } from '../flags.ts';
import { EventKind, interrupt } from '../interrupts.ts';
import { loadCodeSegment, isProtectedMode } from '../segments.ts';
import { ExitReason } from '../sensitive.ts';
import {
  BR, BP, CS, GP, OFV, S_CPL, S_EIP, S_SEG_HIGH, UD, NT,
  S_EFLAGS,
} from '../state.ts';
import { loadFlagsImage } from './stack.ts';
import { adjustStack, operandSize, peek, push, readCount, readE, readG, writeCount } from '../operands.ts';

/** Sets EIP to `target` (truncated to 16 bits for 16-bit operands) after checking it against CS's limit. */
export function jumpNear(cpu: Cpu, d: Insn, target: number): void {
  const st = cpu.st;
  const eip = d.o32 ? target | 0 : target & 0xffff;
  if (eip >>> 0 > st[S_SEG_HIGH + CS] >>> 0) cpu.fault(GP, 0);
  st[S_EIP] = eip;
}

/** Far transfer to selector:offset, checking the new CS's limit. */
function jumpFar(cpu: Cpu, selector: number, offset: number): void {
  const st = cpu.st;
  if (isProtectedMode(st)) {
    // Same-privilege transfers; call gates, task switches and ring changes come with the TSS work.
    loadCodeSegment(cpu, selector);
  } else {
    cpu.setRealModeSegment(CS, selector);
  }
  if (offset >>> 0 > st[S_SEG_HIGH + CS] >>> 0) cpu.fault(GP, 0);
  st[S_EIP] = offset;
}

/** EB JMP rel8, E9 JMP rel16/32. */
export function execJmpRel(cpu: Cpu, d: Insn): void {
  jumpNear(cpu, d, cpu.st[S_EIP] + d.imm);
}

/** 70-7F and 0F 80-8F: Jcc. */
export function execJcc(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  if (testCondition(st, d.opcode & 15)) jumpNear(cpu, d, st[S_EIP] + d.imm);
}

/** E8 CALL rel16/32. */
export function execCallRel(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const next = st[S_EIP];
  const target = next + d.imm;
  const saved = st[S_EIP];
  jumpNear(cpu, d, target);
  st[S_EIP] = saved;
  push(cpu, next, operandSize(d));
  st[S_EIP] = d.o32 ? target | 0 : target & 0xffff;
}

/** FF /2 CALL r/m (near indirect). */
export function execCallE(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const target = readE(cpu, d, size);
  const next = st[S_EIP];
  jumpNear(cpu, d, target);
  const newEip = st[S_EIP];
  st[S_EIP] = next;
  push(cpu, next, size);
  st[S_EIP] = newEip;
}

/** FF /4 JMP r/m (near indirect). */
export function execJmpE(cpu: Cpu, d: Insn): void {
  jumpNear(cpu, d, readE(cpu, d, operandSize(d)));
}

/** Reads a far pointer (offset, then selector) from the memory operand. */
function readFarPointer(cpu: Cpu, d: Insn): [selector: number, offset: number] {
  const size = operandSize(d);
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  const offset = cpu.read(seg, ea, size);
  const next = ea + (size >> 3);
  const selector = cpu.read16(seg, d.a32 ? next | 0 : next & 0xffff);
  return [selector, offset];
}

/** EA JMP ptr16:16/32, FF /5 JMP m16:16/32. */
export function execJmpFar(cpu: Cpu, d: Insn): void {
  if (d.opcode === 0xea) jumpFar(cpu, d.imm2, d.imm);
  else {
    const [selector, offset] = readFarPointer(cpu, d);
    jumpFar(cpu, selector, offset);
  }
}

/** 9A CALL ptr16:16/32, FF /3 CALL m16:16/32. */
export function execCallFar(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  let selector: number;
  let offset: number;
  if (d.opcode === 0x9a) {
    selector = d.imm2;
    offset = d.imm;
  } else {
    [selector, offset] = readFarPointer(cpu, d);
  }
  const oldCs = cpu.segmentSelector(CS);
  const next = st[S_EIP];
  // Check the return address fits on the stack before changing CS (a fault must leave CS alone).
  push(cpu, oldCs, size);
  push(cpu, next, size);
  try {
    jumpFar(cpu, selector, offset);
  } catch (e) {
    adjustStack(cpu, 2 * (size >> 3));
    throw e;
  }
}

/** C3 RET, C2 RET imm16. */
export function execRetNear(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const target = peek(cpu, 0, size);
  jumpNear(cpu, d, target);
  adjustStack(cpu, (size >> 3) + (d.opcode === 0xc2 ? d.imm & 0xffff : 0));
}

/** CB RETF, CA RETF imm16. */
export function execRetFar(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const bytes = size >> 3;
  const offset = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  if (isProtectedMode(st) && (selector & 3) > st[S_CPL]) cpu.fault(GP, selector & 0xfffc); // outer-ring returns: with the TSS work
  jumpFar(cpu, selector, offset);
  adjustStack(cpu, 2 * bytes + (d.opcode === 0xca ? d.imm & 0xffff : 0));
}

/** E0 LOOPNE, E1 LOOPE, E2 LOOP: decrement (E)CX (per the address size) and branch. */
export function execLoop(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  const count = (readCount(cpu, d) - 1) | 0;
  const remaining = d.a32 ? count : count & 0xffff;
  let taken = remaining !== 0;
  if (opcode === 0xe0) taken &&= !getZF(st);
  else if (opcode === 0xe1) taken &&= getZF(st);
  if (taken) jumpNear(cpu, d, st[S_EIP] + d.imm);
  writeCount(cpu, d, count);
}

/** E3 JCXZ / JECXZ. */
export function execJcxz(cpu: Cpu, d: Insn): void {
  if (readCount(cpu, d) === 0) jumpNear(cpu, d, cpu.st[S_EIP] + d.imm);
}

/** CD INT imm8, CC INT3, CE INTO. */
export function execInt(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  if (opcode === 0xce && !getOF(st)) return;
  const vector = opcode === 0xcd ? d.imm & 0xff : opcode === 0xcc ? BP : OFV;
  interrupt(cpu, vector, EventKind.Software);
}

/** CF IRET / IRETD (same privilege level; returns to outer rings and task returns come with the TSS work). */
export function execIret(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const bytes = size >> 3;
  if (isProtectedMode(st) && st[S_EFLAGS] & NT) cpu.fault(GP, 0);
  const offset = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  const flags = peek(cpu, 2 * bytes, size);
  if (isProtectedMode(st) && (selector & 3) > st[S_CPL]) cpu.fault(GP, selector & 0xfffc);
  jumpFar(cpu, selector, offset);
  adjustStack(cpu, 3 * bytes);
  loadFlagsImage(cpu, flags, size);
}

/** 62 BOUND r, m: #BR unless lower <= r <= upper (signed). */
export function execBound(cpu: Cpu, d: Insn): void {
  if (d.modrm >= 0xc0) cpu.fault(UD);
  const size = operandSize(d);
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  const next = ea + (size >> 3);
  let lower = cpu.read(seg, ea, size);
  let upper = cpu.read(seg, d.a32 ? next | 0 : next & 0xffff, size);
  let index = readG(cpu, d, size);
  if (size === 16) {
    lower = (lower << 16) >> 16;
    upper = (upper << 16) >> 16;
    index = (index << 16) >> 16;
  }
  if (index < lower || index > upper) cpu.fault(BR);
}

/** F4 HLT: privileged; waits for an interrupt (the run loop decides whether one can come). */
export function execHlt(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  if (isProtectedMode(st) && st[S_CPL] !== 0) cpu.fault(GP, 0);
  if (cpu.intercept(ExitReason.HLT)) return;
  cpu.halted = true;
  cpu.attention |= ATTN_HALT;
}
