/**
 * Loading segment registers: real mode (selector × 16, the cached limit and attributes kept,
 * which is what makes "unreal" mode work) and protected mode (a descriptor from the GDT or
 * LDT, with the type, privilege and presence checks a 386 makes).
 */
import type { Cpu } from './cpu.ts';
import {
  ATTR_ACCESSED as ATTR_ACCESSED_BIT, ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, ATTR_G, ATTR_PRESENT, ATTR_S, ATTR_WRITABLE, CR0_PE, CS, DS,
  ES, FS, GP, GS, LDTR, NP, SS, SS_, S_CPL, S_CR0, S_EFLAGS, S_GDTR_BASE, S_GDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_HIGH, S_SEG_LOW, VM,
} from './state.ts';

/** A segment descriptor, decoded. */
export interface Descriptor {
  base: number;
  /** Limit in bytes, after granularity. */
  limit: number;
  /** Access byte in bits 0-7, flags nibble in bits 12-15 (as the segment cache keeps them). */
  attr: number;
  /** Raw dwords, for system descriptors (gates) that are not segments. */
  low: number;
  high: number;
}

export function isProtectedMode(st: Int32Array): boolean {
  return (st[S_CR0] & CR0_PE) !== 0 && (st[S_EFLAGS] & VM) === 0;
}

/** Decodes the descriptor dwords `low`, `high`. */
export function decodeDescriptor(low: number, high: number): Descriptor {
  const base = ((low >>> 16) | ((high & 0xff) << 16) | (high & 0xff000000)) | 0;
  let limit = (low & 0xffff) | (high & 0xf0000);
  const attr = (high >> 8) & 0xf0ff;
  if (attr & ATTR_G) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, attr, low, high };
}

/**
 * Linear address of the descriptor for `selector`; #GP(selector) when it lies past its table's
 * limit (or `vector`: a task switch raises #TS).
 */
export function descriptorAddress(cpu: Cpu, selector: number, errorCode = selector & 0xfffc, vector = GP): number {
  const st = cpu.st;
  const index = selector & 0xfff8;
  const inLdt = (selector & 4) !== 0;
  const base = inLdt ? st[S_SEG_BASE + LDTR] : st[S_GDTR_BASE];
  const limit = inLdt ? st[S_SEG_HIGH + LDTR] : st[S_GDTR_LIMIT];
  if (index + 7 > limit >>> 0) cpu.fault(vector, errorCode);
  return (base + index) | 0;
}

/** Reads the descriptor for `selector`: #GP(selector) (or `vector`) when it lies past its table's limit. */
export function readDescriptor(cpu: Cpu, selector: number, vector = GP): Descriptor {
  const address = descriptorAddress(cpu, selector, selector & 0xfffc, vector);
  return decodeDescriptor(cpu.readSystem32(address), cpu.readSystem32((address + 4) | 0));
}

/** Sets the accessed bit of a descriptor in memory, as the CPU does when loading it. */
function markAccessed(cpu: Cpu, selector: number, d: Descriptor): void {
  if (d.attr & 1) return;
  const address = (descriptorAddress(cpu, selector) + 4) | 0;
  // The access byte is bit 8-15 of the high dword: set its accessed bit (bit 8).
  cpu.writeSystem(address, cpu.readSystem32(address) | 0x100, 32);
  d.attr |= 1;
}

/**
 * Before a transfer that writes its frame and then loads CS from `d`: meets the fault or VM exit
 * of the accessed bit's write now, before the frame's first write (Cpu.prepareAccess).
 */
export function prepareMarkAccessed(cpu: Cpu, selector: number, d: Descriptor): void {
  if (d.attr & 1) return;
  cpu.prepareSystemWrite((descriptorAddress(cpu, selector) + 4) | 0, 4);
}

/** Lowest and highest valid offsets of a segment, expand-down segments included. */
export function offsetRange(d: Descriptor): [low: number, high: number] {
  const isExpandDownData = (d.attr & (ATTR_CODE | ATTR_EXPAND_DOWN)) === ATTR_EXPAND_DOWN;
  if (!isExpandDownData) return [0, d.limit | 0];
  return [(d.limit + 1) | 0, d.attr & ATTR_DB ? -1 : 0xffff];
}

/**
 * MOV/POP to a data segment register or SS, LDS and friends: per the current mode. A selector
 * that may not be loaded is #GP(selector), or `vector` (#TS for a task switch's loads); one
 * whose segment is not present is #NP(selector), #SS(selector) for SS.
 */
export function loadSegment(cpu: Cpu, seg: number, selector: number, vector = GP): void {
  const st = cpu.st;
  selector &= 0xffff;
  if (!isProtectedMode(st)) {
    cpu.setRealModeSegment(seg, selector);
    return;
  }
  const cpl = st[S_CPL];
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) {
    if (seg === SS) cpu.fault(vector, 0);
    cpu.setNullSegment(seg, selector);
    return;
  }
  const d = readDescriptor(cpu, selector, vector);
  const dpl = (d.attr >> 5) & 3;
  const error = selector & 0xfffc;
  if ((d.attr & ATTR_S) === 0) cpu.fault(vector, error);
  if (seg === SS) {
    const writableData = (d.attr & (ATTR_CODE | ATTR_WRITABLE)) === ATTR_WRITABLE;
    if (!writableData || rpl !== cpl || dpl !== cpl) cpu.fault(vector, error);
    if (!(d.attr & ATTR_PRESENT)) cpu.fault(SS_, error);
  } else {
    const isCode = (d.attr & ATTR_CODE) !== 0;
    if (isCode && !(d.attr & ATTR_WRITABLE)) cpu.fault(vector, error); // execute-only code
    const conformingCode = isCode && (d.attr & ATTR_EXPAND_DOWN) !== 0;
    if (!conformingCode && dpl < Math.max(cpl, rpl)) cpu.fault(vector, error);
    if (!(d.attr & ATTR_PRESENT)) cpu.fault(NP, error);
  }
  markAccessed(cpu, selector, d);
  const [low, high] = offsetRange(d);
  cpu.setSegmentCache(seg, selector, d.base, low, high, d.attr);
}

/**
 * Loads CS for a far JMP, CALL, RET, IRET or interrupt to a code segment at the current
 * privilege level (or a conforming one), or for a task switch (whose faults are `vector`,
 * #TS). Privilege changes through gates and returns to an outer ring are handled by the
 * callers that allow them.
 */
export function loadCodeSegment(cpu: Cpu, selector: number, newCpl = cpu.st[S_CPL], vector = GP): void {
  const st = cpu.st;
  selector &= 0xffff;
  if (!isProtectedMode(st)) {
    cpu.setRealModeSegment(CS, selector);
    return;
  }
  const d = checkCodeSegment(cpu, selector, newCpl, vector);
  markAccessed(cpu, selector, d);
  cpu.setCpl(newCpl);
  cpu.setSegmentCache(CS, (selector & 0xfffc) | newCpl, d.base, 0, d.limit | 0, d.attr);
}

/**
 * Reads and checks a code-segment descriptor for a transfer that will run at `newCpl`:
 * #GP(selector) (or `vector`) when it may not be loaded, #NP(selector) when not present.
 */
export function checkCodeSegment(cpu: Cpu, selector: number, newCpl: number, vector = GP): Descriptor {
  const error = selector & 0xfffc;
  if (error === 0) cpu.fault(vector, 0);
  const d = readDescriptor(cpu, selector, vector);
  if ((d.attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.fault(vector, error);
  const dpl = (d.attr >> 5) & 3;
  const conforming = (d.attr & ATTR_EXPAND_DOWN) !== 0;
  if (conforming ? dpl > newCpl : dpl !== newCpl) cpu.fault(vector, error);
  if (!(d.attr & ATTR_PRESENT)) cpu.fault(NP, error);
  return d;
}

export function isV86(st: Int32Array): boolean {
  return (st[S_EFLAGS] & VM) !== 0;
}

/** A virtual-8086 segment: base selector × 16, 64 KiB, read/write, DPL 3. */
const ATTR_V86 = ATTR_PRESENT | ATTR_S | ATTR_WRITABLE | ATTR_ACCESSED_BIT | (3 << 5);

/**
 * Loads all six segment registers as virtual-8086 mode has them (entering V86 through IRET or
 * a task switch; EFLAGS.VM must already be set) and makes CPL 3.
 */
export function loadV86Segments(cpu: Cpu, cs: number, ss: number, es: number, ds: number, fs: number, gs: number): void {
  const selectors = [es, cs, ss, ds, fs, gs];
  for (let seg = 0; seg < 6; seg++) {
    const selector = selectors[seg] & 0xffff;
    cpu.setSegmentCache(seg, selector, selector << 4, 0, 0xffff, seg === CS ? ATTR_V86 | ATTR_CODE : ATTR_V86);
  }
  cpu.setCpl(3);
}

/**
 * Checks the stack segment a privilege change switches to: a writable data segment whose RPL
 * and DPL are the new CPL, present. Raises `vector` (#TS for stacks from the TSS, #GP for
 * stacks popped by RET/IRET) with the selector, or #SS when it is not present.
 */
export function checkStackSegment(cpu: Cpu, selector: number, cpl: number, vector: number): Descriptor {
  const error = selector & 0xfffc;
  if (error === 0) cpu.fault(vector, 0);
  // Past the table's limit is the same fault as the other checks (#TS for an inner stack from the TSS).
  const d = readDescriptor(cpu, selector, vector);
  const writableData = (d.attr & (ATTR_S | ATTR_CODE | ATTR_WRITABLE)) === (ATTR_S | ATTR_WRITABLE);
  if ((selector & 3) !== cpl || ((d.attr >> 5) & 3) !== cpl || !writableData) cpu.fault(vector, error);
  if (!(d.attr & ATTR_PRESENT)) cpu.fault(SS_, error);
  return d;
}

/** Loads SS from a descriptor already checked (by checkStackSegment). */
export function loadCheckedStackSegment(cpu: Cpu, selector: number, d: Descriptor): void {
  markAccessed(cpu, selector, d);
  const [low, high] = offsetRange(d);
  cpu.setSegmentCache(SS, selector, d.base, low, high, d.attr);
}

/**
 * After a return to an outer ring: a data segment register (ES, DS, FS, GS) holding a segment
 * the new CPL may not use (data or non-conforming code with DPL < CPL) is loaded with null.
 */
export function dropInaccessibleSegments(cpu: Cpu, cpl: number): void {
  const st = cpu.st;
  for (const seg of [ES, DS, FS, GS]) {
    const attr = st[S_SEG_ATTR + seg];
    if (st[S_SEG_LOW + seg] === -1) continue; // already null
    const conformingCode = (attr & (ATTR_CODE | ATTR_EXPAND_DOWN)) === (ATTR_CODE | ATTR_EXPAND_DOWN);
    if (!conformingCode && ((attr >> 5) & 3) < cpl) cpu.setNullSegment(seg, 0);
  }
}
