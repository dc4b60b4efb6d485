/** Flag instructions: CLC STC CMC CLD STD CLI STI, and SALC (D6, undocumented but present on every 386). */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { ATTN_SHADOW } from '../cpu.ts';
import { getCF, setCF } from '../flags.ts';
import { DF, GP, IF, IOPL, S_CPL, S_EFLAGS } from '../state.ts';

/** F5 CMC, F8 CLC, F9 STC, FC CLD, FD STD. */
export function execFlagOp(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  switch (d.opcode) {
    case 0xf5: setCF(st, getCF(st) ^ 1); break;
    case 0xf8: setCF(st, 0); break;
    case 0xf9: setCF(st, 1); break;
    case 0xfc: st[S_EFLAGS] &= ~DF; break;
    default: st[S_EFLAGS] |= DF; break;
  }
}

/** FA CLI, FB STI: need CPL <= IOPL (IOPL 3 in virtual-8086 mode). STI holds interrupts off for one more instruction. */
export function execCliSti(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  if (st[S_CPL] > (st[S_EFLAGS] & IOPL) >> 12) cpu.fault(GP, 0);
  if (d.opcode === 0xfa) {
    st[S_EFLAGS] &= ~IF;
  } else if (!(st[S_EFLAGS] & IF)) {
    st[S_EFLAGS] |= IF;
    cpu.attention |= ATTN_SHADOW;
    cpu.raiseInterruptLine();
  }
}

/** D6 SALC: AL = CF ? 0xFF : 0. */
export function execSalc(cpu: Cpu, d: Insn): void {
  cpu.reg8[0] = getCF(cpu.st) ? 0xff : 0;
}
