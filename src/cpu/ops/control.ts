/**
 * Control transfer: JMP, Jcc, CALL, RET (near and far), LOOP*, JCXZ, INT n, INT3, INTO, IRET,
 * BOUND, HLT. Targets are checked against the CS limit before anything changes, so that a bad
 * target faults at the branch, with the branch's EIP.
 */
import { ATTN_HALT, type Cpu } from '../cpu.ts';
import type { Emitter } from '../emit.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { getOF, getZF, testCondition } from '../flags.ts';
import { EventKind, interrupt } from '../interrupts.ts';
import { isProtectedMode } from '../segments.ts';
import { protectedFarReturn, protectedFarTransfer, protectedInterruptReturn } from '../far-transfers.ts';
import { ExitReason } from '../sensitive.ts';
import { BR, BP, CS, GP, OFV, S_CPL, S_EIP, UD } from '../state.ts';
import { checkV86Iopl, loadFlagsImage } from './stack.ts';
import { atomically } from '../atomic.ts';
import { adjustStack, operandSize, peek, preparePushes, push, readCount, readE, readG, setEipChecked, writeCount } from '../operands.ts';

/** Sets EIP to `target` (truncated to 16 bits for 16-bit operands) after checking it against CS's limit. */
export function jumpNear(cpu: Cpu, d: Insn, target: number): void {
  setEipChecked(cpu, d.o32 ? target | 0 : target & 0xffff);
}

/**
 * Far JMP in real or virtual-8086 mode: CS is selector × 16. A real-mode load keeps CS's limit,
 * so the offset is checked against it before CS changes (a #GP leaves the old CS).
 */
function realModeFarJump(cpu: Cpu, selector: number, offset: number): void {
  setEipChecked(cpu, offset);
  cpu.setRealModeSegment(CS, selector);
}

/** Whether far transfers follow protected-mode rules (descriptors, gates, privilege). */
function protectedTransfers(st: Int32Array): boolean {
  return isProtectedMode(st);
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
  const [selector, offset] = d.opcode === 0xea ? [d.imm2, d.imm] : readFarPointer(cpu, d);
  if (protectedTransfers(cpu.st)) atomically(cpu, () => protectedFarTransfer(cpu, selector, offset, operandSize(d), false));
  else realModeFarJump(cpu, selector, offset);
}

/** 9A CALL ptr16:16/32, FF /3 CALL m16:16/32. */
export function execCallFar(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const [selector, offset] = d.opcode === 0x9a ? [d.imm2, d.imm] : readFarPointer(cpu, d);
  if (protectedTransfers(st)) {
    atomically(cpu, () => protectedFarTransfer(cpu, selector, offset, size, true));
    return;
  }
  // The return address goes on the stack before CS changes; a fault undoes the pushes.
  atomically(cpu, () => {
    preparePushes(cpu, 2, size); // the pointer read may lie where the pushes write (Cpu.prepareAccess)
    push(cpu, cpu.segmentSelector(CS), size);
    push(cpu, st[S_EIP], size);
    realModeFarJump(cpu, selector, offset);
  });
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
  const size = operandSize(d);
  const release = d.opcode === 0xca ? d.imm & 0xffff : 0;
  if (protectedTransfers(cpu.st)) {
    atomically(cpu, () => protectedFarReturn(cpu, size, release));
    return;
  }
  const bytes = size >> 3;
  const offset = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  realModeFarJump(cpu, selector, offset);
  adjustStack(cpu, 2 * bytes + release);
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

/** CD INT imm8, CC INT3, CE INTO. In virtual-8086 mode INT n is IOPL-sensitive (#GP(0) below IOPL 3). */
export function execInt(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const opcode = d.opcode;
  if (opcode === 0xce && !getOF(st)) return;
  if (opcode === 0xcd) checkV86Iopl(cpu);
  const vector = opcode === 0xcd ? d.imm & 0xff : opcode === 0xcc ? BP : OFV;
  interrupt(cpu, vector, EventKind.Software);
}

/** CF IRET / IRETD. In virtual-8086 mode it is IOPL-sensitive and returns as in real mode. */
export function execIret(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  if (protectedTransfers(st)) {
    atomically(cpu, () => protectedInterruptReturn(cpu, size));
    return;
  }
  checkV86Iopl(cpu);
  const bytes = size >> 3;
  const offset = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  const flags = peek(cpu, 2 * bytes, size);
  realModeFarJump(cpu, selector, offset);
  adjustStack(cpu, 3 * bytes);
  loadFlagsImage(cpu, flags, size, true);
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
  if (st[S_CPL] !== 0) cpu.fault(GP, 0);
  if (cpu.intercept(ExitReason.HLT)) return;
  cpu.halted = true;
  cpu.attention |= ATTN_HALT;
}

// ------------------------------------------------------------------ the translation cache's forms (emit.ts)

/** The target of a near relative branch as an expression: EIP (already past it) plus the displacement. */
const relativeTargetJs = (d: Insn): string => `(st[${S_EIP}] + ${d.imm})`;

/** execJmpRel. */
export const emitJmpRel: Emitter = (d, x) => `jumpNear(cpu, ${x}, ${relativeTargetJs(d)});`;

/** execJcc. */
export const emitJcc: Emitter = (d, x) => `if (testCondition(st, ${d.opcode & 15})) jumpNear(cpu, ${x}, ${relativeTargetJs(d)});`;
