/**
 * The interpreter's hot forms (src/cpu/hot-forms.ts) must do exactly what the generic semantics
 * functions do: each form runs from the same random states (registers, flags with and without
 * a pending lazy record, memory) on two identical machines, once through `execute` and once
 * through the interpreter's block loop, and everything the guest can see must agree. And a block whose dead
 * flags the hot forms leave unset must be invisible: the same run, single-stepped under TF with
 * a handler logging every EFLAGS, as the same code decoded one instruction at a time.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/cpu/decoder.ts';
import { setEflags } from '../../src/cpu/flags.ts';
import { DecodedBlock } from '../../src/cpu/block-cache.ts';
import { interpretBlocks } from '../../src/cpu/interpreter.ts';
import { Insn } from '../../src/cpu/insn.ts';
import { alu } from '../../src/cpu/ops/alu.ts';
import { S_EIP, S_INSN_EIP } from '../../src/cpu/state.ts';
import type { Machine } from '../../src/machine/machine.ts';
import { random } from '../helpers/random-code.ts';
import { ENTER_FLAT_PM, runAsm } from '../helpers/run-asm.ts';
import { architecturalState, expectSameMachine } from '../helpers/same-machine.ts';

/** Where each instruction under test is placed, and the data it reaches (EBX, ESI, ESP point there). */
const CODE = 0x60000, DATA = 0x100000, STACK = 0x80000;

const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
const imm32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** One encoding of every hot form: [what it is, its bytes]. */
function forms(): [string, number[]][] {
  const list: [string, number[]][] = [];
  for (let op = 0; op < 8; op++) {
    list.push([`alu ${op} r/m32,r32 register`, [op * 8 + 1, 0xc0 | (1 << 3) | 3]]);
    list.push([`alu ${op} r/m32,r32 [ebx]`, [op * 8 + 1, (2 << 3) | 3]]);
    list.push([`alu ${op} r/m32,r32 [ebx+esi*4+disp8]`, [op * 8 + 1, 0x44 | (7 << 3), 0xb3, 0x10]]);
    list.push([`alu ${op} r32,r/m32 register`, [op * 8 + 3, 0xc0 | (6 << 3) | 1]]);
    list.push([`alu ${op} r32,r/m32 [ebx]`, [op * 8 + 3, (0 << 3) | 3]]);
    list.push([`alu ${op} r/m32,imm32 register`, [0x81, 0xc0 | (op << 3) | 2, ...imm32(0x89abcdef)]]);
    list.push([`alu ${op} r/m32,imm8 register`, [0x83, 0xc0 | (op << 3) | 5, 0xfe]]);
    list.push([`alu ${op} m32,imm32`, [0x81, (op << 3) | 3, ...imm32(0x7fffffff)]]);
    list.push([`alu ${op} m32,imm8`, [0x83, 0x40 | (op << 3) | 3, 0x08, 0x01]]);
    list.push([`alu ${op} eax,imm32`, [op * 8 + 5, ...imm32(0x80000001)]]);
    list.push([`shift ${op} r32,imm8`, [0xc1, 0xc0 | (op << 3) | 7, 5]]);
    list.push([`shift ${op} r32,imm8 (31)`, [0xc1, 0xc0 | (op << 3) | 0, 31]]);
    list.push([`shift ${op} r32,1`, [0xd1, 0xc0 | (op << 3) | 6]]);
  }
  for (let cc = 0; cc < 16; cc++) {
    list.push([`jcc ${cc} rel8`, [0x70 + cc, 0x10]]);
    list.push([`jcc ${cc} rel32`, [0x0f, 0x80 + cc, ...imm32(-0x20)]]);
  }
  for (let r = 0; r < 8; r++) {
    list.push([`inc r${r}`, [0x40 + r]]);
    list.push([`dec r${r}`, [0x48 + r]]);
    list.push([`mov r${r},imm32`, [0xb8 + r, ...imm32(0xdeadbeef)]]);
    list.push([`push r${r}`, [0x50 + r]]);
    list.push([`pop r${r}`, [0x58 + r]]);
  }
  list.push(['mov r/m32,r32 register', [0x89, 0xc0 | (2 << 3) | 5]]);
  list.push(['mov m32,r32', [0x89, (2 << 3) | 3]]);
  list.push(['mov r32,r/m32 register', [0x8b, 0xc0 | (1 << 3) | 0]]);
  list.push(['mov r32,m32', [0x8b, 0x44 | (5 << 3), 0x33, 0xfc]]);
  list.push(['mov m32,imm32', [0xc7, 0x03, ...imm32(0x12345678)]]);
  list.push(['test r/m32,r32 register', [0x85, 0xc0 | (3 << 3) | 1]]);
  list.push(['lea', [0x8d, 0x44 | (1 << 3), 0x73, 0x7f]]);
  list.push(['call rel32', [0xe8, ...imm32(0x100)]]);
  list.push(['jmp rel32', [0xe9, ...imm32(-0x40)]]);
  list.push(['jmp rel8', [0xeb, 0x7f]]);
  list.push(['ret', [0xc3]]);
  list.push(['movzx r32,r/m8', [0x0f, 0xb6, 0xc0 | (1 << 3) | 4]]);
  list.push(['movzx r32,m16', [0x0f, 0xb7, (1 << 3) | 3]]);
  return list;
}

/** A machine in flat 32-bit protected mode, stopped at the guest's `hlt`. */
function flatMachine(): Machine {
  const { machine } = runAsm(`${ENTER_FLAT_PM}\n  hlt`);
  return machine;
}

/** The same random state on a machine: registers, flags (a pending lazy record or none), memory around DATA and STACK. */
function randomState(m: Machine, seed: number): void {
  const next = random(seed);
  const word = () => next() | 0;
  const fraction = () => next() / 2 ** 32;
  const cpu = m.cpu;
  for (let r = 0; r < 8; r++) cpu.reg[r] = word();
  // Memory operands in RAM: EBX and ESI near DATA (a dword across a page boundary now and then), ESP near STACK.
  cpu.reg[3] = DATA + (fraction() < 0.2 ? 0xffe : (word() & 0xffc));
  cpu.reg[6] = word() & 0x3f;
  cpu.reg[4] = STACK + (word() & 0xffc);
  cpu.reg[5] = DATA + 0x2000 + (word() & 0xff);
  setEflags(cpu.st, (word() & 0x8d5) | 0x202);
  if (fraction() < 0.6) alu(cpu.st, next() & 7, word(), word(), 32);
  for (let a = DATA; a < DATA + 0x3000; a += 4) m.phys.write(a, 4, word());
  for (let a = STACK; a < STACK + 0x1100; a += 4) m.phys.write(a, 4, word());
}

/** Decodes `bytes` placed at CODE on `m` (EIP on them). */
function decodeAt(m: Machine, bytes: number[]): Insn {
  bytes.forEach((b, i) => m.phys.write(CODE + i, 1, b));
  m.cpu.st[S_EIP] = CODE;
  const d = new Insn();
  decode(m.cpu, d);
  return d;
}

/** A block of `d` alone, as the interpreter runs it. */
function blockOf(d: Insn): DecodedBlock {
  const block = new DecodedBlock(0, 0);
  block.insns.push(d);
  block.byteLength = d.length;
  return block;
}

/** Runs `d` (EIP already past it, as the run loop leaves it, or on it for the interpreter's block): 'ok' or the fault's vector. */
function run(m: Machine, d: Insn, how: (m: Machine, d: Insn) => void): string {
  try {
    how(m, d);
    return 'ok';
  } catch {
    return `fault ${m.cpu.pendingVector}`;
  }
}

const memory = (m: Machine) => [m.phys.dump(DATA, 0x3000), m.phys.dump(STACK, 0x1100)];

describe('the interpreter\'s hot forms', () => {
  it('every hot form leaves what its generic form leaves, from random states', () => {
    const generic = flatMachine();
    const hot = flatMachine();
    const mismatches: string[] = [];
    for (const [name, bytes] of forms()) {
      const d = decodeAt(generic, bytes);
      const h = decodeAt(hot, bytes);
      // Each of these is a hot form, or the comparison below would test nothing new.
      if (h.hot === 0) mismatches.push(`${name} (${hex(bytes)}): has no hot form`);
      for (let seed = 1; seed <= 12; seed++) {
        randomState(generic, seed * 7919 + bytes.length);
        randomState(hot, seed * 7919 + bytes.length);
        generic.cpu.st[S_EIP] = CODE + d.length;
        generic.cpu.st[S_INSN_EIP] = CODE;
        hot.cpu.st[S_EIP] = CODE;
        const a = run(generic, d, (m, x) => x.execute(m.cpu, x));
        const b = run(hot, h, (m, x) => interpretBlocks(m.cpu, m.cpu.st, blockOf(x), 1, 0));
        const same = a === b && JSON.stringify(architecturalState(generic)) === JSON.stringify(architecturalState(hot)) &&
          memory(generic).every((bytes, i) => Buffer.compare(bytes, memory(hot)[i]) === 0);
        if (!same) mismatches.push(`${name} (${hex(bytes)}), seed ${seed}: generic ${a}, hot ${b}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('16-bit operands keep the generic forms', () => {
    const m = flatMachine();
    expect(decodeAt(m, [0x66, 0x01, 0xc8]).hot).toBe(0); // add ax, cx
    expect(decodeAt(m, [0x00, 0xc8]).hot).toBe(0); // add al, cl
    expect(decodeAt(m, [0x01, 0xc8]).hot).not.toBe(0); // add eax, ecx
  });

  it('a shift by 0 (its count masked) keeps the generic form, which changes nothing', () => {
    const m = flatMachine();
    for (let op = 0; op < 8; op++) expect(decodeAt(m, [0xc1, 0xc0 | (op << 3) | 1, 32]).hot).toBe(0);
    expect(decodeAt(m, [0xc1, 0xc1, 33]).hot).not.toBe(0); // rol ecx, 33: by 1
  });

  // Dead flags: ADD's are overwritten by XOR's, CMP's by TEST's, SUB's by SHL and INC... The
  // interpreter leaves them unset in a block, which it enters only with nothing pending: under TF
  // (a trap after every instruction) it runs one instruction at a time, and the #DB handler logs
  // the EFLAGS it sees. Both runs must be those of a machine that decodes one at a time.
  const deadFlagsGuest = (trap: boolean) => `${ENTER_FLAT_PM}
  mov eax, db_handler                  ; the IDT's #DB gate: a 32-bit interrupt gate
  mov [0x8008], ax
  mov word [0x800a], 0x08
  mov word [0x800c], 0x8e00
  shr eax, 16
  mov [0x800e], ax
  lidt [idt_desc]
  mov edi, 0x200000
  mov ecx, 40
  mov eax, 0x7fffffff
  mov ebx, 3
  ${trap ? 'pushfd\n  or dword [esp], 0x100\n  popfd' : ''}
again:
  add eax, ebx
  xor ebx, eax
  cmp eax, ebx
  test ecx, ecx
  add eax, 0x12345
  sub ebx, eax
  shl ebx, 1
  inc edx
  dec ecx
  jnz again
  pushfd
  and dword [esp], ~0x100
  popfd
  mov [0x1f0000], eax
  mov [0x1f0004], ebx
  mov [0x1f0008], edx
  out 0xf4, al
db_handler:                            ; logs the EFLAGS and EIP it interrupted
  push eax
  mov eax, [esp + 12]
  mov [edi], eax
  mov eax, [esp + 4]
  mov [edi + 4], eax
  add edi, 8
  pop eax
  iretd
align 8
idt_desc:
  dw 0x7ff
  dd 0x8000
`;

  for (const trap of [false, true]) {
    it(`a block with dead flags is the same run as one instruction at a time${trap ? ', single-stepped under TF' : ''}`, () => {
      const source = deadFlagsGuest(trap);
      const cached = runAsm(source, { prepare: (m) => void (m.cpu.compiler = null) });
      const stepped = runAsm(source, { prepare: (m) => void (m.cpu.useDecodedBlocks = false) });
      expect(cached.outcome.kind).toBe('exit');
      expectSameMachine(cached.machine, stepped.machine);
      if (trap) {
        // 40 rounds of 10 instructions, each logged.
        expect(cached.machine.phys.read(0x200000 + 8 * 399, 4)).not.toBe(0);
      } else {
        // The loop's block left flags unset (else this would test nothing): its dead instructions
        // (ADD XOR CMP TEST ADD; SUB's CF is SHL's to set) run their values alone.
        const loop = [...cached.machine.cpu.blocks['blocks'].values()].find((b) => b.insns.length === 10)!;
        const changed = loop.insns.filter((d) => d.hot !== decodedAgain(cached.machine, (loop.key >>> 1) + d.offset).hot);
        expect(changed.length).toBeGreaterThanOrEqual(5);
      }
    });
  }
});

/** The instruction at `address` (flat, CS base 0) decoded again: its hot form as the opcode table chooses it, before a block's liveness. */
function decodedAgain(m: Machine, address: number): Insn {
  const again = new Insn();
  const eip = m.cpu.st[S_EIP];
  m.cpu.st[S_EIP] = address;
  decode(m.cpu, again);
  m.cpu.st[S_EIP] = eip;
  return again;
}
