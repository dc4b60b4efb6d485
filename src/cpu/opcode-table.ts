/**
 * The opcode table: one entry per instruction form, as data. It is the single source of truth
 * for decoding (does the opcode take a ModRM byte, is it a group, which immediate follows,
 * may it take LOCK), for the mnemonic and operand notation shown by traces and checked
 * against the disassembler, for which forms end a translation block, and for which
 * instructions are sensitive. Each entry names the function that carries out its semantics,
 * and, for the forms the translation cache writes out itself, how (`compiled`: emit.ts).
 *
 * Operand notation follows the Intel SDM, Vol. 2, Appendix A: E (ModRM r/m), G (ModRM reg),
 * M (memory only), R (register only), S (segment register), C/D (control/debug register),
 * I (immediate), J (relative offset), O (memory offset), A (far pointer); sizes b, w, d, v
 * (16/32), z (16/32 immediate), p (far pointer). `Ibs` is a sign-extended imm8.
 */
import { registerStatics } from './state-graph.ts';
import type { Insn, Semantics } from './insn.ts';
import * as hot from './hot-forms.ts';
import { NO_FLAGS_MEMORY, NO_FLAGS_REGISTERS, READS_EVERY_FLAG, noFlags, type CompiledForm } from './emit.ts';
import * as alu from './ops/alu.ts';
import * as bcd from './ops/bcd.ts';
import * as bits from './ops/bits.ts';
import * as control from './ops/control.ts';
import * as flagOps from './ops/flag-ops.ts';
import * as io from './ops/io.ts';
import * as move from './ops/move.ts';
import * as muldiv from './ops/muldiv.ts';
import * as shift from './ops/shift.ts';
import * as stack from './ops/stack.ts';
import * as string from './ops/string.ts';
import * as system from './ops/system.ts';

export type { Semantics };

export const enum Imm {
  None = 0,
  Byte = 1,
  SignedByte = 2,
  Word = 3,
  Operand = 4,
  SignedOperand = 5,
  FarPointer = 6,
  MemoryOffset = 7,
  WordThenByte = 8,
}

/** Decode-info bits. */
export const D_MODRM = 1, D_GROUP = 2, D_LOCKABLE = 4, D_MEM_ONLY = 8, D_REG_ONLY = 16;
/**
 * Ends a block: control transfer, mode change, a REP restart, or something the VMM may take
 * over. The block executor relies on it: only the last instruction of a block may read or
 * change EIP (runChunk in run-loop.ts sets EIP for it alone).
 */
export const D_ENDS_BLOCK = 32;
export const D_SENSITIVE = 64;
/** The ModRM byte always names registers, whatever its mod field says (MOV to/from CRn/DRn). */
export const D_IGNORE_MOD = 128;
export const IMM_SHIFT = 8, IMM_MASK = 15;

export interface OpcodeEntry {
  /** 0x00-0xFF, or 0x100 | second byte for 0F xx. */
  opcode: number;
  /** ModRM reg field for group members. */
  reg?: number;
  mnemonic: string;
  /** Operands in SDM Appendix A notation, comma-separated ('' for none). */
  operands: string;
  execute: Semantics;
  /** How the translation cache writes it out; without one, compiled code calls `execute`. */
  compiled?: CompiledForm;
  /** The interpreter's hot form of a decoded instruction, or 0 (hot-forms.ts); none: always 0. */
  hot?: (d: Insn) => number;
  lockable?: boolean;
  endsBlock?: boolean;
  sensitive?: boolean;
}

const LOCK = { lockable: true };
const BRANCH = { endsBlock: true };
/** String instructions end a block: with REP they restart themselves (EIP back on them). */
const STRING = { endsBlock: true };
const SENSITIVE = { endsBlock: true, sensitive: true };

// The forms the translation cache writes out (emit.ts): emitter, flags, deferred form. Their
// functions are looked up when first called: this table is built while the ops modules may
// still be loading (an import cycle through cpu.ts), and their emitters are not hoisted.
function compiled(of: () => { emit: CompiledForm['emit']; flags: CompiledForm['flags']; defer?: CompiledForm['defer'] }): CompiledForm {
  return { emit: (d, x, live) => of().emit(d, x, live), flags: (d) => of().flags(d), defer: (d, t) => of().defer?.(d, t) ?? null };
}
const ALU_EG = compiled(() => ({ emit: alu.emitAluEG, flags: alu.flagsAluEGorGE, defer: alu.deferAluEG }));
const ALU_GE = compiled(() => ({ emit: alu.emitAluGE, flags: alu.flagsAluEGorGE, defer: alu.deferAluGE }));
const ALU_ACC_IMM = compiled(() => ({ emit: alu.emitAluAccImm, flags: alu.flagsAluAccImm, defer: alu.deferAluAccImm }));
const ALU_E_IMM = compiled(() => ({ emit: alu.emitAluEImm, flags: alu.flagsAluEImm, defer: alu.deferAluEImm }));
const INC_DEC_REG = compiled(() => ({ emit: alu.emitIncDecReg, flags: alu.flagsIncDec, defer: alu.deferIncDecReg }));
const INC_DEC_E = compiled(() => ({ emit: alu.emitIncDecE, flags: alu.flagsIncDec, defer: alu.deferIncDecE }));
const TEST_EG = compiled(() => ({ emit: alu.emitTestEG, flags: alu.flagsTest, defer: alu.deferTestEG }));
const TEST_ACC_IMM = compiled(() => ({ emit: alu.emitTestAccImm, flags: alu.flagsTest, defer: alu.deferTestAccImm }));
const MOV_EG = compiled(() => ({ emit: move.emitMovEG, flags: noFlags }));
const MOV_GE = compiled(() => ({ emit: move.emitMovGE, flags: noFlags }));
const MOV_E_IMM = compiled(() => ({ emit: move.emitMovEImm, flags: noFlags }));
const MOV_REG_IMM = compiled(() => ({ emit: move.emitMovRegImm, flags: () => NO_FLAGS_REGISTERS }));
const LEA = compiled(() => ({ emit: move.emitLea, flags: () => NO_FLAGS_REGISTERS }));
const NOP = compiled(() => ({ emit: move.emitNop, flags: () => NO_FLAGS_REGISTERS }));
const SHIFT = compiled(() => ({ emit: shift.emitShiftGroup, flags: shift.flagsShiftGroup, defer: shift.deferShiftGroup }));
const PUSH_REG = compiled(() => ({ emit: stack.emitPushReg, flags: () => NO_FLAGS_MEMORY }));
const POP_REG = compiled(() => ({ emit: stack.emitPopReg, flags: () => NO_FLAGS_MEMORY }));
const JCC = compiled(() => ({ emit: control.emitJcc, flags: () => READS_EVERY_FLAG }));
const MOV_EXTEND = compiled(() => ({ emit: move.emitMovExtend, flags: noFlags }));
const IMUL = compiled(() => ({ emit: muldiv.emitImul, flags: muldiv.flagsImul }));
const JMP_REL = compiled(() => ({ emit: control.emitJmpRel, flags: () => NO_FLAGS_MEMORY })); // not quiet: a target past CS's limit is #GP

const entries: OpcodeEntry[] = [];
function def(opcode: number, mnemonic: string, operands: string, execute: Semantics, extra: Partial<OpcodeEntry> = {}): void {
  entries.push({ opcode, mnemonic, operands, execute, ...extra });
}
function grp(opcode: number, reg: number, mnemonic: string, operands: string, execute: Semantics, extra: Partial<OpcodeEntry> = {}): void {
  entries.push({ opcode, reg, mnemonic, operands, execute, ...extra });
}

// ---- ALU: 00-3F
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
ALU_NAMES.forEach((name, i) => {
  const base = i << 3;
  const lock = name === 'cmp' ? {} : LOCK;
  def(base + 0, name, 'Eb,Gb', alu.execAluEG, { ...lock, compiled: ALU_EG });
  def(base + 1, name, 'Ev,Gv', alu.execAluEG, { ...lock, compiled: ALU_EG, hot: hot.hotAlu });
  def(base + 2, name, 'Gb,Eb', alu.execAluGE, { compiled: ALU_GE });
  def(base + 3, name, 'Gv,Ev', alu.execAluGE, { compiled: ALU_GE, hot: hot.hotAlu });
  def(base + 4, name, 'AL,Ib', alu.execAluAccImm, { compiled: ALU_ACC_IMM });
  def(base + 5, name, 'eAX,Iz', alu.execAluAccImm, { compiled: ALU_ACC_IMM, hot: hot.hotAluEaxImm });
  [0x80, 0x81, 0x82, 0x83].forEach((op) => {
    const operands = op === 0x81 ? 'Ev,Iz' : op === 0x83 ? 'Ev,Ibs' : 'Eb,Ib';
    grp(op, i, name, operands, alu.execAluEImm, { ...lock, compiled: ALU_E_IMM, ...(op === 0x81 || op === 0x83 ? { hot: hot.hotAluImm } : {}) });
  });
});
def(0x06, 'push', 'ES', stack.execPushSreg);
def(0x07, 'pop', 'ES', stack.execPopSreg, BRANCH);
def(0x0e, 'push', 'CS', stack.execPushSreg);
def(0x16, 'push', 'SS', stack.execPushSreg);
def(0x17, 'pop', 'SS', stack.execPopSreg, BRANCH);
def(0x1e, 'push', 'DS', stack.execPushSreg);
def(0x1f, 'pop', 'DS', stack.execPopSreg, BRANCH);
def(0x27, 'daa', '', bcd.execDaa);
def(0x2f, 'das', '', bcd.execDas);
def(0x37, 'aaa', '', bcd.execAaa);
def(0x3f, 'aas', '', bcd.execAas);

// ---- 40-6F
for (let r = 0; r < 8; r++) {
  def(0x40 + r, 'inc', 'Zv', alu.execIncDecReg, { compiled: INC_DEC_REG, hot: hot.hotIncDec });
  def(0x48 + r, 'dec', 'Zv', alu.execIncDecReg, { compiled: INC_DEC_REG, hot: hot.hotIncDec });
  def(0x50 + r, 'push', 'Zv', stack.execPushReg, { compiled: PUSH_REG, hot: hot.hotPushReg });
  def(0x58 + r, 'pop', 'Zv', stack.execPopReg, { compiled: POP_REG, hot: hot.hotPopReg });
}
def(0x60, 'pusha', '', stack.execPusha);
def(0x61, 'popa', '', stack.execPopa);
def(0x62, 'bound', 'Gv,Ma', control.execBound, { endsBlock: true });
def(0x63, 'arpl', 'Ew,Gw', system.execArpl);
def(0x68, 'push', 'Iz', stack.execPushImm);
def(0x69, 'imul', 'Gv,Ev,Iz', muldiv.execImulGEImm, { compiled: IMUL });
def(0x6a, 'push', 'Ibs', stack.execPushImm);
def(0x6b, 'imul', 'Gv,Ev,Ibs', muldiv.execImulGEImm, { compiled: IMUL });
def(0x6c, 'insb', '', string.execString, SENSITIVE);
def(0x6d, 'insw', '', string.execString, SENSITIVE);
def(0x6e, 'outsb', '', string.execString, SENSITIVE);
def(0x6f, 'outsw', '', string.execString, SENSITIVE);

// ---- 70-7F Jcc rel8
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
CC.forEach((cc, i) => {
  def(0x70 + i, 'j' + cc, 'Jb', control.execJcc, { ...BRANCH, compiled: JCC, hot: hot.hotJcc });
  def(0x180 + i, 'j' + cc, 'Jz', control.execJcc, { ...BRANCH, compiled: JCC, hot: hot.hotJcc });
  def(0x190 + i, 'set' + cc, 'Eb', bits.execSetcc);
  def(0x140 + i, 'cmov' + cc, 'Gv,Ev', bits.execCmovcc);
});

// ---- 84-8F
def(0x84, 'test', 'Eb,Gb', alu.execTestEG, { compiled: TEST_EG });
def(0x85, 'test', 'Ev,Gv', alu.execTestEG, { compiled: TEST_EG, hot: hot.hotTest });
def(0x86, 'xchg', 'Eb,Gb', move.execXchgEG, LOCK);
def(0x87, 'xchg', 'Ev,Gv', move.execXchgEG, LOCK);
def(0x88, 'mov', 'Eb,Gb', move.execMovEG, { compiled: MOV_EG });
def(0x89, 'mov', 'Ev,Gv', move.execMovEG, { compiled: MOV_EG, hot: hot.hotMov });
def(0x8a, 'mov', 'Gb,Eb', move.execMovGE, { compiled: MOV_GE });
def(0x8b, 'mov', 'Gv,Ev', move.execMovGE, { compiled: MOV_GE, hot: hot.hotMov });
def(0x8c, 'mov', 'Ev,Sw', move.execMovESreg);
def(0x8d, 'lea', 'Gv,M', move.execLea, { compiled: LEA, hot: hot.hotLea });
def(0x8e, 'mov', 'Sw,Ew', move.execMovSregE, BRANCH);
grp(0x8f, 0, 'pop', 'Ev', stack.execPopE);

// ---- 90-9F
def(0x90, 'nop', '', move.execNop, { compiled: NOP });
for (let r = 1; r < 8; r++) def(0x90 + r, 'xchg', 'Zv,eAX', move.execXchgAccReg);
def(0x98, 'cbw', '', move.execCbw);
def(0x99, 'cwd', '', move.execCwd);
def(0x9a, 'call', 'Ap', control.execCallFar, BRANCH);
def(0x9b, 'wait', '', system.execWait);
def(0x9c, 'pushf', '', stack.execPushf);
def(0x9d, 'popf', '', stack.execPopf, BRANCH);
def(0x9e, 'sahf', '', move.execSahf);
def(0x9f, 'lahf', '', move.execLahf);

// ---- A0-AF
def(0xa0, 'mov', 'AL,Ob', move.execMovAccOffset);
def(0xa1, 'mov', 'eAX,Ov', move.execMovAccOffset);
def(0xa2, 'mov', 'Ob,AL', move.execMovAccOffset);
def(0xa3, 'mov', 'Ov,eAX', move.execMovAccOffset);
def(0xa4, 'movsb', '', string.execString, STRING);
def(0xa5, 'movsw', '', string.execString, STRING);
def(0xa6, 'cmpsb', '', string.execString, STRING);
def(0xa7, 'cmpsw', '', string.execString, STRING);
def(0xa8, 'test', 'AL,Ib', alu.execTestAccImm, { compiled: TEST_ACC_IMM });
def(0xa9, 'test', 'eAX,Iz', alu.execTestAccImm, { compiled: TEST_ACC_IMM });
def(0xaa, 'stosb', '', string.execString, STRING);
def(0xab, 'stosw', '', string.execString, STRING);
def(0xac, 'lodsb', '', string.execString, STRING);
def(0xad, 'lodsw', '', string.execString, STRING);
def(0xae, 'scasb', '', string.execString, STRING);
def(0xaf, 'scasw', '', string.execString, STRING);

// ---- B0-BF
for (let r = 0; r < 8; r++) {
  def(0xb0 + r, 'mov', 'Zb,Ib', move.execMovRegImm, { compiled: MOV_REG_IMM });
  def(0xb8 + r, 'mov', 'Zv,Iz', move.execMovRegImm, { compiled: MOV_REG_IMM, hot: hot.hotMovRegImm });
}

// ---- C0-CF
const SHIFT_NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
SHIFT_NAMES.forEach((name, i) => {
  grp(0xc0, i, name, 'Eb,Ib', shift.execShiftGroup, { compiled: SHIFT });
  grp(0xc1, i, name, 'Ev,Ib', shift.execShiftGroup, { compiled: SHIFT, hot: hot.hotShift });
  grp(0xd0, i, name, 'Eb,1', shift.execShiftGroup, { compiled: SHIFT });
  grp(0xd1, i, name, 'Ev,1', shift.execShiftGroup, { compiled: SHIFT, hot: hot.hotShift });
  grp(0xd2, i, name, 'Eb,CL', shift.execShiftGroup);
  grp(0xd3, i, name, 'Ev,CL', shift.execShiftGroup);
});
def(0xc2, 'ret', 'Iw', control.execRetNear, BRANCH);
def(0xc3, 'ret', '', control.execRetNear, { ...BRANCH, hot: hot.hotRetNear });
def(0xc4, 'les', 'Gv,Mp', move.execLoadFarPointer);
def(0xc5, 'lds', 'Gv,Mp', move.execLoadFarPointer);
grp(0xc6, 0, 'mov', 'Eb,Ib', move.execMovEImm, { compiled: MOV_E_IMM });
grp(0xc7, 0, 'mov', 'Ev,Iz', move.execMovEImm, { compiled: MOV_E_IMM, hot: hot.hotMovMemImm });
def(0xc8, 'enter', 'Iw,Ib', stack.execEnter);
def(0xc9, 'leave', '', stack.execLeave);
def(0xca, 'retf', 'Iw', control.execRetFar, BRANCH);
def(0xcb, 'retf', '', control.execRetFar, BRANCH);
def(0xcc, 'int3', '', control.execInt, BRANCH);
def(0xcd, 'int', 'Ib', control.execInt, BRANCH);
def(0xce, 'into', '', control.execInt, BRANCH);
def(0xcf, 'iret', '', control.execIret, BRANCH);

// ---- D4-DF
def(0xd4, 'aam', 'Ib', bcd.execAam);
def(0xd5, 'aad', 'Ib', bcd.execAad);
def(0xd6, 'salc', '', flagOps.execSalc);
def(0xd7, 'xlatb', '', move.execXlat);
for (let op = 0xd8; op <= 0xdf; op++) def(op, 'fpu', 'E', system.execFpuEscape);

// ---- E0-EF
def(0xe0, 'loopne', 'Jb', control.execLoop, BRANCH);
def(0xe1, 'loope', 'Jb', control.execLoop, BRANCH);
def(0xe2, 'loop', 'Jb', control.execLoop, BRANCH);
def(0xe3, 'jcxz', 'Jb', control.execJcxz, BRANCH);
def(0xe4, 'in', 'AL,Ib', io.execIn, SENSITIVE);
def(0xe5, 'in', 'eAX,Ib', io.execIn, SENSITIVE);
def(0xe6, 'out', 'Ib,AL', io.execOut, SENSITIVE);
def(0xe7, 'out', 'Ib,eAX', io.execOut, SENSITIVE);
def(0xe8, 'call', 'Jz', control.execCallRel, { ...BRANCH, hot: hot.hotCallRel });
def(0xe9, 'jmp', 'Jz', control.execJmpRel, { ...BRANCH, compiled: JMP_REL, hot: hot.hotJmpRel });
def(0xea, 'jmp', 'Ap', control.execJmpFar, BRANCH);
def(0xeb, 'jmp', 'Jb', control.execJmpRel, { ...BRANCH, compiled: JMP_REL, hot: hot.hotJmpRel });
def(0xec, 'in', 'AL,DX', io.execIn, SENSITIVE);
def(0xed, 'in', 'eAX,DX', io.execIn, SENSITIVE);
def(0xee, 'out', 'DX,AL', io.execOut, SENSITIVE);
def(0xef, 'out', 'DX,eAX', io.execOut, SENSITIVE);

// ---- F4-FF
def(0xf4, 'hlt', '', control.execHlt, SENSITIVE);
def(0xf5, 'cmc', '', flagOps.execFlagOp);
const UNARY: [number, string, Semantics, Partial<OpcodeEntry>][] = [
  [0, 'test', alu.execTestEImm, {}],
  [1, 'test', alu.execTestEImm, {}], // undocumented alias of /0
  [2, 'not', alu.execNotNeg, LOCK],
  [3, 'neg', alu.execNotNeg, LOCK],
  [4, 'mul', muldiv.execMulAcc, {}],
  [5, 'imul', muldiv.execMulAcc, {}],
  [6, 'div', muldiv.execDiv, {}],
  [7, 'idiv', muldiv.execDiv, {}],
];
for (const [reg, name, execute, extra] of UNARY) {
  grp(0xf6, reg, name, reg <= 1 ? 'Eb,Ib' : 'Eb', execute, extra);
  grp(0xf7, reg, name, reg <= 1 ? 'Ev,Iz' : 'Ev', execute, extra);
}
def(0xf8, 'clc', '', flagOps.execFlagOp);
def(0xf9, 'stc', '', flagOps.execFlagOp);
def(0xfa, 'cli', '', flagOps.execCliSti, BRANCH);
def(0xfb, 'sti', '', flagOps.execCliSti, BRANCH);
def(0xfc, 'cld', '', flagOps.execFlagOp);
def(0xfd, 'std', '', flagOps.execFlagOp);
grp(0xfe, 0, 'inc', 'Eb', alu.execIncDecE, { ...LOCK, compiled: INC_DEC_E });
grp(0xfe, 1, 'dec', 'Eb', alu.execIncDecE, { ...LOCK, compiled: INC_DEC_E });
grp(0xff, 0, 'inc', 'Ev', alu.execIncDecE, { ...LOCK, compiled: INC_DEC_E });
grp(0xff, 1, 'dec', 'Ev', alu.execIncDecE, { ...LOCK, compiled: INC_DEC_E });
grp(0xff, 2, 'call', 'Ev', control.execCallE, BRANCH);
grp(0xff, 3, 'call', 'Mp', control.execCallFar, BRANCH);
grp(0xff, 4, 'jmp', 'Ev', control.execJmpE, BRANCH);
grp(0xff, 5, 'jmp', 'Mp', control.execJmpFar, BRANCH);
grp(0xff, 6, 'push', 'Ev', stack.execPushE);

// ---- 0F xx
grp(0x100, 0, 'sldt', 'Ew', system.execStoreSystemSegment);
grp(0x100, 1, 'str', 'Ew', system.execStoreSystemSegment);
grp(0x100, 2, 'lldt', 'Ew', system.execLoadSystemSegment, SENSITIVE);
grp(0x100, 3, 'ltr', 'Ew', system.execLoadSystemSegment, SENSITIVE);
grp(0x100, 4, 'verr', 'Ew', system.execVerify);
grp(0x100, 5, 'verw', 'Ew', system.execVerify);
grp(0x101, 0, 'sgdt', 'E', system.execGroup7Slot0, SENSITIVE); // 0F 01 C1 is VMCALL
grp(0x101, 1, 'sidt', 'M', system.execDescriptorTableRegister, SENSITIVE);
grp(0x101, 2, 'lgdt', 'M', system.execDescriptorTableRegister, SENSITIVE);
grp(0x101, 3, 'lidt', 'M', system.execDescriptorTableRegister, SENSITIVE);
grp(0x101, 4, 'smsw', 'Ew', system.execSmsw);
grp(0x101, 6, 'lmsw', 'Ew', system.execLmsw, SENSITIVE);
grp(0x101, 7, 'invlpg', 'M', system.execInvlpg, SENSITIVE);
def(0x102, 'lar', 'Gv,Ew', system.execLarLsl);
def(0x103, 'lsl', 'Gv,Ew', system.execLarLsl);
def(0x106, 'clts', '', system.execClts, SENSITIVE);
def(0x108, 'invd', '', system.execInvd, SENSITIVE);
def(0x109, 'wbinvd', '', system.execInvd, SENSITIVE);
def(0x10b, 'ud2', '', system.execInvalid, BRANCH);
def(0x11f, 'nop', 'Ev', move.execNop);
def(0x120, 'mov', 'Rd,Cd', system.execMovCr, SENSITIVE);
def(0x121, 'mov', 'Rd,Dd', system.execMovDr, SENSITIVE);
def(0x122, 'mov', 'Cd,Rd', system.execMovCr, SENSITIVE);
def(0x123, 'mov', 'Dd,Rd', system.execMovDr, SENSITIVE);
def(0x130, 'wrmsr', '', system.execMsr, SENSITIVE);
def(0x131, 'rdtsc', '', system.execRdtsc, SENSITIVE);
def(0x132, 'rdmsr', '', system.execMsr, SENSITIVE);
def(0x1a0, 'push', 'FS', stack.execPushSreg);
def(0x1a1, 'pop', 'FS', stack.execPopSreg);
def(0x1a2, 'cpuid', '', system.execCpuid, SENSITIVE);
def(0x1a3, 'bt', 'Ev,Gv', bits.execBitOpReg);
def(0x1a4, 'shld', 'Ev,Gv,Ib', shift.execShiftDouble);
def(0x1a5, 'shld', 'Ev,Gv,CL', shift.execShiftDouble);
def(0x1a8, 'push', 'GS', stack.execPushSreg);
def(0x1a9, 'pop', 'GS', stack.execPopSreg);
def(0x1ab, 'bts', 'Ev,Gv', bits.execBitOpReg, LOCK);
def(0x1ac, 'shrd', 'Ev,Gv,Ib', shift.execShiftDouble);
def(0x1ad, 'shrd', 'Ev,Gv,CL', shift.execShiftDouble);
def(0x1af, 'imul', 'Gv,Ev', muldiv.execImulGE, { compiled: IMUL });
def(0x1b0, 'cmpxchg', 'Eb,Gb', bits.execCmpxchg, LOCK);
def(0x1b1, 'cmpxchg', 'Ev,Gv', bits.execCmpxchg, LOCK);
def(0x1b2, 'lss', 'Gv,Mp', move.execLoadFarPointer, BRANCH);
def(0x1b3, 'btr', 'Ev,Gv', bits.execBitOpReg, LOCK);
def(0x1b4, 'lfs', 'Gv,Mp', move.execLoadFarPointer);
def(0x1b5, 'lgs', 'Gv,Mp', move.execLoadFarPointer);
def(0x1b6, 'movzx', 'Gv,Eb', move.execMovExtend, { compiled: MOV_EXTEND, hot: hot.hotMovExtend });
def(0x1b7, 'movzx', 'Gv,Ew', move.execMovExtend, { compiled: MOV_EXTEND, hot: hot.hotMovExtend });
grp(0x1ba, 4, 'bt', 'Ev,Ib', bits.execBitOpImm);
grp(0x1ba, 5, 'bts', 'Ev,Ib', bits.execBitOpImm, LOCK);
grp(0x1ba, 6, 'btr', 'Ev,Ib', bits.execBitOpImm, LOCK);
grp(0x1ba, 7, 'btc', 'Ev,Ib', bits.execBitOpImm, LOCK);
def(0x1bb, 'btc', 'Ev,Gv', bits.execBitOpReg, LOCK);
def(0x1bc, 'bsf', 'Gv,Ev', bits.execBitScan);
def(0x1bd, 'bsr', 'Gv,Ev', bits.execBitScan);
def(0x1be, 'movsx', 'Gv,Eb', move.execMovExtend, { compiled: MOV_EXTEND, hot: hot.hotMovExtend });
def(0x1bf, 'movsx', 'Gv,Ew', move.execMovExtend, { compiled: MOV_EXTEND, hot: hot.hotMovExtend });
def(0x1c0, 'xadd', 'Eb,Gb', bits.execXadd, LOCK);
def(0x1c1, 'xadd', 'Ev,Gv', bits.execXadd, LOCK);
grp(0x1c7, 1, 'cmpxchg8b', 'Mq', bits.execCmpxchg8b, LOCK);
for (let r = 0; r < 8; r++) def(0x1c8 + r, 'bswap', 'Zd', bits.execBswap);

// ------------------------------------------------------------------ compiled form

/** Primary and 0F opcodes take indices 0-511; group members 512 + 8 × group + reg. */
const GROUP_SPACE = 512;

function decodeInfoOf(e: OpcodeEntry): number {
  const ops = e.operands === '' ? [] : e.operands.split(',');
  let info = 0;
  let imm = Imm.None;
  for (const o of ops) {
    const kind = o[0];
    if (/^[EGMRSCD][a-z]*$/.test(o)) info |= D_MODRM;
    if (kind === 'M') info |= D_MEM_ONLY;
    if (o === 'Ibs' || o === 'Jb') imm = Imm.SignedByte;
    else if (o === 'Ib') imm = imm === Imm.Word ? Imm.WordThenByte : Imm.Byte;
    else if (o === 'Iw') imm = Imm.Word;
    else if (o === 'Iz') imm = Imm.Operand;
    else if (o === 'Jz') imm = Imm.SignedOperand;
    else if (o === 'Ap') imm = Imm.FarPointer;
    else if (kind === 'O') imm = Imm.MemoryOffset;
  }
  if (e.lockable) info |= D_LOCKABLE;
  if (e.endsBlock) info |= D_ENDS_BLOCK;
  if (e.sensitive) info |= D_SENSITIVE | D_ENDS_BLOCK;
  return info | (imm << IMM_SHIFT);
}

export const DECODE_INFO = new Uint16Array(GROUP_SPACE + 8 * 32);
export const GROUP_BASE = new Uint16Array(GROUP_SPACE);
export const EXECUTE: Semantics[] = new Array(GROUP_SPACE + 8 * 32).fill(system.execInvalid);
/** Each entry's choice of hot form (hot-forms.ts). */
const noHotForm = (): number => 0;
export const HOT: ((d: Insn) => number)[] = new Array(GROUP_SPACE + 8 * 32).fill(noHotForm);
/** How the translation cache writes each out (null: a call of its semantics). */
export const COMPILED: (CompiledForm | null)[] = new Array(GROUP_SPACE + 8 * 32).fill(null);
/** The entry behind each index, for disassembly and traces (undefined: not an instruction). */
export const ENTRY: (OpcodeEntry | undefined)[] = new Array(GROUP_SPACE + 8 * 32);

let groups = 0;
for (const e of entries) {
  let index = e.opcode;
  if (e.reg !== undefined) {
    if (GROUP_BASE[e.opcode] === 0) {
      GROUP_BASE[e.opcode] = GROUP_SPACE + 8 * groups++;
      DECODE_INFO[e.opcode] = D_MODRM | D_GROUP;
    }
    index = GROUP_BASE[e.opcode] + e.reg;
  }
  if (ENTRY[index]) throw new Error(`opcode table: two entries for ${e.opcode.toString(16)}${e.reg === undefined ? '' : '/' + e.reg}`);
  ENTRY[index] = e;
  EXECUTE[index] = e.execute;
  COMPILED[index] = e.compiled ?? null;
  HOT[index] = e.hot ?? noHotForm;
  DECODE_INFO[index] = decodeInfoOf(e) | (e.reg !== undefined ? D_MODRM : 0);
}
// Group members with no entry are #UD, but still consume their ModRM byte and operand.
for (let g = 0; g < groups; g++) {
  for (let r = 0; r < 8; r++) {
    const index = GROUP_SPACE + 8 * g + r;
    if (!ENTRY[index]) DECODE_INFO[index] = D_MODRM;
  }
}
// MOV to/from CR/DR always uses the register form: the mod field is ignored (SDM, MOV—Move to/from Control Registers).
for (const op of [0x120, 0x121, 0x122, 0x123]) DECODE_INFO[op] |= D_IGNORE_MOD;

export const OPCODE_ENTRIES: readonly OpcodeEntry[] = entries;

// What a decoded instruction points to is code: a snapshot names it (Insn.execute, form).
registerStatics('execute', EXECUTE);
registerStatics('compiled', COMPILED);
