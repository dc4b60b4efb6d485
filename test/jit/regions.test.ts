/**
 * Regions (src/jit/region.ts): a hot block compiled with the blocks of its page it leads to, so
 * that a loop over several blocks runs in one function. Like every compiled code, invisible: each
 * guest runs with blocks compiled at their third run (when a loop's other blocks are decoded) and
 * with the interpreter alone, and must leave the same machine — at its end, at a budget, at a
 * fault in any of a region's blocks, when an interrupt comes, and with a breakpoint in a block
 * that is not the region's first. (translation-cache.test.ts runs its guests compiled at their
 * third run too: there a loop rewrites a block of its own region, and one flushes the TLB.)
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.ts';
import { debugAsm } from '../helpers/debug-session.ts';
import { BRANCHY, countdownToDivideByZero, randomLoop, TICKING } from '../helpers/loops.ts';
import { ENTER_FLAT_PM, identityMap4M, runAsm } from '../helpers/run-asm.ts';
import { expectSameMachine } from '../helpers/same-machine.ts';

const compileAtThird = (m: Machine) => void (m.cpu.compileThreshold = 3);
const interpretOnly = (m: Machine) => void (m.cpu.compiler = null);

/** The names of the compiled functions of a machine's blocks. */
const compiledNames = (m: Machine) => [...m.cpu.blocks['blocks'].values()].flatMap((b) => (b.compiled === null ? [] : [b.compiled.name]));

function bothWays(source: string, maxInstructions = 1_000_000) {
  const compiled = runAsm(source, { maxInstructions, prepare: compileAtThird });
  const interpreted = runAsm(source, { maxInstructions, prepare: interpretOnly });
  expectSameMachine(compiled.machine, interpreted.machine);
  expect(compiled.outcome).toEqual(interpreted.outcome);
  expect(compiled.output).toBe(interpreted.output);
  return compiled;
}

describe('regions', () => {
  it('random loops of several blocks run as the interpreter runs them (40 seeds)', () => {
    let regions = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const source = randomLoop(seed);
      const compiled = runAsm(source, { prepare: compileAtThird });
      const interpreted = runAsm(source, { prepare: interpretOnly });
      expect({ seed, ...compiled.outcome }).toEqual({ seed, ...interpreted.outcome });
      expectSameMachine(compiled.machine, interpreted.machine);
      if (compiledNames(compiled.machine).some((name) => name.startsWith('region_'))) regions++;
    }
    expect(regions).toBeGreaterThan(25);
  });

  it('a loop over several blocks runs as one function, as the interpreter does', () => {
    const run = bothWays(BRANCHY);
    expect(run.outcome.kind).toBe('halted');
    // One function holds the loop: the run loop compiled nothing else in it.
    expect(compiledNames(run.machine).filter((name) => name.startsWith('region_'))).toHaveLength(1);
    expect(run.machine.cpu.reg[1]).toBe(0);
  });

  it('a region holds the blocks of a loop through its first: not a function the loop calls', () => {
    // BRANCHY's loop is four blocks (its head, the SUB's next instruction, the if's two ways).
    const branchy = runAsm(BRANCHY, { prepare: compileAtThird });
    const region = [...branchy.machine.cpu.blocks['blocks'].values()].find((b) => b.compiled?.name.startsWith('region_'))!;
    expect(region.compiled!.toString().match(/case \d+:/g)).toHaveLength(4);
    // A loop that calls a function: the function returns by RET (no fixed successor), so it is
    // no part of a loop through the caller's block, and the blocks are compiled alone.
    const calls = bothWays(`${ENTER_FLAT_PM}
      mov ecx, 500
    again:
      add eax, ebx
      call bump
      dec ecx
      jnz again
      hlt
    bump:
      inc ebx
      ret`);
    expect(calls.outcome.kind).toBe('halted');
    expect(compiledNames(calls.machine).filter((name) => name.startsWith('region_'))).toEqual([]);
  });

  it('stops at the budget on the exact instruction, in whichever block it falls', () => {
    for (const budget of [1_001, 1_002, 1_003, 1_004, 1_005, 12_345, 20_000]) {
      const run = bothWays(BRANCHY, budget);
      expect(run.outcome.kind).toBe('limit');
    }
  });

  it.each([
    ['its first block', 'div ecx\n  jmp .second\n.second:', ''],
    ['a later block', 'jmp .second\n.second:', 'div ecx'],
  ])('a fault in %s leaves the state of the faulting instruction', (_, first, later) => {
    const run = bothWays(countdownToDivideByZero(first, later));
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x504, 4)).toBe(0);
    expect(run.machine.phys.read(run.machine.phys.read(0x500, 4), 2)).toBe(0xf1f7); // F7 F1: DIV ECX
    expect(compiledNames(run.machine).some((name) => name.startsWith('region_'))).toBe(true);
  });

  it('a TLB flush by the last access of a block cut at 64 instructions ends the region there', () => {
    // 5,120 linear pages on one frame fill the TLB, which is flushed when full; the loop's code
    // page has its accessed bit cleared behind the TLB's back, and the next fetch after a flush
    // sets it again: the loop adds up when it sees it set.
    const run = bothWays(`${ENTER_FLAT_PM}${identityMap4M(3)}
      mov edi, 0x22000
      mov eax, 0x300003
      mov ecx, 1024
    fill:
      mov [edi], eax
      add edi, 4
      loop fill
      mov dword [0x20004], 0x22003
      mov dword [0x20008], 0x22003
      mov dword [0x2000c], 0x22003
      mov dword [0x20010], 0x22003
      mov dword [0x20014], 0x22003
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      jmp setup
      times 0x400 - ($ - $$) db 0   ; the loop in the page at 0x8000
    setup:
      and dword [0x21020], ~0x20
      mov esi, 0x400000
      mov ecx, 4300
      xor ebp, ebp
    top:
      times 63 nop
      mov eax, [esi]                ; the 64th: the block is cut after it
      mov edx, [0x21020]
      and edx, 0x20
      add ebp, edx
      add esi, 0x1000
      dec ecx
      jnz top
      mov [0x500], ebp
      hlt`, 2_000_000);
    expect(run.outcome.kind).toBe('halted');
    expect(compiledNames(run.machine).some((name) => name.startsWith('region_'))).toBe(true);
  });

  it.each([
    ['a later block of a region', 'jmp next\n    next:'],
    ['a loop of one block', ''],
  ])('a read of the local APIC timer in %s sees the time the interpreter shows', (_, between) => {
    const run = bothWays(`${ENTER_FLAT_PM}
      mov dword [0xfee00320], 0x10000   ; LVT timer: masked, one-shot
      mov dword [0xfee003e0], 0xb       ; divide by 1
      mov dword [0xfee00380], 0x7fffffff
      mov ecx, 100
      xor ebx, ebx
    top:
      add ebx, ecx
      ${between}
      mov eax, [0xfee00390]             ; the current count: falls with virtual time
      add ebx, eax
      dec ecx
      jnz top
      mov [0x500], ebx
      hlt`);
    expect(run.outcome.kind).toBe('halted');
  });

  it('an interrupt leaves a region at the instruction boundary the interpreter takes it at', () => {
    const run = bothWays(TICKING, 5_000_000);
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x600, 4)).toBe(20);
  });

  it('a breakpoint in a block of a region that is not its first stops there', async () => {
    const t = debugAsm(BRANCHY);
    t.machine.cpu.compileThreshold = 3;
    // Let the loop get hot and compile as a region, then stop on the `if`'s inner block.
    await t.run('break top.skip', 'continue', 'continue', 'continue', 'delete 1');
    await t.run('break top+0x0b', 'continue');
    const text = await t.run('continue');
    expect(text).toMatch(/Breakpoint 2/);
    expect(t.machine.cpu.st[8] >>> 0).toBe(t.at('top') + 0x0b);
  });
});
