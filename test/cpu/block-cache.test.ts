/**
 * The decoded-block cache must be invisible: the same guest reaches the same state whether
 * instructions come from cached blocks or are decoded one at a time, code that rewrites
 * itself runs its new bytes, and faults inside a block leave the state of the faulting
 * instruction.
 */
import { describe, expect, it } from 'vitest';
import { STATE_SIZE, S_EIP } from '../../src/cpu/state.ts';
import { MAX_CACHED_INSNS, type BlockCache, type DecodedBlock } from '../../src/cpu/block-cache.ts';
import type { Machine } from '../../src/machine/machine.ts';
import { ENTER_FLAT_PM, runAsm } from '../helpers/run-asm.ts';
import { expectSameMachine } from '../helpers/same-machine.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function bothWays(source: string, options: { maxInstructions?: number; prepare?: (m: Machine) => void } = {}) {
  const cached = runAsm(source, options);
  const stepped = runAsm(source, { ...options, prepare: (m) => void (m.cpu.useDecodedBlocks = false) });
  return { cached, stepped };
}


/** The blocks the cache holds (a private map: element access is the test's way in). */
const liveBlocks = (cache: BlockCache): DecodedBlock[] => [...cache['blocks'].values()];

/**
 * What the cache keeps alive: its blocks and every block reachable from them through chaining
 * (next0/next1), dropped ones included. Returns the instructions they hold.
 */
function reachableInsns(cache: BlockCache): number {
  const seen = new Set<DecodedBlock>();
  const work = liveBlocks(cache);
  let insns = 0;
  while (work.length > 0) {
    const block = work.pop()!;
    if (seen.has(block)) continue;
    seen.add(block);
    insns += block.insns.length;
    if (block.next0) work.push(block.next0);
    if (block.next1) work.push(block.next1);
  }
  return insns;
}

/** A host page is a code page (its writes take the slow path) exactly when blocks were decoded from it. */
function expectCodePagesConsistent(machine: Machine) {
  const { codePages } = machine.phys;
  const cache = machine.cpu.blocks;
  const wrong: number[] = [];
  for (let page = 0; page < codePages.length; page++) if ((codePages[page] !== 0) !== cache.hasPage(page)) wrong.push(page);
  expect(wrong).toEqual([]);
}

/**
 * CHUNKS chunks of 128 bytes at 0x100000, each 127 x INC EBX and a RET, called at every byte
 * but the RET: every call starts a block of its own, up to 64 instructions long (the shape of
 * a guest that fills the cache). EBX ends as 8128 (1 + ... + 127) per chunk, EBP counts calls.
 */
const sled = (chunks: number) => `${ENTER_FLAT_PM}
  mov edi, 0x100000
  mov ecx, ${chunks} * 128 / 4
  mov eax, 0x43434343     ; INC EBX x 4
  rep stosd
  mov edi, 0x100000 + 127
  mov ecx, ${chunks}
.ret:
  mov byte [edi], 0xc3
  add edi, 128
  loop .ret
  xor ebx, ebx
  xor ebp, ebp
  mov esi, 0x100000
.call:
  mov eax, esi
  and eax, 127
  cmp eax, 127
  je .skip
  call esi
  inc ebp
.skip:
  inc esi
  cmp esi, 0x100000 + ${chunks} * 128
  jb .call
  hlt`;

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

  describe('bounded by its budget of decoded instructions', () => {
    it('a guest calling every byte of a sled passes the budget: the cache is flushed, stays bounded and the guest computes the same', () => {
      const chunks = 64; // about 6,200 instructions decoded per chunk: 1.5 times the budget
      const { cached, stepped } = bothWays(sled(chunks), { maxInstructions: 2_000_000 });
      expect(cached.outcome.kind).toBe('halted');
      const { cpu } = cached.machine;
      expect(cpu.reg[3] >>> 0).toBe(8128 * chunks); // EBX
      expect(cpu.reg[5]).toBe(127 * chunks); // EBP
      expectSameMachine(cached.machine, stepped.machine);
      expect(cpu.blocks.flushes).toBeGreaterThanOrEqual(1);
      expect(cpu.blocks.insnCount).toBeLessThanOrEqual(MAX_CACHED_INSNS);
      expect(reachableInsns(cpu.blocks)).toBeLessThanOrEqual(cpu.blocks.insnCount);
      expectCodePagesConsistent(cached.machine);
    });

    it('flushing on almost every block: chaining, self-modifying code and code pages stay right', () => {
      // Code on two pages: a loop at 0x7C00 that patches its own immediate, and a sled at
      // 0x8000 called at a different byte each time. With a budget of 100 instructions the
      // cache is flushed every iteration or two, between chained blocks.
      const source = `
        xor bx, bx
        xor dx, dx
        mov cx, 300
      again:
        xor ah, ah
      patch:
        mov al, 1            ; B0 01: the immediate becomes CL below
        add bx, ax
        mov [patch + 1], cl
        mov si, cx
        and si, 15
        add si, sled
        call si
        loop again
        hlt
        times 0x400 - ($ - $$) db 0
      sled:
        times 32 inc dx
        ret`;
      const limit = 100;
      const { cached, stepped } = bothWays(source, { prepare: (m) => void (m.cpu.blocks.maxInsns = limit) });
      expect(cached.outcome.kind).toBe('halted');
      let bx = 0, dx = 0;
      for (let i = 0; i < 300; i++) {
        bx += i === 0 ? 1 : (301 - i) & 0xff;
        dx += 32 - ((300 - i) & 15);
      }
      const { cpu } = cached.machine;
      expect(cpu.reg16[6]).toBe(bx & 0xffff); // BX
      expect(cpu.reg16[4]).toBe(dx & 0xffff); // DX
      expectSameMachine(cached.machine, stepped.machine);
      expect(cpu.blocks.flushes).toBeGreaterThan(100);
      expect(cpu.blocks.dropped).toBeGreaterThan(0);
      expect(cpu.blocks.insnCount).toBeLessThanOrEqual(limit);
      expect(reachableInsns(cpu.blocks)).toBeLessThanOrEqual(limit);
      expectCodePagesConsistent(cached.machine);
    });

    it('the loop benchmark under a small budget reaches the same state as without the cache', () => {
      const loop = readFileSync(join(import.meta.dirname, '..', '..', 'guests', 'bench', 'loop.asm'), 'utf8')
        .replace('%ifndef ITERS', '%define ITERS 3000\n%ifndef ITERS')
        .replace(/^\s*org 0x7c00\s*$/m, '');
      const { cached, stepped } = bothWays(loop, { prepare: (m) => void (m.cpu.blocks.maxInsns = 64) });
      expect(cached.outcome).toEqual({ kind: 'exit', status: 1 });
      expectSameMachine(cached.machine, stepped.machine);
      expect(cached.machine.cpu.blocks.flushes).toBeGreaterThan(0);
    });

    it('a flush invalidates every block, unlinks its chains and frees its code pages', () => {
      const run = runAsm(sled(2), { maxInstructions: 100_000 });
      expect(run.outcome.kind).toBe('halted');
      const { cpu, phys } = run.machine;
      const cache = cpu.blocks;
      const before = liveBlocks(cache);
      expect(before.length).toBeGreaterThan(0);
      expect(before.some((b) => b.next0 !== null)).toBe(true);
      expect(phys.codePages.some((v) => v !== 0)).toBe(true);
      cache.flush(phys.codePages);
      expect(liveBlocks(cache)).toEqual([]);
      expect(before.every((b) => !b.valid && b.next0 === null && b.next1 === null)).toBe(true);
      expect(before.every((b) => cache.get(b.key) === undefined)).toBe(true);
      expect(phys.codePages.every((v) => v === 0)).toBe(true);
      expect(cache.insnCount).toBe(0);
      expect(cache.flushes).toBe(1);
    });
  });
});
