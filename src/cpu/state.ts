/**
 * The CPU's architectural state, laid out in one Int32Array so that the interpreter and
 * generated code read and write it without objects on the hot path, and so that a whole
 * machine state can be copied, saved or compared in one go (as mini-rv32ima does).
 *
 * Every slot holds an int32; values that are unsigned on hardware (EIP, bases, limits) are
 * stored as their int32 bit pattern and read back with `>>> 0` where the sign matters.
 */

/** General-purpose registers, in the order x86 encodes them. */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const REG32_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export const REG16_NAMES = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] as const;
export const REG8_NAMES = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'] as const;

/** Segment registers, in the order x86 encodes them (sreg field of ModRM). */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
/** System "segments" with descriptor caches of their own. */
export const LDTR = 6, TR = 7;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;

/** Slots of the state array. */
export const S_EIP = 8;
/** EFLAGS bits that are not currently owned by the lazy-flags record (see flags.ts). */
export const S_EFLAGS = 9;
/** The lazy-flags record: the last flag-setting operation, its operands and result. */
export const S_LAZY_OP = 10, S_LAZY_A = 11, S_LAZY_B = 12, S_LAZY_R = 13;
/** 32 minus the operand size of the lazy record, so that `r << shift` keeps its significant bits. */
export const S_LAZY_SHIFT = 14;
/** Which of CF/PF/AF/ZF/SF/OF are still to be computed from the lazy record. */
export const S_LAZY_PENDING = 15;
/** Segment descriptor caches: selector, base, lowest and highest valid offset, attributes. */
export const S_SEG_SEL = 16, S_SEG_BASE = 24, S_SEG_LOW = 32, S_SEG_HIGH = 40, S_SEG_ATTR = 48;
/** The valid offset range for writes: empty (low > high) for read-only and code segments. */
export const S_SEG_WLOW = 96, S_SEG_WHIGH = 104;
/** The valid offset range for data reads: empty for execute-only code segments (instruction fetch uses the full range). */
export const S_SEG_RLOW = 112, S_SEG_RHIGH = 120;
export const S_CR0 = 56, S_CR2 = 57, S_CR3 = 58, S_CR4 = 59;
export const S_DR0 = 60; // DR0..DR7 at 60..67
export const S_GDTR_BASE = 68, S_GDTR_LIMIT = 69, S_IDTR_BASE = 70, S_IDTR_LIMIT = 71;
export const S_CPL = 72;
/** Address-line 20 mask applied to every physical address (A20 gate). */
export const S_A20_MASK = 73;
/** Caches of derived values (not architectural): the instruction-fetch window (see cpu.ts). */
export const S_FETCH_LO = 75, S_FETCH_SPAN = 76, S_FETCH_DELTA = 77;
/** 1 when CS is a 32-bit code segment (default operand and address size 32). */
export const S_CODE32 = 78;
/** 1 when SS is a 32-bit stack segment (ESP rather than SP). */
export const S_STACK32 = 79;
/** EIP of the instruction being executed: where a fault restarts. */
export const S_INSN_EIP = 80;
/**
 * Bit n set when segment n is flat for data: base 0, every offset readable and writable, as
 * 32-bit code's data segments are (derived, with the ranges above: Cpu.updateAccessRanges).
 * Compiled code then goes straight to the TLB (Cpu.readSeg).
 */
export const S_FLAT_SEGMENTS = 81;
export const STATE_SIZE = 128;

/**
 * Segment attributes, kept in the descriptor cache as on hardware (the descriptor's access
 * byte in bits 0-7 and its flags nibble in bits 12-15, i.e. bits 8-15 and 20-23 of the
 * descriptor's high dword shifted down by 8).
 */
export const ATTR_ACCESSED = 0x01;
export const ATTR_WRITABLE = 0x02; // data: writable; code: readable
export const ATTR_EXPAND_DOWN = 0x04; // data: expand-down; code: conforming
export const ATTR_CODE = 0x08;
export const ATTR_S = 0x10; // code/data (1) or system (0)
export const ATTR_DPL_SHIFT = 5;
export const ATTR_PRESENT = 0x80;
export const ATTR_AVL = 0x1000;
export const ATTR_DB = 0x4000; // default operand size / stack size 32-bit
export const ATTR_G = 0x8000;
/** A real-mode data segment: present, writable, accessed, 16-bit, limit 0xFFFF. */
export const ATTR_REAL_MODE_DATA = ATTR_PRESENT | ATTR_S | ATTR_WRITABLE | ATTR_ACCESSED;
/** A real-mode code segment. */
/**
 * The processor signature (family 6, model 1, stepping 0: the P6 generation, the first with
 * CMOV): in EDX after reset and in EAX of CPUID leaf 1. No x87, so neither says FPU.
 */
export const CPU_SIGNATURE = 0x0610;

export const ATTR_REAL_MODE_CODE = ATTR_PRESENT | ATTR_S | ATTR_CODE | ATTR_WRITABLE | ATTR_ACCESSED;

/** EFLAGS bits. */
export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8;
export const IF = 1 << 9, DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14;
export const RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
/** The six arithmetic flags, which the lazy-flags record can own. */
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of EFLAGS always reads as 1. */
export const FLAGS_ALWAYS_ONE = 1 << 1;

/** CR0 bits. */
export const CR0_PE = 1 << 0, CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5, CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

/** CR4 bits. Which of them this CPU has is decided by what CPUID reports (ops/system.ts). */
export const CR4_VME = 1 << 0, CR4_PVI = 1 << 1, CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_PSE = 1 << 4, CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;

/** Exception vectors. */
export const DE = 0, DB = 1, NMI = 2, BP = 3, OFV = 4, BR = 5, UD = 6, NM = 7, DF_ = 8;
export const TS_ = 10, NP = 11, SS_ = 12, GP = 13, PF_ = 14, MF = 16, AC_ = 17;
