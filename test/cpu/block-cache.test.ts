/**
 * The decoded-block cache must be invisible: the same guest reaches the same state whether
 * instructions come from cached blocks or are decoded one at a time, code that rewrites
 * itself runs its new bytes, and faults inside a block leave the state of the faulting
 * instruction.
 */
import { describe, expect, it } from 'vitest';
import { STATE_SIZE, S_EIP } from '../../src/cpu/state.ts';
import { ENTER_FLAT_PM, runAsm } from '../helpers/run-asm.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function bothWays(source: string) {
  const cached = runAsm(source);
  const stepped = runAsm(source, { prepare: (m) => void (m.cpu.useDecodedBlocks = false) });
  return { cached, stepped };
}

describe('decoded-block cache', () => {
  it('the loop benchmark reaches the same state and memory with and without the cache', () => {
    const loop = readFileSync(join(import.meta.dirname, '..', '..', 'guests', 'bench', 'loop.asm'), 'utf8')
      .replace('%ifndef ITERS', '%define ITERS 3000\n%ifndef ITERS')
      .replace(/^\s*org 0x7c00\s*$/m, '');
    const { cached, stepped } = bothWays(loop);
    expect(cached.outcome).toEqual({ kind: 'exit', status: 1 });
    expect(Array.from(cached.machine.cpu.st.subarray(0, STATE_SIZE))).toEqual(Array.from(stepped.machine.cpu.st.subarray(0, STATE_SIZE)));
    expect(cached.machine.cpu.instructions).toBe(stepped.machine.cpu.instructions);
    const same = Buffer.from(cached.machine.phys.dump(0, 0x100000)).equals(stepped.machine.phys.dump(0, 0x100000));
    expect(same).toBe(true);
    expect(cached.machine.cpu.blocks.built).toBeGreaterThan(0);
  });

  it('self-modifying code: a patched immediate in a block already run takes effect', () => {
    const { cached, stepped } = bothWays(`
      xor bx, bx
      mov cx, 3
    again:
    patch:
      mov al, 1          ; B0 01: the second byte is patched below
      add bl, al
      mov byte [patch + 1], 10
      loop again
      hlt`);
    expect(cached.machine.cpu.reg8[12]).toBe(1 + 10 + 10); // BL
    expect(stepped.machine.cpu.reg8[12]).toBe(21);
    expect(cached.machine.cpu.blocks.dropped).toBeGreaterThan(0);
  });

  it('a write into the block being executed stops it before its stale next instruction', () => {
    const run = runAsm(`
      mov byte [next + 1], 0x42
    next:
      mov al, 0x01
      hlt`);
    expect(run.machine.cpu.reg8[0]).toBe(0x42);
  });

  it('REP with a count larger than one execution restarts itself until done', () => {
    const run = runAsm(`${ENTER_FLAT_PM}
      mov edi, 0x100000
      mov ecx, 20000
      mov al, 0xab
      rep stosb
      mov byte [0x200000], 1
      hlt`);
    expect(run.machine.phys.read8(0x100000 + 19999)).toBe(0xab);
    expect(run.machine.phys.read8(0x100000 + 20000)).toBe(0);
    expect(run.machine.cpu.reg[1]).toBe(0);
    expect(run.machine.phys.read8(0x200000)).toBe(1);
  });

  it('a fault in the middle of a block leaves EIP and registers at the faulting instruction', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov word [0], de_handler
      mov word [2], 0
      mov cx, 5
      mov dx, 0
      mov bl, 0
    faulting:
      div bl             ; #DE in the middle of the block
      mov cx, 99
      hlt
    de_handler:
      pop ax
      hlt`);
    const savedIp = run.machine.cpu.reg16[0];
    expect(run.machine.phys.read8(savedIp)).toBe(0xf6); // DIV r/m8
    expect(run.machine.cpu.reg16[2]).toBe(5); // CX untouched: MOV CX, 99 never ran
    expect(run.machine.cpu.st[S_EIP]).toBeGreaterThan(savedIp);
  });
});
