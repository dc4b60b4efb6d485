/**
 * The task state segment: the stacks for inner rings (SS0:ESP0 ...), the I/O permission
 * bitmap, and hardware task switches (JMP or CALL to a TSS or task gate, an interrupt through
 * a task gate, IRET with NT set), with the busy bit and the back link as a 386 keeps them.
 * 32-bit TSSs (types 9/11) and 286 TSSs (types 1/3) both work.
 */
import { GUEST_FAULT, type Cpu } from './cpu.ts';
import { getEflags, setEflags } from './flags.ts';
import { preparePushes, push, setStackPointer, stackPointer } from './operands.ts';
import {
  checkStackSegment, decodeDescriptor, descriptorAddress, loadCheckedStackSegment, loadSegment, loadCodeSegment, offsetRange,
  readDescriptor, loadV86Segments, type Descriptor,
} from './segments.ts';
import {
  ATTR_PRESENT, CR0_PG, CR0_TS, CS, DS, ES, FS, GP, GS, LDTR, NP, NT, S_CR0, S_CR3, S_EIP, S_SEG_ATTR, S_SEG_BASE,
  S_SEG_HIGH, S_SEG_SEL, S_SEG_WHIGH, S_SEG_WLOW, S_STACK32, SS, SS_, TR, TS_, VM, IF,
} from './state.ts';

/** Whether the current TSS is a 32-bit one (type 9 or 11). */
function tss32(cpu: Cpu): boolean {
  return (cpu.st[S_SEG_ATTR + TR] & 0x08) !== 0;
}

/** Reads `bytes` at `offset` in the current TSS, raising #TS(TR) past its limit. */
function readTss(cpu: Cpu, offset: number, bytes: 2 | 4): number {
  const st = cpu.st;
  if (offset + bytes - 1 > st[S_SEG_HIGH + TR] >>> 0) cpu.fault(TS_, st[S_SEG_SEL + TR] & 0xfffc);
  const lin = (st[S_SEG_BASE + TR] + offset) | 0;
  return bytes === 4 ? cpu.readSystem32(lin) : cpu.readSystem16(lin);
}

/** The stack for privilege level `dpl` from the current TSS: [SS, ESP]. */
function innerStack(cpu: Cpu, dpl: number): [ss: number, esp: number] {
  if (tss32(cpu)) return [readTss(cpu, 8 + dpl * 8, 2), readTss(cpu, 4 + dpl * 8, 4)];
  return [readTss(cpu, 4 + dpl * 4, 2), readTss(cpu, 2 + dpl * 4, 2)];
}

/** A more privileged ring's stack, from the TSS and checked, and the stack a switch to it leaves. */
export interface StackSwitch {
  cpl: number;
  ss: number;
  esp: number;
  descriptor: Descriptor;
  outerSs: number;
  outerEsp: number;
}

/**
 * The first half of a switch to the stack of ring `cpl` (a CALL through a call gate or an
 * interrupt to a more privileged ring): SS:ESP for that ring from the TSS, SS checked
 * (#TS(SS) unless a writable data segment of that ring, #SS(SS) when not present). Nothing
 * changes yet: the caller may still read the outer stack (a call gate's parameters).
 */
export function innerStackSwitch(cpu: Cpu, cpl: number): StackSwitch {
  const [ss, esp] = innerStack(cpu, cpl);
  const descriptor = checkStackSegment(cpu, ss, cpl, TS_);
  return { cpl, ss, esp, descriptor, outerSs: cpu.st[S_SEG_SEL + SS] & 0xffff, outerEsp: stackPointer(cpu) };
}

/**
 * The second half: CPL and SS:ESP become the inner ring's, and `first` (the selectors an
 * interrupt from virtual-8086 mode saves) then the outer SS:ESP are pushed. The whole frame of
 * `frameBytes` must fit in the new stack segment: #SS(new SS, with `ext`) before anything is
 * pushed.
 */
export function switchToInnerStack(
  cpu: Cpu, s: StackSwitch, size: number, frameBytes: number, ext: number, first: readonly number[] = [],
): void {
  const st = cpu.st;
  cpu.setCpl(s.cpl);
  loadCheckedStackSegment(cpu, s.ss, s.descriptor);
  const top = st[S_STACK32] ? s.esp >>> 0 : s.esp & 0xffff;
  const lowest = top - frameBytes; // a 16-bit SP that wraps is left to the pushes' own checks
  if (lowest >= 0 && (lowest < st[S_SEG_WLOW + SS] >>> 0 || top - 1 > st[S_SEG_WHIGH + SS] >>> 0)) cpu.fault(SS_, (s.ss & 0xfffc) | ext);
  setStackPointer(cpu, s.esp);
  preparePushes(cpu, frameBytes / (size >> 3), size); // the whole frame, the caller's pushes too
  for (const value of first) push(cpu, value, size);
  push(cpu, s.outerSs, size);
  push(cpu, s.outerEsp, size);
}

/**
 * Whether the I/O permission bitmap allows `bytes` ports from `port`: every bit for them clear
 * and inside the TSS's limit. A 286 TSS has no bitmap: nothing is allowed.
 */
export function ioPermitted(cpu: Cpu, port: number, bytes: number): boolean {
  const st = cpu.st;
  if (!tss32(cpu) || 0x67 > st[S_SEG_HIGH + TR] >>> 0) return false;
  const mapBase = readTss(cpu, 0x66, 2);
  const at = mapBase + (port >>> 3);
  if (at + 1 > st[S_SEG_HIGH + TR] >>> 0) return false;
  const bits = cpu.readSystem16((st[S_SEG_BASE + TR] + at) | 0);
  const mask = ((1 << bytes) - 1) << (port & 7);
  return (bits & mask) === 0;
}

export const enum TaskSwitchReason {
  Jmp,
  Call,
  Iret,
  Interrupt,
}

/**
 * Register and selector offsets in a 32-bit and a 16-bit TSS; `savedEnd`, the last byte of
 * what a task switch saves of the outgoing task (EIP to the last segment selector's slot).
 */
const TSS32 = { eip: 0x20, eflags: 0x24, reg: 0x28, seg: 0x48, ldt: 0x60, size: 4 as const, savedEnd: 0x5f };
const TSS16 = { eip: 0x0e, eflags: 0x10, reg: 0x12, seg: 0x22, ldt: 0x2a, size: 2 as const, savedEnd: 0x29 };

/** Sets or clears the busy bit (type bit 1) of the TSS descriptor for `selector` (a task switch, LTR). */
export function setBusy(cpu: Cpu, selector: number, busy: boolean): void {
  const address = (descriptorAddress(cpu, selector) + 4) | 0;
  const high = cpu.readSystem32(address);
  cpu.writeSystem(address, busy ? high | 0x200 : high & ~0x200, 32);
}

/**
 * Switches to the task whose TSS `selector` names. EIP must already point where the old task
 * resumes (past a JMP/CALL/INT, at a faulting instruction). `errorCode` >= 0 is pushed on the
 * new task's stack (an exception through a task gate).
 */
export function taskSwitch(cpu: Cpu, selector: number, reason: TaskSwitchReason, errorCode = -1): void {
  const st = cpu.st;
  const error = selector & 0xfffc;
  // The new TSS (SDM Vol. 3, Table 7-1): a selector in the GDT, within its limit (else #GP, #TS
  // for IRET's back link), a TSS that is available (busy for IRET), present, and large enough.
  const invalid = reason === TaskSwitchReason.Iret ? TS_ : GP;
  if (selector & 4) cpu.fault(invalid, error); // TSS descriptors live in the GDT
  const d = readDescriptor(cpu, selector, invalid);
  const type = d.attr & 0x1f;
  const wantBusy = reason === TaskSwitchReason.Iret;
  const valid = wantBusy ? type === 0x03 || type === 0x0b : type === 0x01 || type === 0x09;
  if (!valid) cpu.fault(invalid, error);
  if (!(d.attr & ATTR_PRESENT)) cpu.fault(NP, error);
  const new32 = (type & 0x08) !== 0;
  if (d.limit < (new32 ? 0x67 : 0x2b)) cpu.fault(TS_, error);

  // The outgoing task is saved in its own TSS, which must hold it: #TS(old TSS) before anything is written.
  const oldSelector = st[S_SEG_SEL + TR] & 0xffff;
  const oldBase = st[S_SEG_BASE + TR];
  const old = tss32(cpu) ? TSS32 : TSS16;
  if (old.savedEnd > st[S_SEG_HIGH + TR] >>> 0) cpu.fault(TS_, oldSelector & 0xfffc);

  // Save the outgoing task.
  let flags = getEflags(st);
  if (reason === TaskSwitchReason.Iret) flags &= ~NT;
  cpu.writeSystem((oldBase + old.eip) | 0, st[S_EIP], old.size * 8);
  cpu.writeSystem((oldBase + old.eflags) | 0, flags, old.size * 8);
  for (let r = 0; r < 8; r++) cpu.writeSystem((oldBase + old.reg + r * old.size) | 0, cpu.reg[r], old.size * 8);
  const segments = old === TSS32 ? [ES, CS, SS, DS, FS, GS] : [ES, CS, SS, DS];
  segments.forEach((seg, i) => cpu.writeSystem((oldBase + old.seg + i * old.size) | 0, st[S_SEG_SEL + seg] & 0xffff, 16));
  if (reason === TaskSwitchReason.Jmp || reason === TaskSwitchReason.Iret) setBusy(cpu, oldSelector, false);

  // Switch TR.
  const base = d.base;
  if (reason === TaskSwitchReason.Call || reason === TaskSwitchReason.Interrupt) cpu.writeSystem(base, oldSelector, 16);
  if (reason !== TaskSwitchReason.Iret) setBusy(cpu, selector, true);
  const busyAttr = d.attr | 0x02;
  const [low, high] = offsetRange(d);
  cpu.setSegmentCache(TR, selector, base, low, high, busyAttr);
  st[S_CR0] |= CR0_TS;

  // Load the incoming task.
  const t = new32 ? TSS32 : TSS16;
  const read = (offset: number, bytes: 2 | 4) => (bytes === 4 ? cpu.readSystem32((base + offset) | 0) : cpu.readSystem16((base + offset) | 0));
  if (new32 && st[S_CR0] & CR0_PG) {
    if (cpu.hostPaging) {
      // Under a VMM's shadow tables (or a paravirtual guest's validated ones) the CR3 in the TSS
      // is not one the CPU may load; VMX would exit here (task switch, reason 9), and minivisor's
      // shadow and paravirtual modes do not emulate that.
      cpu.stop('shutdown', 'a hardware task switch with paging on, under shadow or paravirtual paging: not supported (run with --mode ept)');
      throw GUEST_FAULT;
    }
    st[S_CR3] = read(0x1c, 4) & 0xfffff018;
    cpu.cr3Loads++;
    cpu.flushTlb(true);
  }
  let newFlags = read(t.eflags, t.size);
  if (!new32) newFlags = (getEflags(st) & 0xffff0000) | newFlags;
  if (reason === TaskSwitchReason.Call || reason === TaskSwitchReason.Interrupt) newFlags |= NT;
  st[S_EIP] = read(t.eip, t.size);
  for (let r = 0; r < 8; r++) {
    const value = read(t.reg + r * t.size, t.size);
    if (new32) cpu.reg[r] = value;
    else cpu.reg16[r << 1] = value;
  }
  const newSegments = new32 ? [ES, CS, SS, DS, FS, GS] : [ES, CS, SS, DS];
  const selectors = newSegments.map((_, i) => read(t.seg + i * t.size, 2));
  const ldt = read(t.ldt, 2);
  const oldFlags = getEflags(st);
  setEflags(st, newFlags);
  cpu.eflagsLoaded(oldFlags, newFlags);
  if (newFlags & IF) cpu.raiseInterruptLine(); // a task's interrupts may be waiting (the line is looked at again)

  // Faults from here on belong to the new task: an instruction running atomically rolls back
  // to here, not to before the switch. A selector that may not be loaded is #TS(selector); a
  // segment not present #NP(selector), #SS(selector) for SS (SDM Vol. 3, Table 7-1).
  cpu.saveStateForRollback();
  loadLdt(cpu, ldt);
  if (newFlags & VM) {
    loadV86Segments(cpu, selectors[1], selectors[2], selectors[0], selectors[3], selectors[4] ?? 0, selectors[5] ?? 0);
  } else {
    const cs = selectors[1];
    loadCodeSegment(cpu, cs, cs & 3, TS_);
    loadSegment(cpu, SS, selectors[2], TS_);
    for (const [i, seg] of [[0, ES], [3, DS], [4, FS], [5, GS]] as const) loadSegment(cpu, seg, selectors[i] ?? 0, TS_);
  }
  if (errorCode >= 0) {
    const size = new32 ? 32 : 16;
    push(cpu, errorCode, size);
  }
}

/**
 * Loads LDTR for a task switch: a null selector leaves no LDT; anything else must name a
 * present LDT descriptor in the GDT, else #TS(selector) (SDM Vol. 3, Table 7-1).
 */
function loadLdt(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) {
    cpu.setNullSegment(LDTR, selector);
    return;
  }
  const error = selector & 0xfffc;
  if (selector & 4) cpu.fault(TS_, error);
  const address = descriptorAddress(cpu, selector, error, TS_);
  const d = decodeDescriptor(cpu.readSystem32(address), cpu.readSystem32((address + 4) | 0));
  if ((d.attr & 0x1f) !== 0x02 || !(d.attr & ATTR_PRESENT)) cpu.fault(TS_, error);
  cpu.setSegmentCache(LDTR, selector, d.base, 0, d.limit | 0, d.attr);
}

