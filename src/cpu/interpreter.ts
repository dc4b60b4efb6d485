/**
 * The interpreter's block loop: runs a decoded block that has no compiled function, and the
 * blocks it chains to after it, instruction by instruction through their hot forms
 * (hot-forms.ts), for as long as the run loop would run the next one the same way.
 *
 * It is a function of its own, and loops over blocks itself, for V8's sake. V8 inlines what a
 * hot function calls only up to a budget of bytecode (920 bytes by default; tune-v8.ts raises it
 * in Node, a browser cannot). Inlined into the run loop, the dispatch and the hot forms would
 * share that budget with everything the run loop does; here, the dispatch switch is this
 * function's own code, which costs nothing of it, and the budget goes to the forms. And since
 * it follows the chains itself, running an uncompiled loop costs no call per block.
 */
import { chainedBlock, decodedBlocksRun, type DecodedBlock } from './block-cache.ts';
import type { Cpu } from './cpu.ts';
import * as hot from './hot-forms.ts';
import { FIRST_MEMORY_FORM, FIRST_WRITING_FORM, Hot } from './hot-forms.ts';
import { below, belowOrEqual, equal, less, lessOrEqual, overflow, parity, sign } from './flags.ts';
import { effectiveAddress, type Insn } from './insn.ts';
import { addValue, aluAdc, aluAdd, aluAnd, aluOr, aluSbb, aluSub, aluXor, andValue, dec, decValue, inc, incValue, orValue, subValue, test, xorValue } from './ops/alu.ts';
import { execCallRel, execJmpRel, execRetNear, jumpNear } from './ops/control.ts';
import { execLea, execMovExtend } from './ops/move.ts';
import { rotateLeft, rotateRight, shiftArithmeticRight, shiftLeft, shiftRight } from './ops/shift.ts';
import { execPopReg, execPushReg } from './ops/stack.ts';
import { S_EIP, S_FLAT_SEGMENTS, S_INSN_EIP } from './state.ts';

/** The block interpretBlocks ran last: its second result, for the run loop's chain. */
export let lastInterpreted: DecodedBlock | null = null;

/**
 * Interprets `block` from its first instruction (EIP on it), then the blocks chained after it
 * while the run loop would run them the same way (see below), with at most `count` instructions
 * in the chunk, of which `retired` have retired before. Returns the chunk's count after them.
 *
 * Only a block's last instruction reads EIP (D_ENDS_BLOCK): it alone gets EIP, the instruction's
 * EIP and the chunk's retired count first. When `cpu.attention` is set after an instruction,
 * it returns at once (EIP past that instruction; a last instruction that made a VM exit is not
 * counted: the VMM reruns or emulates it). A fault leaves `cpu.compiledFaultIndex`,
 * `compiledFaultInsns` and `compiledFaultBase` on the faulting instruction and
 * `compiledFaultRetired` on what earlier blocks of this call retired.
 */
export function interpretBlocks(cpu: Cpu, st: Int32Array, block: DecodedBlock, count: number, retired: number): number {
  const start = retired;
  const reg = cpu.reg;
  let insns: readonly Insn[] = block.insns;
  let last = insns.length - 1;
  let base = st[S_EIP];
  let i = 0;
  try {
    for (;;) {
      const d = insns[i];
      if (i === last) {
        const eip = (base + d.offset) | 0;
        st[S_INSN_EIP] = eip;
        st[S_EIP] = eip + d.length;
        cpu.retiredInChunk = retired + last;
      }
      // The register forms written out here, the others called: each call site sees one
      // function, so V8 inlines what it has budget for, most often run first.
      switch (d.hot) {
        case Hot.AddRR: reg[d.dst] = aluAdd(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.OrRR: reg[d.dst] = aluOr(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.AdcRR: reg[d.dst] = aluAdc(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.SbbRR: reg[d.dst] = aluSbb(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.AndRR: reg[d.dst] = aluAnd(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.SubRR: reg[d.dst] = aluSub(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.XorRR: reg[d.dst] = aluXor(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.CmpRR: aluSub(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.AddRI: reg[d.dst] = aluAdd(st, reg[d.dst], d.imm, 32); break;
        case Hot.OrRI: reg[d.dst] = aluOr(st, reg[d.dst], d.imm, 32); break;
        case Hot.AdcRI: reg[d.dst] = aluAdc(st, reg[d.dst], d.imm, 32); break;
        case Hot.SbbRI: reg[d.dst] = aluSbb(st, reg[d.dst], d.imm, 32); break;
        case Hot.AndRI: reg[d.dst] = aluAnd(st, reg[d.dst], d.imm, 32); break;
        case Hot.SubRI: reg[d.dst] = aluSub(st, reg[d.dst], d.imm, 32); break;
        case Hot.XorRI: reg[d.dst] = aluXor(st, reg[d.dst], d.imm, 32); break;
        case Hot.CmpRI: aluSub(st, reg[d.dst], d.imm, 32); break;
        case Hot.AddRRValue: reg[d.dst] = addValue(reg[d.dst], reg[d.src]); break;
        case Hot.OrRRValue: reg[d.dst] = orValue(reg[d.dst], reg[d.src]); break;
        case Hot.AndRRValue: reg[d.dst] = andValue(reg[d.dst], reg[d.src]); break;
        case Hot.SubRRValue: reg[d.dst] = subValue(reg[d.dst], reg[d.src]); break;
        case Hot.XorRRValue: reg[d.dst] = xorValue(reg[d.dst], reg[d.src]); break;
        case Hot.AddRIValue: reg[d.dst] = addValue(reg[d.dst], d.imm); break;
        case Hot.OrRIValue: reg[d.dst] = orValue(reg[d.dst], d.imm); break;
        case Hot.AndRIValue: reg[d.dst] = andValue(reg[d.dst], d.imm); break;
        case Hot.SubRIValue: reg[d.dst] = subValue(reg[d.dst], d.imm); break;
        case Hot.XorRIValue: reg[d.dst] = xorValue(reg[d.dst], d.imm); break;
        case Hot.Unseen: break;
        case Hot.RolR: reg[d.dst] = rotateLeft(st, reg[d.dst], d.src, 32); break;
        case Hot.RorR: reg[d.dst] = rotateRight(st, reg[d.dst], d.src, 32); break;
        case Hot.ShlR: reg[d.dst] = shiftLeft(st, reg[d.dst], d.src, 32); break;
        case Hot.ShrR: reg[d.dst] = shiftRight(st, reg[d.dst], d.src, 32); break;
        case Hot.SarR: reg[d.dst] = shiftArithmeticRight(st, reg[d.dst], d.src, 32); break;
        case Hot.ShiftReg: hot.shiftReg(cpu, d); break;
        case Hot.JccO: if (overflow(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccB: if (below(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccE: if (equal(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccBE: if (belowOrEqual(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccS: if (sign(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccP: if (parity(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccL: if (less(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.JccLE: if (lessOrEqual(st) !== ((d.opcode & 1) !== 0)) jumpNear(cpu, d, st[S_EIP] + d.imm); break;
        case Hot.IncReg: reg[d.dst] = inc(st, reg[d.dst], 32); break;
        case Hot.DecReg: reg[d.dst] = dec(st, reg[d.dst], 32); break;
        case Hot.IncRegValue: reg[d.dst] = incValue(reg[d.dst]); break;
        case Hot.DecRegValue: reg[d.dst] = decValue(reg[d.dst]); break;
        case Hot.MovRR: reg[d.dst] = reg[d.src]; break;
        case Hot.MovRegImm: reg[d.dst] = d.imm; break;
        case Hot.TestRR: test(st, reg[d.dst], reg[d.src], 32); break;
        case Hot.Lea: execLea(cpu, d); break;
        case Hot.PushReg: execPushReg(cpu, d); break;
        case Hot.PopReg: execPopReg(cpu, d); break;
        case Hot.CallRel: execCallRel(cpu, d); break;
        case Hot.JmpRel: execJmpRel(cpu, d); break;
        case Hot.RetNear: execRetNear(cpu, d); break;
        case Hot.MovExtend: execMovExtend(cpu, d); break;
        default: {
          if (d.hot < FIRST_MEMORY_FORM) {
            d.execute(cpu, d); // Hot.None
            break;
          }
          // A dword memory operand: its offset, and its host address when the TLB serves it at
          // once (aligned, in a flat segment, whose offset is the linear address, and allowed
          // without the slow path: a write's permission serves a read-modify-write); else -1, and
          // the form reads and writes it as compiled code does.
          const ea = effectiveAddress(cpu, d);
          const e = cpu.tlb[ea >>> 12];
          const allowed = e & (d.hot >= FIRST_WRITING_FORM ? cpu.writeBit : cpu.readBit);
          const at = allowed !== 0 && (ea & 3) === 0 && (st[S_FLAT_SEGMENTS] & (1 << d.eaSeg)) !== 0 ? (e & -4096) | (ea & 4095) : -1;
          switch (d.hot) {
            case Hot.AddRM: reg[d.dst] = aluAdd(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.OrRM: reg[d.dst] = aluOr(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.AdcRM: reg[d.dst] = aluAdc(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.SbbRM: reg[d.dst] = aluSbb(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.AndRM: reg[d.dst] = aluAnd(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.SubRM: reg[d.dst] = aluSub(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.XorRM: reg[d.dst] = aluXor(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.CmpRM: aluSub(st, reg[d.dst], hot.load(cpu, d, at, ea), 32); break;
            case Hot.CmpMR: aluSub(st, hot.load(cpu, d, at, ea), reg[d.src], 32); break;
            case Hot.CmpMI: aluSub(st, hot.load(cpu, d, at, ea), d.imm, 32); break;
            case Hot.AddMR: hot.store(cpu, d, at, ea, aluAdd(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.OrMR: hot.store(cpu, d, at, ea, aluOr(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.AdcMR: hot.store(cpu, d, at, ea, aluAdc(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.SbbMR: hot.store(cpu, d, at, ea, aluSbb(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.AndMR: hot.store(cpu, d, at, ea, aluAnd(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.SubMR: hot.store(cpu, d, at, ea, aluSub(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.XorMR: hot.store(cpu, d, at, ea, aluXor(st, hot.loadForUpdate(cpu, d, at, ea), reg[d.src], 32)); break;
            case Hot.AddMI: hot.store(cpu, d, at, ea, aluAdd(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.OrMI: hot.store(cpu, d, at, ea, aluOr(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.AdcMI: hot.store(cpu, d, at, ea, aluAdc(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.SbbMI: hot.store(cpu, d, at, ea, aluSbb(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.AndMI: hot.store(cpu, d, at, ea, aluAnd(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.SubMI: hot.store(cpu, d, at, ea, aluSub(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.XorMI: hot.store(cpu, d, at, ea, aluXor(st, hot.loadForUpdate(cpu, d, at, ea), d.imm, 32)); break;
            case Hot.MovRegMem: reg[d.dst] = hot.load(cpu, d, at, ea); break;
            case Hot.MovMemReg: hot.store(cpu, d, at, ea, reg[d.src]); break;
            case Hot.MovMemImm: hot.store(cpu, d, at, ea, d.imm); break;
          }
        }
      }
      if (i !== last) {
        if (cpu.attention !== 0) {
          st[S_EIP] = (base + d.offset + d.length) | 0;
          return retired + i + 1;
        }
        i++;
        continue;
      }
      // The last instruction ran; it may not have retired (a chunk of a REP, a VM exit).
      // (Cpu.retiredNow called only then: it would spend V8's inlining budget on every block.)
      const lastRetired = cpu.incompleteInstruction ? cpu.retiredNow() : 1;
      if (cpu.attention !== 0) return cpu.stopReason === 'vmexit' ? retired + last : retired + last + lastRetired;
      retired += last + lastRetired;
      // The next block, if the run loop would interpret it without asking anything first: no
      // debugger attached, decoded blocks in use, the chain to it known, the block within the
      // budget, and neither compiled nor to be compiled now. (Written out here, not called, for
      // the inlining budget too.)
      let next = cpu.debugHook === null && decodedBlocksRun(cpu) ? chainedBlock(block, st[S_EIP], cpu.translationGeneration) : null;
      if (next !== null && (next.compiled !== null || next.insns.length > count - retired)) next = null;
      if (next !== null && cpu.compiler !== null) {
        if (next.runs + 1 >= cpu.compileThreshold) next = null; // the run loop counts this run, and compiles it
        else next.runs++;
      }
      if (next === null) {
        lastInterpreted = block;
        return retired;
      }
      block = next;
      insns = next.insns;
      last = insns.length - 1;
      base = st[S_EIP];
      i = 0;
    }
  } catch (e) {
    cpu.compiledFaultIndex = i;
    cpu.compiledFaultInsns = insns;
    cpu.compiledFaultBase = base;
    cpu.compiledFaultRetired = retired - start;
    throw e;
  }
}
