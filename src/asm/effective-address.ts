/**
 * ModRM/SIB/displacement for a memory operand, with nasm's choices: the shortest displacement
 * for plain numbers (none for 0, a byte when it fits), a full one when a label is involved,
 * `[bp]`/`[ebp]` as disp8 0, `[esp]` through a SIB byte, `[eax*2]` split into `[eax+eax]`.
 */
import { AsmError } from './diagnostics.ts';
import type { Value } from './expression.ts';
import type { MemOperand } from './operands.ts';

export interface EncodedAddress {
  mod: number;
  rm: number;
  sib?: number;
  dispSize: 0 | 1 | 2 | 4;
  disp: bigint;
  addrSize: 16 | 32;
}

/** The address size a memory operand needs: from its registers, else from a16/a32 or BITS. */
export function addressSizeOf(mem: MemOperand, defaultSize: 16 | 32): 16 | 32 {
  const reg = mem.regs[0];
  if (reg) return reg.reg.size as 16 | 32;
  if (mem.dispSize === 16 || mem.dispSize === 32) return mem.dispSize;
  return defaultSize;
}

const fitsSignedByte = (n: bigint): boolean => n >= -128n && n <= 127n;

/** Displacement size for a based address: nasm shortens only plain (label-free) numbers. */
function chooseDisplacement(mem: MemOperand, disp: Value | undefined, full: 2 | 4, zeroAllowed: boolean): 0 | 1 | 2 | 4 {
  if (mem.dispSize === 8) return 1;
  if (mem.dispSize === 16 || mem.dispSize === 32) return full;
  if (!disp) return zeroAllowed ? 0 : 1;
  if (disp.reloc !== 0) return full;
  const n = full === 2 ? BigInt.asIntN(16, disp.n) : BigInt.asIntN(32, disp.n);
  if (n === 0n && zeroAllowed) return 0;
  return fitsSignedByte(n) ? 1 : full;
}

const modFor = (size: 0 | 1 | 2 | 4): number => (size === 0 ? 0 : size === 1 ? 1 : 2);

const RM16: Record<string, number> = {
  'bx+si': 0, 'bx+di': 1, 'bp+si': 2, 'bp+di': 3, si: 4, di: 5, bp: 6, bx: 7,
};

export function encodeAddress(mem: MemOperand, disp: Value | undefined, defaultSize: 16 | 32): EncodedAddress {
  const addrSize = addressSizeOf(mem, defaultSize);
  const dispN = disp?.n ?? 0n;
  if (mem.regs.some((r) => r.reg.size !== addrSize)) {
    throw new AsmError('invalid effective address: 16-bit and 32-bit registers are mixed', mem.column);
  }
  if (addrSize === 16) {
    if (mem.regs.length === 0) return { mod: 0, rm: 6, dispSize: 2, disp: dispN, addrSize };
    if (mem.regs.some((r) => r.scale !== 1)) throw new AsmError('invalid effective address: 16-bit addresses cannot scale a register', mem.column);
    const names = mem.regs.map((r) => r.reg.name).sort((a, b) => (a === 'bx' || a === 'bp' ? -1 : b === 'bx' || b === 'bp' ? 1 : 0));
    const rm = RM16[names.join('+')];
    if (rm === undefined) {
      throw new AsmError(`invalid effective address: [${names.join('+')}] is not a 16-bit addressing form (use bx or bp, plus si or di)`, mem.column);
    }
    const size = chooseDisplacement(mem, disp, 2, rm !== 6);
    return { mod: modFor(size), rm, dispSize: size, disp: dispN, addrSize };
  }

  // 32-bit: pick base and index, the way nasm does.
  let base: number | undefined;
  let index: number | undefined;
  let scale = 1;
  const regs = mem.regs;
  if (regs.length > 2) throw new AsmError('invalid effective address: too many registers', mem.column);
  if (regs.length === 1) {
    const { reg, scale: s } = regs[0]!;
    if (s === 1) base = reg.code;
    else if (!mem.nosplit && (s === 2 || s === 3 || s === 5 || s === 9)) {
      base = reg.code;
      index = reg.code;
      scale = s - 1;
    } else {
      index = reg.code;
      scale = s;
    }
  } else if (regs.length === 2) {
    let [first, second] = regs as [(typeof regs)[0], (typeof regs)[0]];
    if (first.scale !== 1 && second.scale === 1) [first, second] = [second, first];
    if (first.scale !== 1) throw new AsmError('invalid effective address: only one register can be scaled', mem.column);
    if (second.reg.code === 4) {
      if (second.scale !== 1) throw new AsmError('invalid effective address: esp cannot be an index register', mem.column);
      [first, second] = [second, first];
    }
    base = first.reg.code;
    index = second.reg.code;
    scale = second.scale;
  }
  if (index === 4) throw new AsmError('invalid effective address: esp cannot be an index register', mem.column);
  const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[scale];
  if (scaleBits === undefined) throw new AsmError(`invalid effective address: scale must be 1, 2, 4 or 8, not ${scale}`, mem.column);

  if (base === undefined && index === undefined) return { mod: 0, rm: 5, dispSize: 4, disp: dispN, addrSize };
  if (base === undefined) {
    return { mod: 0, rm: 4, sib: (scaleBits << 6) | (index! << 3) | 5, dispSize: 4, disp: dispN, addrSize };
  }
  const size = chooseDisplacement(mem, disp, 4, base !== 5);
  if (index === undefined && base !== 4) return { mod: modFor(size), rm: base, dispSize: size, disp: dispN, addrSize };
  const sib = (scaleBits << 6) | ((index ?? 4) << 3) | base;
  return { mod: modFor(size), rm: 4, sib, dispSize: size, disp: dispN, addrSize };
}
