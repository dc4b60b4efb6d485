/** Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD (Intel SDM pseudocode). */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../insn.ts';
import { LAZY_ADD, LAZY_LOGIC, getAF, getCF, recordLazy, setArithFlags, szpOf } from '../flags.ts';
import { AF, ARITH_FLAGS, CF, DE, OF } from '../state.ts';

/**
 * DAA (27) and DAS (2F): decimal adjust AL after a packed-BCD addition or subtraction. The two
 * are one algorithm: add or subtract 6 for the low digit and 0x60 for the high one.
 */
function decimalAdjust(cpu: Cpu, subtract: boolean): void {
  const st = cpu.st;
  const sign = subtract ? -1 : 1;
  const oldAL = cpu.reg8[0];
  const oldCF = getCF(st);
  let al = oldAL;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || getAF(st)) {
    al += sign * 6;
    cf = oldCF | (al < 0 || al > 0xff ? 1 : 0);
    af = AF;
  }
  if (oldAL > 0x99 || oldCF) {
    al += sign * 0x60;
    cf = 1;
  }
  al &= 0xff;
  cpu.reg8[0] = al;
  // OF is undefined; a 386 sets it as the ADD or SUB of the adjustment would.
  const of = ((subtract ? oldAL & ~al : ~oldAL & al) & 0x80) !== 0 ? OF : 0;
  setArithFlags(st, ARITH_FLAGS, szpOf(al, 8) | cf | af | of);
}
export function execDaa(cpu: Cpu, _d: Insn): void {
  decimalAdjust(cpu, false);
}
export function execDas(cpu: Cpu, _d: Insn): void {
  decimalAdjust(cpu, true);
}

/** AAA (37) and AAS (3F): ASCII adjust after addition / subtraction. */
function asciiAdjust(cpu: Cpu, subtract: boolean): void {
  const st = cpu.st;
  let ax = cpu.reg16[0];
  let flags = 0;
  if ((ax & 0x0f) > 9 || getAF(st)) {
    ax = subtract ? ax - 6 - 0x100 : ax + 0x106;
    flags = AF | CF;
  }
  cpu.reg16[0] = ax & 0xff0f;
  setArithFlags(st, ARITH_FLAGS, flags | szpOf(ax & 0xff, 8));
}
export function execAaa(cpu: Cpu, d: Insn): void {
  asciiAdjust(cpu, false);
}
export function execAas(cpu: Cpu, d: Insn): void {
  asciiAdjust(cpu, true);
}

/** AAM imm8 (D4): AH = AL / imm, AL = AL mod imm; #DE when imm is 0. */
export function execAam(cpu: Cpu, d: Insn): void {
  const base = d.imm & 0xff;
  if (base === 0) cpu.fault(DE);
  const al = cpu.reg8[0];
  cpu.reg8[1] = (al / base) | 0;
  cpu.reg8[0] = al % base;
  recordLazy(cpu.st, LAZY_LOGIC, 0, 0, cpu.reg8[0], 8, ARITH_FLAGS);
}

/** AAD imm8 (D5): AL = AH * imm + AL, AH = 0. Flags as the byte ADD it performs. */
export function execAad(cpu: Cpu, d: Insn): void {
  const base = d.imm & 0xff;
  const a = cpu.reg8[0];
  const b = (cpu.reg8[1] * base) & 0xff;
  const r = a + b;
  cpu.reg16[0] = r & 0xff;
  recordLazy(cpu.st, LAZY_ADD, a, b, r, 8, ARITH_FLAGS);
}
