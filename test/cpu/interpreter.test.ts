/**
 * The interpreter's block loop (src/cpu/interpreter.ts) runs a decoded block and the blocks it
 * chains to without going back to the run loop between them. That must be invisible: each guest
 * runs with the interpreter alone and one instruction at a time (decoding each), and must leave
 * the same machine — at its end, at a budget falling in any block, at a fault in a later block,
 * when an interrupt comes; a breakpoint in a later block stops there; and a block is compiled
 * at the run the translation cache's threshold says, chained to or not.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.ts';
import { debugAsm } from '../helpers/debug-session.ts';
import { BRANCHY, countdownToDivideByZero, EOI_IRET, gate, LOAD_IDT, randomLoop, TICKING } from '../helpers/loops.ts';
import { ENTER_FLAT_PM, runAsm, startTimer } from '../helpers/run-asm.ts';
import { expectSameMachine } from '../helpers/same-machine.ts';

const interpretOnly = (m: Machine) => void (m.cpu.compiler = null);
const oneAtATime = (m: Machine) => {
  m.cpu.compiler = null;
  m.cpu.useDecodedBlocks = false;
};

function bothWays(source: string, maxInstructions = 1_000_000) {
  const blocks = runAsm(source, { maxInstructions, prepare: interpretOnly });
  const stepped = runAsm(source, { maxInstructions, prepare: oneAtATime });
  expect(blocks.outcome).toEqual(stepped.outcome);
  expectSameMachine(blocks.machine, stepped.machine);
  expect(blocks.output).toBe(stepped.output);
  return blocks;
}

describe("the interpreter's block loop", () => {
  it('runs random loops of several blocks as one instruction at a time does (40 seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const blocks = runAsm(randomLoop(seed), { prepare: interpretOnly });
      const stepped = runAsm(randomLoop(seed), { prepare: oneAtATime });
      expect({ seed, ...blocks.outcome }).toEqual({ seed, ...stepped.outcome });
      expectSameMachine(blocks.machine, stepped.machine);
    }
  });

  it('stops at the budget on the exact instruction, in whichever block it falls', () => {
    for (const budget of [1_001, 1_002, 1_003, 1_004, 1_005, 1_006, 12_345, 20_000]) {
      expect(bothWays(BRANCHY, budget).outcome.kind).toBe('limit');
    }
    expect(bothWays(BRANCHY).outcome.kind).toBe('halted');
  });

  it('a fault in a later block leaves the state of the faulting instruction', () => {
    // The DIV comes in the third block of the loop; the handler keeps the saved EIP and ECX, and
    // the time-stamp counter (virtual time).
    const run = bothWays(countdownToDivideByZero('jmp .second\n.second:', 'div ecx'));
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x504, 4)).toBe(0);
    expect(run.machine.phys.read(run.machine.phys.read(0x500, 4), 2)).toBe(0xf1f7); // F7 F1: DIV ECX
  });

  it('an interrupt is taken at the instruction boundary where one at a time takes it', () => {
    const run = bothWays(TICKING, 5_000_000);
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x600, 4)).toBe(20);
  });

  it('an interrupt made deliverable by the last instruction of a block comes before the next block', () => {
    // The loop masks the timer's line at the PIC, spins, and unmasks it: a tick that came
    // meanwhile is delivered right after the OUT that unmasks it, which ends a block, before
    // the next block's first instruction (the handler counts those it finds there).
    const run = bothWays(`${ENTER_FLAT_PM}${gate(0x20, 'tick')}${LOAD_IDT}
      ${startTimer(0x20, 200)}
      sti
      mov ecx, 3000
    again:
      mov al, 0xff
      out 0x21, al
      mov edx, 30
    .spin:
      dec edx
      jnz .spin
      mov al, 0xfe
      out 0x21, al
    .back:
      add ebx, 1
      add esi, ebx
      dec ecx
      jnz again
      cli
      hlt
    tick:
      inc dword [0x600]
      cmp dword [esp], again.back
      jne .elsewhere
      inc dword [0x604]
    .elsewhere:${EOI_IRET}`, 5_000_000);
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x604, 4)).toBeGreaterThan(0);
  });

  it('a breakpoint in a later block of a loop stops there', async () => {
    const t = debugAsm(BRANCHY);
    t.machine.cpu.compiler = null;
    await t.run('break top.skip', 'continue', 'continue', 'continue', 'delete 1');
    await t.run('break top+0x0b', 'continue');
    const text = await t.run('continue');
    expect(text).toMatch(/Breakpoint 2/);
    expect(t.machine.cpu.st[8] >>> 0).toBe(t.at('top') + 0x0b);
  });

  it.each([9, 10])('a loop run %i times compiles its blocks at the tenth run, chained to or not', (rounds) => {
    const run = runAsm(`${ENTER_FLAT_PM}
      mov ecx, ${rounds}
    top:
      add eax, ecx
      jmp .next
    .next:
      xor ebx, eax
      dec ecx
      jnz top
      hlt`, { prepare: (m) => void (m.cpu.compileThreshold = 10) });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.cpu.blocks.compiledCount > 0).toBe(rounds === 10);
  });
});
