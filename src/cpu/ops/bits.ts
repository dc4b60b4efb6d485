/**
 * Bit and condition instructions (BT BTS BTR BTC, BSF BSR, SETcc, CMOVcc, BSWAP) and the 486 atomics (XADD, CMPXCHG,
 * CMPXCHG8B). With a memory operand and a register bit offset, BT* address the bit string
 * relative to the operand, as on hardware: the offset is signed and may reach past it.
 */
import type { Cpu } from '../cpu.ts';
import { effectiveAddress, type Insn } from '../insn.ts';
import { LAZY_SUB, materializeFlags, recordLazy, setArithFlags, setCF, testCondition } from '../flags.ts';
import { ARITH_FLAGS, ZF } from '../state.ts';
import { alu, ADD } from './alu.ts';
import {
  isRegisterOperand, operandSize, readE, readEForUpdate, readG, readReg, sizeFromOpcodeBit, writeE, writeG, writeReg,
} from '../operands.ts';

/** Bit operations, numbered as ModRM reg - 4 of 0F BA numbers them; BTC is the remaining case. */
const BT = 0, BTS = 1, BTR = 2;

function bitOp(cpu: Cpu, d: Insn, op: number, bitOffset: number, fromRegister: boolean): void {
  const st = cpu.st;
  const size = operandSize(d);
  let value: number;
  let bit: number;
  let seg = 0;
  let ea = 0;
  const isMemory = !isRegisterOperand(d);
  if (!isMemory) {
    bit = bitOffset & (size - 1);
    value = readE(cpu, d, size);
  } else {
    // Memory: a register offset selects any bit relative to the operand's address.
    seg = d.eaSeg;
    ea = effectiveAddress(cpu, d);
    bit = bitOffset & (size - 1);
    if (fromRegister) {
      const signed = size === 16 ? (bitOffset << 16) >> 16 : bitOffset | 0;
      const displacement = Math.floor(signed / size) * (size >> 3);
      ea = d.a32 ? (ea + displacement) | 0 : (ea + displacement) & 0xffff;
      bit = signed & (size - 1);
    }
    if (op !== BT) cpu.checkWritable(seg, ea, size);
    value = cpu.read(seg, ea, size);
  }
  const cf = (value >>> bit) & 1;
  materializeFlags(st, ARITH_FLAGS);
  setCF(st, cf);
  if (op === BT) return;
  const m = 1 << bit;
  const result = op === BTS ? value | m : op === BTR ? value & ~m : value ^ m;
  if (isMemory) cpu.write(seg, ea, result, size);
  else writeE(cpu, d, size, result);
}

/** 0F A3 BT, 0F AB BTS, 0F B3 BTR, 0F BB BTC: bit offset in a register. */
export function execBitOpReg(cpu: Cpu, d: Insn): void {
  const op = (d.opcode >> 3) & 3;
  bitOp(cpu, d, op, readG(cpu, d, operandSize(d)), true);
}

/** 0F BA /4-/7: BT BTS BTR BTC with an imm8 bit offset. */
export function execBitOpImm(cpu: Cpu, d: Insn): void {
  bitOp(cpu, d, (d.modrm >> 3) & 3, d.imm, false);
}

/** 0F BC BSF, 0F BD BSR: ZF = 1 and the destination unchanged when the source is 0. */
export function execBitScan(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = operandSize(d);
  const src = readE(cpu, d, size);
  if (src === 0) {
    setArithFlags(st, ZF, ZF);
    return;
  }
  const index = d.opcode === 0x1bc ? 31 - Math.clz32(src & -src) : 31 - Math.clz32(src);
  writeG(cpu, d, size, index);
  setArithFlags(st, ZF, 0);
}

/** 0F 90-9F SETcc r/m8. */
export function execSetcc(cpu: Cpu, d: Insn): void {
  writeE(cpu, d, 8, testCondition(cpu.st, d.opcode & 15) ? 1 : 0);
}

/**
 * 0F 40-4F CMOVcc r, r/m (P6). The source is read whatever the condition, so a bad memory
 * operand faults even when nothing moves, as on hardware.
 */
export function execCmovcc(cpu: Cpu, d: Insn): void {
  const size = operandSize(d);
  const value = readE(cpu, d, size);
  if (testCondition(cpu.st, d.opcode & 15)) writeG(cpu, d, size, value);
}

/** 0F C8-CF BSWAP r32. */
export function execBswap(cpu: Cpu, d: Insn): void {
  const r = d.opcode & 7;
  const v = cpu.reg[r];
  cpu.reg[r] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** 0F C0/C1 XADD r/m, r: exchange, then add. */
export function execXadd(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  const dest = readEForUpdate(cpu, d, size);
  const src = readG(cpu, d, size);
  const sum = alu(st, ADD, dest, src, size);
  if (d.modrm >= 0xc0) {
    writeG(cpu, d, size, dest);
    writeE(cpu, d, size, sum); // XADD r, r with one register twice: the sum
  } else {
    // The memory operand first: its address may use the register that receives the old value.
    writeE(cpu, d, size, sum);
    writeG(cpu, d, size, dest);
  }
}

/** 0F B0/B1 CMPXCHG r/m, r: compare the accumulator with r/m; equal → r/m = r, else accumulator = r/m. */
export function execCmpxchg(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const size = sizeFromOpcodeBit(d);
  const dest = readEForUpdate(cpu, d, size);
  const acc = readReg(cpu, 0, size);
  recordLazy(st, LAZY_SUB, acc, dest, (acc - dest) | 0, size, ARITH_FLAGS);
  const mask = size === 32 ? -1 : (1 << size) - 1;
  if (((acc ^ dest) & mask) === 0) {
    writeE(cpu, d, size, readG(cpu, d, size));
  } else {
    // A 486 writes the old value back to memory either way (the bus cycle is locked).
    writeE(cpu, d, size, dest);
    writeReg(cpu, 0, size, dest);
  }
}

/** 0F C7 /1 CMPXCHG8B m64: compare EDX:EAX with m64; equal → m64 = ECX:EBX, else EDX:EAX = m64. */
export function execCmpxchg8b(cpu: Cpu, d: Insn): void {
  const st = cpu.st;
  const seg = d.eaSeg;
  const ea = effectiveAddress(cpu, d);
  cpu.checkWritable(seg, ea, 64);
  const low = cpu.read32(seg, ea);
  const high = cpu.read32(seg, (ea + 4) | 0);
  materializeFlags(st, ARITH_FLAGS);
  if (low === cpu.reg[0] && high === cpu.reg[2]) {
    cpu.write32(seg, ea, cpu.reg[3]);
    cpu.write32(seg, (ea + 4) | 0, cpu.reg[1]);
    setArithFlags(st, ZF, ZF);
  } else {
    cpu.write32(seg, ea, low);
    cpu.write32(seg, (ea + 4) | 0, high);
    cpu.reg[0] = low;
    cpu.reg[2] = high;
    setArithFlags(st, ZF, 0);
  }
}
