/** Stack instructions: PUSH/POP of registers, segment registers, immediates and memory; PUSHA/POPA; PUSHF/POPF; ENTER/LEAVE. */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { ATTN_SHADOW } from '../cpu.ts';
import { getEflags, setEflags } from '../flags.ts';
import { isV86, loadSegment } from '../segments.ts';
import {
  AC, ARITH_FLAGS, DF, EBP, ESP, FS, GP, GS, ID, IF, IOPL, NT, OF, RF, S_CPL, S_EFLAGS, S_STACK32, SS, TF, VM,
} from '../state.ts';
import { adjustStack, operandSize, peek, pop, push, readE, readReg, stackPointer, writeE, writeReg } from '../operands.ts';
import { arrayRegisterJs, regJs, setRegJs, type Emitter } from '../emit.ts';

/** 50-57 PUSH r. PUSH ESP pushes the value before the push, as on a 286 and later. */
export function execPushReg(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  push(cpu, readReg(cpu, d.opcode & 7, size), size);
}

/** 58-5F POP r. */
export function execPopReg(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const value = pop(cpu, size);
  writeReg(cpu, d.opcode & 7, size, value);
}

/** 68 PUSH imm, 6A PUSH imm8 (sign-extended). */
export function execPushImm(cpu: Cpu, d: Insn): void {
  push(cpu, d.imm, operandSize(d));
}

/** FF /6 PUSH r/m. */
export function execPushE(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  push(cpu, readE(cpu, d, size), size);
}

/**
 * 8F /0 POP r/m. The address of a memory operand that uses ESP is computed after the pop
 * (SDM: "the ESP register is incremented before the effective address is computed").
 */
export function execPopE(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const value = peek(cpu, 0, size);
  const savedSp = stackPointer(cpu);
  adjustStack(cpu, size >> 3);
  try {
    writeE(cpu, d, size, value);
  } catch (e) {
    writeReg(cpu, ESP, st[S_STACK32] ? 32 : 16, savedSp);
    throw e;
  }
}

/** Segment register pushes and pops: 06 0E 16 1E / 07 17 1F, 0F A0 A8 / 0F A1 A9. */
function segmentOfOpcode(opcode: number): number {
  return opcode >= 0x100 ? (opcode === 0x1a0 || opcode === 0x1a1 ? FS : GS) : (opcode >> 3) & 3;
}
export function execPushSreg(cpu: Cpu, d: Insn): void {
  push(cpu, cpu.segmentSelector(segmentOfOpcode(d.opcode)), operandSize(d));
}
/**
 * POP SS steps the stack pointer by the size of the stack it popped from (the SDM's POP: the
 * stack-address size is the old SS's): from a 16-bit stack only SP wraps, whatever the B bit
 * of the new one. The new pointer is worked out first and stored after the load, which may fault.
 */
export function execPopSreg(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const seg = segmentOfOpcode(d.opcode);
  const selector = peek(cpu, 0, size) & 0xffff;
  if (seg !== SS) {
    loadSegment(cpu, seg, selector);
    adjustStack(cpu, size >> 3);
    return;
  }
  const stack32 = cpu.st[S_STACK32] !== 0;
  const sp = (stackPointer(cpu) + (size >> 3)) | 0;
  loadSegment(cpu, SS, selector);
  writeReg(cpu, ESP, stack32 ? 32 : 16, sp);
  cpu.attention |= ATTN_SHADOW;
}

/**
 * 60 PUSHA/PUSHAD: AX CX DX BX (original SP) BP SI DI. The eight slots are written below
 * (E)SP and the stack pointer moves once, at the end, so that a #SS or #PF part-way leaves it
 * as it was and the instruction can be restarted.
 */
export function execPusha(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const bytes = size >> 3;
  const stack32 = cpu.st[S_STACK32] !== 0;
  const mask = stack32 ? -1 : 0xffff; // offsets wrap at the stack's size
  const original = readReg(cpu, ESP, size);
  let sp = stackPointer(cpu);
  for (let r = 0; r < 8; r++) {
    sp = (sp - bytes) & mask;
    cpu.write(SS, sp, r === ESP ? original : readReg(cpu, r, size), size);
  }
  writeReg(cpu, ESP, stack32 ? 32 : 16, sp);
}

/** 61 POPA/POPAD: the reverse, skipping the saved SP. */
export function execPopa(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const bytes = size >> 3;
  const values: number[] = [];
  for (let i = 0; i < 8; i++) values.push(peek(cpu, i * bytes, size));
  for (let i = 0; i < 8; i++) if (7 - i !== ESP) writeReg(cpu, 7 - i, size, values[i]);
  adjustStack(cpu, 8 * bytes);
}

/** In virtual-8086 mode PUSHF, POPF, INT n and IRET are IOPL-sensitive: #GP(0) below IOPL 3. */
export function checkV86Iopl(cpu: Cpu): void {
  if (isV86(cpu.st) && (cpu.st[S_EFLAGS] & IOPL) !== IOPL) cpu.fault(GP, 0);
}

/** 9C PUSHF/PUSHFD (VM and RF read as 0 in the pushed image). */
export function execPushf(cpu: Cpu, d: Insn): void {
  checkV86Iopl(cpu);
  const size = operandSize(d);
  push(cpu, getEflags(cpu.st) & ~(VM | RF), size);
}

/**
 * Loads EFLAGS from a POPF or IRET image, honouring what the current privilege may change:
 * IOPL only at CPL 0, IF only when CPL <= IOPL; VM is never set this way, and RF only by
 * IRET (`iret`), so that a debug handler can resume past an instruction breakpoint.
 */
export function loadFlagsImage(cpu: Cpu, image: number, size: number, iret = false): void {
  const st = cpu.st;
  const old = getEflags(st);
  const cpl = st[S_CPL];
  const iopl = (old & IOPL) >> 12;
  let changeable = ARITH_FLAGS | TF | DF | OF | NT | AC | ID;
  if (cpl === 0) changeable |= IOPL;
  if (cpl <= iopl) changeable |= IF;
  if (iret) changeable |= RF;
  if (size === 16) changeable &= 0xffff;
  const value = (old & ~changeable) | (image & changeable);
  setEflags(st, value);
  cpu.eflagsLoaded(old, value);
}

/** 9D POPF/POPFD. */
export function execPopf(cpu: Cpu, d: Insn): void {
  checkV86Iopl(cpu);
  const size = operandSize(d);
  const image = peek(cpu, 0, size);
  loadFlagsImage(cpu, image, size);
  adjustStack(cpu, size >> 3);
}

/**
 * C8 ENTER imm16, imm8: make a stack frame, with `level` nested frame pointers. The frame is
 * written below (E)SP first and the registers change last, so a #SS or #PF part-way leaves
 * EBP and ESP as they were and the instruction can be restarted. The frame pointer (the SDM's
 * FrameTemp) is all of ESP after the first push, so a 32-bit operand on a 16-bit stack keeps
 * ESP's upper half in it; the nested pointers are read at (E)BP per the stack's size. The
 * space it reserves is not written, but a write of the operand size at the final stack pointer
 * must be possible: #SS(0) past SS's limit, #PF when that page may not be written.
 */
export function execEnter(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const bytes = size >> 3;
  const frameSize = d.imm & 0xffff;
  const level = d.imm2 & 31;
  const stack32 = st[S_STACK32] !== 0;
  const mask = stack32 ? -1 : 0xffff; // offsets wrap at the stack's size
  if (level > 1) {
    // Its copies read what its own pushes may have written: every access is met before the
    // first write, so that a VM exit part-way restarts it on memory as it was (Cpu.prepareAccess).
    let bp = stack32 ? cpu.reg[EBP] : cpu.reg16[EBP << 1];
    let at = (stackPointer(cpu) - bytes) & mask;
    cpu.prepareAccess(SS, at, size, true); // EBP
    for (let i = 1; i < level; i++) {
      bp = (bp - bytes) & mask;
      cpu.prepareAccess(SS, bp, size, false);
      at = (at - bytes) & mask;
      cpu.prepareAccess(SS, at, size, true); // a copy of the outer frame pointer
    }
    at = (at - bytes) & mask;
    cpu.prepareAccess(SS, at, size, true); // the new frame pointer
    if (frameSize > 0) cpu.prepareAccess(SS, (at - frameSize) & mask, size, true);
  }
  let sp = (stackPointer(cpu) - bytes) & mask;
  cpu.write(SS, sp, readReg(cpu, EBP, size), size);
  const frame = stack32 ? sp : (cpu.reg[ESP] & ~0xffff) | sp; // FrameTemp: ESP after the push
  if (level > 0) {
    let bp = stack32 ? cpu.reg[EBP] : cpu.reg16[EBP << 1];
    for (let i = 1; i < level; i++) {
      bp = (bp - bytes) & mask;
      sp = (sp - bytes) & mask;
      cpu.write(SS, sp, cpu.read(SS, bp, size), size);
    }
    sp = (sp - bytes) & mask;
    cpu.write(SS, sp, frame, size);
  }
  const newSp = (sp - frameSize) & mask;
  if (frameSize > 0) cpu.checkWritable(SS, newSp, size); // else newSp is where the last push wrote
  writeReg(cpu, EBP, size, frame);
  writeReg(cpu, ESP, stack32 ? 32 : 16, newSp);
}

/** C9 LEAVE: (E)SP = (E)BP, pop (E)BP. */
export function execLeave(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const stack32 = st[S_STACK32] !== 0;
  const bp = stack32 ? cpu.reg[EBP] : cpu.reg16[EBP << 1];
  const value = cpu.read(SS, bp, size);
  writeReg(cpu, ESP, stack32 ? 32 : 16, bp);
  adjustStack(cpu, size >> 3);
  writeReg(cpu, EBP, size, value);
}


// ------------------------------------------------------------------ the translation cache's forms (emit.ts)

/** execPushReg. */
export const emitPushReg: Emitter = (d) => {
  // The value first: PUSH ESP pushes ESP as it was before the push.
  const value = regJs(d.opcode & 7, operandSize(d));
  const esp = arrayRegisterJs(ESP);
  return `{ const v = ${value}; ${esp.before} push(cpu, v, ${operandSize(d)}); ${esp.after} }`;
};

/** execPopReg. */
export const emitPopReg: Emitter = (d) => {
  // ESP is incremented before the popped value is written: POP ESP leaves the value.
  const esp = arrayRegisterJs(ESP);
  return `{ ${esp.before} const v = pop(cpu, ${operandSize(d)}); ${esp.after} ${setRegJs(d.opcode & 7, operandSize(d), 'v')} }`;
};
