/**
 * Delivering interrupts and exceptions: through the IVT in real mode, through IDT gates in
 * protected mode; #DF when delivering one exception raises another, and shutdown (a triple
 * fault) when delivering #DF faults too.
 */
import { atomically } from './atomic.ts';
import { GUEST_FAULT, type Cpu } from './cpu.ts';
import { getEflags, setEflags } from './flags.ts';
import { preparePushes, push } from './operands.ts';
import { loadCodeSegment, prepareMarkAccessed, readDescriptor } from './segments.ts';
import { innerStackSwitch, switchToInnerStack, taskSwitch, TaskSwitchReason } from './tss.ts';
import {
  AC, ATTR_CODE, ATTR_EXPAND_DOWN, ATTR_PRESENT, ATTR_S, CR0_PE, CS, DF_, DS, ES, FS, GP, GS, IF, NP, NT, PF_, RF, S_CPL,
  S_CR0, S_CR2, S_CR3, S_EFLAGS, S_EIP, S_IDTR_BASE, S_IDTR_LIMIT, S_INSN_EIP, S_SEG_BASE, S_SEG_SEL, TF, VM,
} from './state.ts';
import { exceptionMnemonic } from './exceptions.ts';

const TASK_GATE = 0x05;

/** The source of maskable interrupts (the 8259 PIC pair, later an APIC). */
export interface InterruptController {
  /** True when an unmasked interrupt request is waiting. */
  hasInterrupt(): boolean;
  /** Acknowledges the highest-priority request and returns its vector (the INTA cycle). */
  acknowledge(): number;
}

/** How an event reached the CPU; it decides the IDT privilege check and the error code. */
export const enum EventKind {
  Exception,
  Software, // INT n, INT3, INTO
  External, // from the interrupt controller
}

/** Exceptions that push an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC). */
function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/** Contributory exceptions, which combine into #DF (SDM Vol. 3, 6.15, Table 6-5). */
function isContributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}

/**
 * Whether exception `second`, raised while delivering exception `first`, makes a #DF (SDM Vol. 3,
 * Table 6-5): two contributory exceptions, or a #PF and then a #PF or a contributory one.
 * (Used by the CPU and by a VMM injecting an exception over an interrupted delivery.)
 */
export function combinesIntoDoubleFault(first: number, second: number): boolean {
  return (isContributory(first) && isContributory(second)) || (first === PF_ && (isContributory(second) || second === PF_));
}

/**
 * Delivers the event the current instruction raised (Cpu.pendingVector), escalating to #DF and
 * shutdown, and records the chain (Cpu.faultChain). `injected`: a VMM injects it at VM entry, so
 * the exception bitmap does not apply to it (it does to exceptions its delivery raises).
 * `fromInstruction`: an instruction raised it and has not changed the state (it restarts), so a
 * debugger may undo a delivery that ends in a triple fault and stop at that instruction.
 */
export function deliverPendingEvent(cpu: Cpu, injected = false, fromInstruction = false): void {
  let vector = cpu.pendingVector;
  let errorCode = cpu.pendingErrorCode;
  let kind = errorCode === -2 ? EventKind.External : EventKind.Exception;
  if (errorCode === -2) errorCode = -1;
  cpu.pendingVector = -1;
  const st = cpu.st;
  const chain = cpu.faultChain;
  chain.begin();
  chain.record(vector, kind, errorCode, st[S_SEG_SEL + CS] & 0xffff, st[S_SEG_BASE + CS], st[S_INSN_EIP], st[S_CPL], st[S_CR2], st[S_CR3]);
  // In non-root mode an exception in the exception bitmap is a VM exit, not a delivery.
  const vmm = cpu.interceptor;
  if (!injected && kind === EventKind.Exception && vmm !== null && vmm.interceptException(cpu, vector, errorCode)) {
    cpu.stop('vmexit', `VM exit, exception ${vector}`);
    return;
  }
  const hook = cpu.debugHook;
  const restartable = fromInstruction && hook !== null;
  if (restartable) cpu.saveStateBeforeChain();
  // Error codes of exceptions raised while delivering an interrupt or an earlier exception carry EXT.
  let external = true;
  for (;;) {
    try {
      interrupt(cpu, vector, kind, errorCode, external);
      return;
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      if (cpu.stopReason !== null) {
        // A VM exit (an EPT violation) in the middle of the delivery: the delivery was rolled
        // back, and the VMM delivers the event again after the exit (IDT-vectoring information).
        if (cpu.stopReason === 'vmexit' && vmm !== null) vmm.eventDeliveryInterrupted(vector, kind === EventKind.External, errorCode, injected ? null : fromInstruction);
        return;
      }
      const second = cpu.pendingVector;
      chain.record(second, EventKind.Exception, cpu.pendingErrorCode, st[S_SEG_SEL + CS] & 0xffff, st[S_SEG_BASE + CS], st[S_INSN_EIP], st[S_CPL], st[S_CR2], st[S_CR3]);
      // In non-root mode an exception in the bitmap raised by the delivery is a VM exit too, with
      // the event it interrupted in the IDT-vectoring information (SDM Vol. 3, 28.2.4).
      // The delivery was undone, so EIP is where the first event returns to: past the instruction
      // for a trap (INSN_EIP is stale then), on it for a fault; the exit reports that RIP.
      if (vmm !== null) st[S_INSN_EIP] = st[S_EIP];
      if (vmm !== null && vmm.interceptException(cpu, second, cpu.pendingErrorCode)) {
        cpu.pendingVector = -1;
        vmm.eventDeliveryInterrupted(vector, kind === EventKind.External, errorCode, injected ? null : fromInstruction);
        cpu.stop('vmexit', `VM exit, exception ${second} while delivering ${vector}`);
        return;
      }
      if (vector === DF_) {
        chain.shutdown = true;
        cpu.pendingVector = -1;
        if (restartable && hook.onTripleFault(cpu)) {
          // The debugger stops at the instruction that began the chain, as it was before it ran.
          cpu.restoreStateBeforeChain();
          cpu.stop('debug', 'the next instruction triple-faults');
          return;
        }
        cpu.stop('shutdown', `triple fault: ${exceptionMnemonic(second)} while delivering a double fault`);
        return;
      }
      const first = vector;
      const combine = combinesIntoDoubleFault(first, second);
      vector = combine ? DF_ : second;
      errorCode = combine ? 0 : cpu.pendingErrorCode;
      if (combine) chain.record(DF_, EventKind.Exception, 0, st[S_SEG_SEL + CS] & 0xffff, st[S_SEG_BASE + CS], st[S_INSN_EIP], st[S_CPL], st[S_CR2], st[S_CR3]);
      // What is delivered now is an exception (with its error code), whatever the first event was.
      kind = EventKind.Exception;
      external = true;
      cpu.pendingVector = -1;
    }
  }
}

/**
 * Delivers `vector`. For software interrupts and traps EIP already points past the
 * instruction; for faults the caller has reset it to the faulting instruction.
 */
export function interrupt(cpu: Cpu, vector: number, kind: EventKind, errorCode = -1, external = kind === EventKind.External): void {
  cpu.halted = false;
  cpu.resumeInsn = null; // returning to an instruction fetches it again
  cpu.debugHook?.onEvent(cpu, vector, kind, errorCode);
  // Virtual-8086 mode takes interrupts through the IDT too (to ring 0).
  if (!(cpu.st[S_CR0] & CR0_PE)) {
    atomically(cpu, () => realModeInterrupt(cpu, vector));
    return;
  }
  const ext = external ? 1 : 0;
  const idtError = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > cpu.st[S_IDTR_LIMIT] >>> 0) cpu.fault(GP, idtError);
  const address = (cpu.st[S_IDTR_BASE] + vector * 8) | 0;
  const low = cpu.readSystem32(address);
  const high = cpu.readSystem32((address + 4) | 0);
  const type = (high >> 8) & 0x1f;
  const gateDpl = (high >> 13) & 3;
  const pushesError = kind === EventKind.Exception && hasErrorCode(vector);
  if (kind === EventKind.Software && gateDpl < cpu.st[S_CPL]) cpu.fault(GP, idtError);
  if (!(high & 0x8000)) cpu.fault(NP, idtError);
  if (type === TASK_GATE) {
    // A task switch has its own commit point (faults after it belong to the new task).
    taskSwitch(cpu, low >>> 16, TaskSwitchReason.Interrupt, pushesError ? Math.max(errorCode, 0) : -1);
    return;
  }
  const isInterruptGate = type === 0x0e || type === 0x06;
  const isTrapGate = type === 0x0f || type === 0x07;
  if (!isInterruptGate && !isTrapGate) cpu.fault(GP, idtError);
  atomically(cpu, () => gateInterrupt(cpu, low, high, isInterruptGate, pushesError ? Math.max(errorCode, 0) : -1, ext));
}

function realModeInterrupt(cpu: Cpu, vector: number): void {
  const st = cpu.st;
  const entry = vector * 4;
  if (entry + 3 > st[S_IDTR_LIMIT] >>> 0) cpu.fault(GP, entry * 2 + 2);
  const base = st[S_IDTR_BASE];
  const flags = getEflags(st);
  push(cpu, flags, 16);
  push(cpu, cpu.segmentSelector(CS), 16);
  push(cpu, st[S_EIP], 16);
  const ip = cpu.readLin16((base + entry) | 0);
  const cs = cpu.readLin16((base + entry + 2) | 0);
  setEflags(st, flags & ~(IF | TF | AC | RF));
  cpu.setRealModeSegment(CS, cs);
  st[S_EIP] = ip;
}

/** Through an interrupt or trap gate: to the handler's ring (a stack switch when it is more privileged). */
function gateInterrupt(cpu: Cpu, low: number, high: number, isInterruptGate: boolean, errorCode: number, ext: number): void {
  const st = cpu.st;
  const fromV86 = (st[S_EFLAGS] & VM) !== 0;
  const cpl = st[S_CPL];
  const gate32 = (high & 0x800) !== 0;
  const selector = low >>> 16;
  const offset = gate32 ? (low & 0xffff) | (high & 0xffff0000) : low & 0xffff;

  // The handler's code segment decides the ring it runs in.
  if ((selector & 0xfffc) === 0) cpu.fault(GP, ext);
  const target = readDescriptor(cpu, selector);
  const targetError = (selector & 0xfffc) | ext;
  if ((target.attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.fault(GP, targetError);
  const targetDpl = (target.attr >> 5) & 3;
  if (targetDpl > cpl) cpu.fault(GP, targetError);
  if (!(target.attr & ATTR_PRESENT)) cpu.fault(NP, targetError);
  const conforming = (target.attr & ATTR_EXPAND_DOWN) !== 0;
  const inner = !conforming && targetDpl < cpl;
  // From virtual-8086 mode, only a ring-0 handler in a non-conforming segment will do.
  if (fromV86 && (!inner || targetDpl !== 0)) cpu.fault(GP, targetError);
  if (offset >>> 0 > target.limit) cpu.fault(GP, ext);

  const size = gate32 ? 32 : 16;
  const flags = getEflags(st);
  const returnCs = st[S_SEG_SEL + CS] & 0xffff;
  const returnEip = st[S_EIP];
  const newCpl = inner ? targetDpl : cpl;
  // The handler's accessed bit is written after the frame: its fault or VM exit is met first (Cpu.prepareAccess).
  prepareMarkAccessed(cpu, selector, target);
  if (inner) {
    // A more privileged ring: its stack comes from the TSS, and the old SS:ESP (after the
    // V86 data segments) goes on it, with room for the whole frame.
    const stack = innerStackSwitch(cpu, newCpl);
    const v86Segments = fromV86 ? [GS, FS, DS, ES].map((seg) => st[S_SEG_SEL + seg] & 0xffff) : [];
    const frameBytes = (v86Segments.length + 5 + (errorCode >= 0 ? 1 : 0)) * (size >> 3);
    switchToInnerStack(cpu, stack, size, frameBytes, ext, v86Segments);
    if (fromV86) for (const seg of [ES, DS, FS, GS]) cpu.setNullSegment(seg, 0);
  } else {
    preparePushes(cpu, errorCode >= 0 ? 4 : 3, size);
  }
  push(cpu, flags, size);
  push(cpu, returnCs, size);
  push(cpu, returnEip, size);
  if (errorCode >= 0) push(cpu, errorCode, size);
  setEflags(st, flags & ~(TF | NT | RF | VM | (isInterruptGate ? IF : 0)));
  if (fromV86) for (let seg = 0; seg < 6; seg++) cpu.updateAccessRanges(seg);
  loadCodeSegment(cpu, selector, newCpl);
  st[S_EIP] = offset;
}
