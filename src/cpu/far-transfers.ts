/**
 * Far control transfers in protected mode: JMP and CALL to a code segment, through a call gate
 * (CALL to an inner ring switches to the TSS's stack and copies the gate's parameters), or to
 * a TSS or task gate (a task switch); RETF and IRET back, to the same ring or an outer one
 * (popping the outer SS:ESP and dropping data segments the outer ring may not hold), and IRET
 * into virtual-8086 mode. Real-mode transfers are in ops/control.ts.
 */
import type { Cpu } from './cpu.ts';
import { getEflags, setEflags } from './flags.ts';
import { adjustStack, peek, preparePushes, push, setEipChecked, setStackPointer } from './operands.ts';
import {
  checkCodeSegment, checkStackSegment, dropInaccessibleSegments, loadCheckedStackSegment, loadCodeSegment, loadV86Segments,
  prepareMarkAccessed, readDescriptor, type Descriptor,
} from './segments.ts';
import { innerStackSwitch, switchToInnerStack, taskSwitch, TaskSwitchReason } from './tss.ts';
import { loadFlagsImage } from './ops/stack.ts';
import {
  ATTR_CODE, ATTR_EXPAND_DOWN, ATTR_PRESENT, ATTR_S, CS, ESP, GP, NP, NT, S_CPL, S_EFLAGS, S_EIP, S_SEG_SEL, VM, IF,
} from './state.ts';

const CALL_GATE_16 = 0x04, TASK_GATE = 0x05, CALL_GATE_32 = 0x0c;

function isCode(d: Descriptor): boolean {
  return (d.attr & (ATTR_S | ATTR_CODE)) === (ATTR_S | ATTR_CODE);
}
function isConforming(d: Descriptor): boolean {
  return (d.attr & ATTR_EXPAND_DOWN) !== 0;
}
function dplOf(d: Descriptor): number {
  return (d.attr >> 5) & 3;
}

/**
 * A far JMP or CALL in protected mode. `size` is the operand size (what CALL pushes),
 * `returnEip` where the caller resumes.
 */
export function protectedFarTransfer(cpu: Cpu, selector: number, offset: number, size: number, isCall: boolean): void {
  const st = cpu.st;
  const cpl = st[S_CPL];
  const rpl = selector & 3;
  const error = selector & 0xfffc;
  if (error === 0) cpu.fault(GP, 0);
  const d = readDescriptor(cpu, selector);
  if (d.attr & ATTR_S) {
    // Straight to a code segment: same privilege, or conforming.
    if (!isCode(d)) cpu.fault(GP, error);
    if (isConforming(d) ? dplOf(d) > cpl : rpl > cpl || dplOf(d) !== cpl) cpu.fault(GP, error);
    if (!(d.attr & ATTR_PRESENT)) cpu.fault(NP, error);
    if (isCall) {
      // The pushes and the accessed bit met before the first write: the pointer may lie where they write (Cpu.prepareAccess).
      preparePushes(cpu, 2, size);
      prepareMarkAccessed(cpu, selector, d);
      pushReturnAddress(cpu, size);
    }
    loadCodeSegment(cpu, selector, cpl);
    setEipChecked(cpu, offset);
    return;
  }
  const type = d.attr & 0x1f;
  if (type === 0x01 || type === 0x09 || type === TASK_GATE) {
    if (dplOf(d) < Math.max(cpl, rpl)) cpu.fault(GP, error);
    if (!(d.attr & ATTR_PRESENT)) cpu.fault(NP, error);
    const tss = type === TASK_GATE ? d.low >>> 16 : selector;
    taskSwitch(cpu, tss, isCall ? TaskSwitchReason.Call : TaskSwitchReason.Jmp);
    return;
  }
  if (type !== CALL_GATE_16 && type !== CALL_GATE_32) cpu.fault(GP, error);
  callGate(cpu, d, selector, isCall);
}

function pushReturnAddress(cpu: Cpu, size: number): void {
  const st = cpu.st;
  push(cpu, st[S_SEG_SEL + CS] & 0xffff, size);
  push(cpu, st[S_EIP], size);
}

/** Through a call gate: the gate names the target; CALL to an inner ring switches stacks. */
function callGate(cpu: Cpu, gate: Descriptor, gateSelector: number, isCall: boolean): void {
  const st = cpu.st;
  const cpl = st[S_CPL];
  const gateError = gateSelector & 0xfffc;
  if (dplOf(gate) < Math.max(cpl, gateSelector & 3)) cpu.fault(GP, gateError);
  if (!(gate.attr & ATTR_PRESENT)) cpu.fault(NP, gateError);
  const gate32 = (gate.attr & 0x08) !== 0;
  const target = gate.low >>> 16;
  const offset = gate32 ? (gate.low & 0xffff) | (gate.high & 0xffff0000) : gate.low & 0xffff;
  const targetError = target & 0xfffc;
  if (targetError === 0) cpu.fault(GP, 0);
  const code = readDescriptor(cpu, target);
  if (!isCode(code) || dplOf(code) > cpl) cpu.fault(GP, targetError);
  if (!(code.attr & ATTR_PRESENT)) cpu.fault(NP, targetError);
  const size = gate32 ? 32 : 16;
  const inner = !isConforming(code) && dplOf(code) < cpl;
  if (!isCall) {
    // JMP through a gate never changes privilege.
    if (!isConforming(code) && dplOf(code) !== cpl) cpu.fault(GP, targetError);
    loadCodeSegment(cpu, target, cpl);
    setEipChecked(cpu, offset);
    return;
  }
  if (!inner) {
    preparePushes(cpu, 2, size);
    prepareMarkAccessed(cpu, target, code);
    pushReturnAddress(cpu, size);
    loadCodeSegment(cpu, target, cpl);
    setEipChecked(cpu, offset);
    return;
  }
  // CALL to an inner ring: new stack from the TSS, the caller's SS:ESP and parameters on it
  // (room for them and the return address, else #SS(new SS)).
  const newCpl = dplOf(code);
  prepareMarkAccessed(cpu, target, code); // (the frame's pushes are prepared by switchToInnerStack)
  const stack = innerStackSwitch(cpu, newCpl);
  const count = gate.high & 0x1f;
  const parameters: number[] = [];
  for (let i = count - 1; i >= 0; i--) parameters.push(peek(cpu, i * (size >> 3), size));
  const returnCs = st[S_SEG_SEL + CS] & 0xffff;
  const returnEip = st[S_EIP];
  switchToInnerStack(cpu, stack, size, (count + 4) * (size >> 3), 0);
  for (const p of parameters) push(cpu, p, size);
  push(cpu, returnCs, size);
  push(cpu, returnEip, size);
  loadCodeSegment(cpu, target, newCpl);
  setEipChecked(cpu, offset);
}

/** RETF [imm16] in protected mode: to the same ring, or to an outer one with its stack. */
export function protectedFarReturn(cpu: Cpu, size: number, release: number): void {
  const bytes = size >> 3;
  const eip = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  returnFar(cpu, selector, eip, size, 2 * bytes, release);
}

/** IRET in protected mode (not virtual-8086 mode, which ops/control.ts handles as real mode). */
export function protectedInterruptReturn(cpu: Cpu, size: number): void {
  const st = cpu.st;
  const bytes = size >> 3;
  const cpl = st[S_CPL];
  if (st[S_EFLAGS] & NT) {
    // Return from a nested task: back to the task that called this one.
    const backLink = cpu.readSystem16(cpu.segmentBase(7));
    taskSwitch(cpu, backLink, TaskSwitchReason.Iret);
    return;
  }
  const eip = peek(cpu, 0, size);
  const selector = peek(cpu, bytes, size) & 0xffff;
  const flags = peek(cpu, 2 * bytes, size);
  if (size === 32 && flags & VM && cpl === 0) {
    returnToV86(cpu, eip, selector, flags);
    return;
  }
  // What the flags image may change is decided by the privilege IRET runs at, before any drop
  // to an outer ring (a fault in the return rolls the flags back with the rest).
  loadFlagsImage(cpu, flags, size, true);
  returnFar(cpu, selector, eip, size, 3 * bytes, 0);
}

/**
 * The rest of RETF and IRET, once the `frameBytes` at the top of the stack are read: CS:EIP
 * at the privilege of the selector's RPL, which may not be more privileged than the CPL
 * (#GP(selector)). At the same ring the frame and `release` bytes more (RETF imm16) are
 * popped. To an outer ring, that ring's SS:ESP is popped from above them and checked (#GP(SS)
 * unless a writable data segment of that ring, #SS(SS) when not present), `release` bytes
 * are taken off the outer stack too, and data segment registers the outer ring may not use
 * are made null.
 */
function returnFar(cpu: Cpu, selector: number, eip: number, size: number, frameBytes: number, release: number): void {
  const cpl = cpu.st[S_CPL];
  const rpl = selector & 3;
  if (rpl < cpl) cpu.fault(GP, selector & 0xfffc);
  checkCodeSegment(cpu, selector, rpl);
  if (rpl === cpl) {
    loadCodeSegment(cpu, selector, cpl);
    setEipChecked(cpu, eip);
    adjustStack(cpu, frameBytes + release);
    return;
  }
  const offset = frameBytes + release;
  const outerEsp = peek(cpu, offset, size);
  const outerSs = peek(cpu, offset + (size >> 3), size) & 0xffff;
  const stack = checkStackSegment(cpu, outerSs, rpl, GP);
  loadCodeSegment(cpu, selector, rpl);
  setEipChecked(cpu, eip);
  loadCheckedStackSegment(cpu, outerSs, stack);
  setStackPointer(cpu, outerEsp + release);
  dropInaccessibleSegments(cpu, rpl);
}

/** IRETD at CPL 0 with VM set in the image: pop ESP, SS, ES, DS, FS, GS and run V86 code. */
function returnToV86(cpu: Cpu, eip: number, cs: number, flags: number): void {
  const st = cpu.st;
  const esp = peek(cpu, 12, 32);
  const ss = peek(cpu, 16, 32);
  const es = peek(cpu, 20, 32);
  const ds = peek(cpu, 24, 32);
  const fs = peek(cpu, 28, 32);
  const gs = peek(cpu, 32, 32);
  const oldFlags = getEflags(st);
  setEflags(st, flags);
  cpu.eflagsLoaded(oldFlags, flags);
  if (flags & IF) cpu.raiseInterruptLine();
  loadV86Segments(cpu, cs, ss, es, ds, fs, gs);
  cpu.reg[ESP] = esp;
  st[S_EIP] = eip & 0xffff;
}
