/**
 * Instruction behaviour the 80286 sample cannot reach: 32-bit operands and addressing, the
 * 0F opcodes, 486 additions. Each test is a small guest assembled with minivisor's assembler.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.ts';
import { PhysicalMemory } from '../../src/cpu/physical-memory.ts';
import { ATTR_REAL_MODE_CODE, CS, S_EIP } from '../../src/cpu/state.ts';
import { assembleOrThrow, ENTER_FLAT_PM, realModeWithHandler, runAsm } from '../helpers/run-asm.ts';

const DONE = 'hlt';

function regs(source: string) {
  const run = runAsm(`${source}\n${DONE}`);
  expect(run.outcome.kind).toBe('halted');
  return { r: run.machine.cpu.reg, mem: run.machine.phys, cpu: run.machine.cpu };
}

describe('32-bit operands and addresses in real mode (0x66 / 0x67 prefixes)', () => {
  it('MOV with a SIB address stores a dword where base + index * scale + disp points', () => {
    const { mem } = regs(`
      mov eax, 0x12345678
      mov ebx, 0x1000
      mov ecx, 3
      mov [ebx + ecx*4 + 8], eax`);
    expect(mem.read(0x1000 + 12 + 8, 4) >>> 0).toBe(0x12345678);
  });

  it('ADD/ADC carry across 32 bits; IMUL three-operand; MOVZX/MOVSX', () => {
    const { r } = regs(`
      mov eax, 0xffffffff
      add eax, 1
      mov edx, 0
      adc edx, 0
      mov ebx, -7
      imul ecx, ebx, 1000
      mov si, 0x8001
      movzx edi, si
      movsx ebp, si`);
    expect(r[0]).toBe(0);
    expect(r[2]).toBe(1);
    expect(r[1]).toBe(-7000);
    expect(r[7]).toBe(0x8001);
    expect(r[5]).toBe(0xffff8001 | 0);
  });

  it('MUL and DIV use EDX:EAX', () => {
    const { r } = regs(`
      mov eax, 0x80000000
      mov ebx, 6
      mul ebx
      mov esi, edx
      mov edi, eax
      mov ecx, 7
      div ecx`);
    expect(r[6]).toBe(3);
    expect(r[7]).toBe(0);
    // 3 * 2^32 / 7 = 1840700269 remainder 5
    expect(r[0]).toBe(1840700269);
    expect(r[2]).toBe(5);
  });

  it('SHLD/SHRD, BT/BTS/BTR/BTC, BSF/BSR, SETcc, BSWAP', () => {
    const { r } = regs(`
      mov eax, 0x12345678
      mov edx, 0x9abcdef0
      shld eax, edx, 8
      mov ebx, 0x00f0
      bsf ecx, ebx
      bsr esi, ebx
      mov edi, 0
      bts edi, 31
      bt edi, 31
      setc bl
      bswap edx`);
    expect(r[0] >>> 0).toBe(0x3456789a);
    expect(r[1]).toBe(4);
    expect(r[6]).toBe(7);
    expect(r[7] >>> 0).toBe(0x80000000);
    expect(r[3] & 0xff).toBe(1);
    expect(r[2] >>> 0).toBe(0xf0debc9a);
  });

  it('XADD, CMPXCHG and CMPXCHG8B', () => {
    const { r, mem } = regs(`
      mov dword [0x2000], 10
      mov eax, 5
      xadd [0x2000], eax
      mov eax, 15
      mov ecx, 99
      cmpxchg [0x2000], ecx
      setz bl
      mov eax, 1
      cmpxchg [0x2000], ecx
      mov esi, eax
      mov dword [0x3000], 1
      mov dword [0x3004], 2
      mov eax, 1
      mov edx, 2
      mov ebx, 0xaaaa
      mov ecx, 0xbbbb
      cmpxchg8b [0x3000]`);
    expect(mem.read(0x2000, 4)).toBe(99);
    expect(r[6]).toBe(99); // second CMPXCHG failed and loaded the accumulator
    expect(mem.read(0x3000, 4)).toBe(0xaaaa);
    expect(mem.read(0x3004, 4)).toBe(0xbbbb);
  });

  it('XADD to memory addressed through the register it loads: the address is taken before the load', () => {
    const { r, mem } = regs(`
      mov dword [0x2010], 5
      mov ebx, 0x2010
      xadd [ebx], bh                          ; BH = 0x20: [0x2010] = 0x25, BH = 5
      mov eax, 7
      xadd eax, eax                           ; one register twice: the sum`);
    expect(mem.read(0x2010, 4)).toBe(0x25);
    expect(r[3]).toBe(0x0510);
    expect(mem.read(0x0510, 4)).toBe(0);
    expect(r[0]).toBe(14);
  });

  it('CPUID reports the vendor and the features this CPU has', () => {
    const { r } = regs(`
      xor eax, eax
      cpuid
      mov [0x500], ebx
      mov [0x504], edx
      mov [0x508], ecx
      mov eax, 1
      cpuid`);
    const { mem } = regs(`
      xor eax, eax
      cpuid
      mov [0x500], ebx
      mov [0x504], edx
      mov [0x508], ecx`);
    const vendor = Array.from(mem.dump(0x500, 12), (b) => String.fromCharCode(b)).join('');
    expect(vendor).toBe('GenuineIntel');
    expect(r[2] & (1 << 4)).not.toBe(0); // TSC
    expect(r[2] & (1 << 8)).not.toBe(0); // CMPXCHG8B
    expect(r[2] & 1).toBe(0); // no x87
    expect(r[2] & (1 << 15)).not.toBe(0); // CMOV
    expect((r[0] >>> 8) & 15).toBe(6); // family 6: the first with CMOV
  });

  it('CMOVcc moves only when its condition holds, in 16 and 32 bits, from a register or memory', () => {
    const { r } = regs(`
      mov dword [0x2000], 0x11112222
      mov eax, 1
      mov ebx, 2
      mov ecx, 3
      mov edx, 4
      cmp eax, ebx                            ; 1 < 2: below, less, not equal
      cmovb eax, ebx                          ; moves: EAX = 2
      cmova ecx, ebx                          ; stays: ECX = 3
      cmovl edx, [0x2000]                     ; moves a dword from memory
      mov esi, 0xaaaabbbb
      cmovne si, cx                           ; 16 bits: the upper half stays
      mov edi, 0x77777777
      cmove edi, [0x2000]                     ; stays`);
    expect(r[0]).toBe(2);
    expect(r[1]).toBe(3);
    expect(r[2]).toBe(0x11112222);
    expect(r[6] >>> 0).toBe(0xaaaa0003);
    expect(r[7]).toBe(0x77777777);
  });

  it('CMOVcc reads its memory operand even when the condition is false: past the limit it is #GP', () => {
    const run = runAsm(`${realModeWithHandler(13, 'gp_handler')}
      xor ax, ax                              ; ZF = 1: CMOVNE moves nothing
      mov esi, 0x10000
      a32 cmovne ax, [esi]
      hlt
    gp_handler:
      mov al, 'G'
      out 0xe9, al
      hlt`);
    expect(run.output).toBe('G');
  });

  it('RDTSC counts retired instructions (virtual time)', () => {
    const { r } = regs(`
      rdtsc
      mov ebx, eax
      nop
      nop
      rdtsc
      sub eax, ebx`);
    expect(r[0]).toBe(4);
  });
});

describe('string instructions with 32-bit addressing', () => {
  it('REP MOVSD copies forward past 64 KiB in flat protected mode', () => {
    const { mem } = regs(`${ENTER_FLAT_PM}
      mov edi, 0x1fff0
      mov ecx, 16
      mov eax, 0x11223344
      rep stosd
      mov esi, 0x1fff0
      mov edi, 0x30000
      mov ecx, 16
      cld
      rep movsd`);
    expect(mem.read(0x30000 + 60, 4)).toBe(0x11223344);
    expect(mem.read(0x20000 + 0x2c, 4)).toBe(0x11223344);
  });

  it('REPNE SCASB stops at the byte it looks for; STD walks backwards', () => {
    const { r } = regs(`${ENTER_FLAT_PM}
      mov dword [0x40000], 0x44332211
      mov edi, 0x40000
      mov al, 0x33
      mov ecx, 100
      cld
      repne scasb
      mov ebx, edi
      mov edx, ecx
      mov esi, 0x40003
      std
      lodsb
      cld`);
    expect(r[3]).toBe(0x40003); // EDI points past the match
    expect(r[2]).toBe(97);
    expect(r[0] & 0xff).toBe(0x44);
    expect(r[6]).toBe(0x40002);
  });

  it('a32 addressing in real mode past the 64 KiB limit raises #GP', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov word [13*4], gp_handler
      mov word [13*4+2], 0
      mov esi, 0x10000
      a32 lodsb
      hlt
    gp_handler:
      mov al, 'G'
      out 0xe9, al
      hlt`);
    expect(run.output).toBe('G');
  });
});

describe('far jumps in real mode', () => {
  it('a JMP FAR past the 64 KiB limit is #GP with CS unchanged in the saved frame', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [13*4], gp_handler
      mov word [13*4+2], 0
      jmp dword 0x1234:0x00012345
    gp_handler:
      hlt`);
    expect(run.machine.phys.read(0x7000 - 4, 2)).toBe(0); // the saved CS
    expect(run.machine.cpu.segmentSelector(1)).toBe(0);
  });
});

describe('instruction length', () => {
  it('an instruction longer than 15 bytes raises #GP, even when its prefixes alone are fewer', () => {
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [13*4], gp_handler
      mov word [13*4+2], 0
      times 10 db 0x3e                 ; DS: ten times
      db 0x66, 0x81, 0x06              ; add dword [disp16], imm32: 1 + 2 + 2 + 4 = 9 more bytes
      dw 0x600
      dd 0x12345678
      mov byte [0x604], 'X'            ; executed: wrong
      hlt
    gp_handler:
      mov al, 'G'
      out 0xe9, al
      hlt`);
    expect(run.output).toBe('G');
    expect(run.machine.phys.read(0x600, 4)).toBe(0);
  });
});

describe('32-bit DIV and IDIV', () => {
  /** EDX:EAX / divisor as the SDM defines it: quotient truncated toward zero, #DE when it does not fit (or divisor 0). */
  function reference(edx: number, eax: number, divisor: number, signed: boolean): [eax: number, edx: number, de: boolean] {
    const wide = (BigInt(edx >>> 0) << 32n) | BigInt(eax >>> 0);
    const n = signed ? BigInt.asIntN(64, wide) : wide;
    const d = signed ? BigInt(divisor | 0) : BigInt(divisor >>> 0);
    if (d === 0n) return [eax | 0, edx | 0, true];
    const q = n / d;
    if (signed ? q > 0x7fffffffn || q < -0x80000000n : q > 0xffffffffn) return [eax | 0, edx | 0, true];
    return [Number(BigInt.asIntN(32, q)), Number(BigInt.asIntN(32, n - q * d)), false];
  }

  const split = (n: bigint): [number, number] => [Number(BigInt.asIntN(32, n >> 32n)), Number(BigInt.asIntN(32, n))];
  const near53 = (2n ** 27n - 1n) * (2n ** 26n - 1n); // just below 2^53: n = q*d - 1 and q*d + 1 land next to integers
  /** [EDX, EAX, divisor, signed] */
  const cases: [number, number, number, boolean][] = [
    [0, 100, 7, false],
    [0, -1, 1, false], // 0xFFFFFFFF / 1
    [1, 0, 1, false], // 2^32 / 1: #DE
    [0, 5, 0, false], // by zero: #DE
    [0x1fffff, -1, 0x400000, false], // 2^53 - 1, the widest dividend in doubles
    [0x1fffff, -1, 3, false], // ... whose quotient does not fit: #DE
    [...split(near53 - 1n), 0x3ffffff, false],
    [...split(near53 + 1n), 0x3ffffff, false],
    [...split(near53 - 1n), 0x7ffffff, false],
    [0x200000, 0, 0x400000, false], // 2^53: past doubles (BigInt), quotient 2^31
    [0x200000, 1, 0x400001, false],
    [-2, -1, -1, false], // 2^64 - 2^32 - 1 / 0xFFFFFFFF: quotient 0xFFFFFFFF, the largest
    [-1, 0, -1, false], // 2^64 - 2^32 / 0xFFFFFFFF = 2^32: #DE
    [-1, -1, -1, false], // 2^64 - 1: #DE
    [-1, -100, 7, true], // -100 / 7 = -14 r -2
    [0, 100, -7, true], // 100 / -7 = -14 r 2
    [-1, -100, -7, true], // -100 / -7 = 14 r -2
    [-1, -7, 2, true], // remainder takes the dividend's sign
    [-1, 0x80000000 | 0, -1, true], // INT_MIN / -1: #DE
    [-1, 0x80000000 | 0, 1, true], // INT_MIN / 1
    [0, 0x80000000 | 0, 1, true], // 2^31 / 1: #DE
    [-1, 0, 2, true], // -2^32 / 2 = -2^31, the smallest quotient
    [-2, -2, 2, true], // -2^32 - 2 / 2 = -2^31 - 1: #DE
    [-0x200000, 0, 0x400000, true], // -2^53 / 2^22 = -2^31: the most negative dividend in doubles
    [0x1fffff, -1, -0x400000, true], // (2^53 - 1) / -2^22
    [-0x200001, -1, 0x400001, true], // -2^53 - 1: past doubles (BigInt)
    [-0x200000, 0, 0x3fffff, true], // #DE: the quotient is just below -2^31
    [...split(-(near53 - 1n)), 0x3ffffff, true],
    [...split(-(near53 + 1n)), -0x3ffffff, true],
    [0x80000000 | 0, 0, -1, true], // -2^63 / -1: #DE
    [0x3fffffff, -1, 0x7fffffff, true], // (2^62 - 1) / (2^31 - 1) = 2^31 + ...: #DE
    [0x3fffffff, -1, -0x80000000, true], // (2^62 - 1) / -2^31 = -(2^31 - 1)
  ];

  it('give the quotient and remainder of the whole 64-bit EDX:EAX, or #DE with EDX:EAX unchanged', () => {
    const data = cases.map(([edx, eax, divisor, signed]) => `dd ${edx >>> 0}, ${eax >>> 0}, ${divisor >>> 0}\n db ${signed ? 1 : 0}`);
    const run = runAsm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [0], de_handler
      mov word [2], 0
      mov si, cases
      mov di, 0x1000
      mov cx, ${cases.length}
    one_case:
      mov edx, [si]
      mov eax, [si + 4]
      mov ebx, [si + 8]
      mov byte [de_taken], 0
      cmp byte [si + 12], 0
      jne .signed
      div ebx
      jmp .store
    .signed:
      idiv ebx
    .store:
      mov [di], eax
      mov [di + 4], edx
      mov al, [de_taken]
      mov [di + 8], al
      add si, 13
      add di, 12
      loop one_case
      hlt
    de_handler:
      push bp
      mov bp, sp
      add word [bp + 2], 3       ; past the DIV or IDIV (66 F7 F3 / 66 F7 FB): #DE saved its address
      pop bp
      mov byte [de_taken], 1
      iret
    de_taken:
      db 0
    cases:
      ${data.join('\n      ')}`);
    expect(run.outcome.kind).toBe('halted');
    const p = run.machine.phys;
    const results = cases.map((_, i) => [p.read(0x1000 + i * 12, 4) | 0, p.read(0x1004 + i * 12, 4) | 0, p.read8(0x1008 + i * 12) === 1]);
    const expected = cases.map(([edx, eax, divisor, signed]) => reference(edx, eax, divisor, signed));
    expect(results).toEqual(expected);
    expect(expected.filter(([, , de]) => de).length).toBe(11); // (the table's own check: 11 of its cases are #DE)
  });

  it('use no BigInt when EDX:EAX fits in 53 bits', () => {
    const bytes = assembleOrThrow(`org 0x1000
      bits 16
      mov edx, 0x1234
      mov eax, 0x89abcdef
      mov ebx, 0x10000
      div ebx
      mov esi, eax
      mov edi, edx
      mov edx, -1
      mov eax, -100
      mov ebx, 7
      idiv ebx
      hlt
      mov edx, 0x40000000      ; (run after the HLT, separately) a dividend past 53 bits: 2^62
      mov eax, 0
      mov ebx, 0x80000001
      div ebx
      hlt`);
    const cpu = new Cpu(PhysicalMemory.withRam(1 << 20));
    cpu.phys.load(0x1000, bytes);
    cpu.setSegmentCache(CS, 0, 0, 0, 0xffff, ATTR_REAL_MODE_CODE);
    cpu.st[S_EIP] = 0x1000;
    expect(countBigIntCalls(() => cpu.run(100))).toBe(0);
    expect([cpu.reg[6] >>> 0, cpu.reg[7]]).toEqual([0x123489ab, 0xcdef]);
    expect([cpu.reg[0], cpu.reg[2]]).toEqual([-14, -2]);
    cpu.halted = false;
    expect(countBigIntCalls(() => cpu.run(100))).toBeGreaterThan(0);
    expect([cpu.reg[0], cpu.reg[2]]).toEqual([0x7fffffff, 1]); // 2^62 = (2^31 + 1) * (2^31 - 1) + 1
  });
});

/** How many times `body` calls the global BigInt function. */
function countBigIntCalls(body: () => void): number {
  const original = globalThis.BigInt;
  let calls = 0;
  const counting = Object.assign((value: string | number | bigint | boolean) => {
    calls++;
    return original(value);
  }, { asIntN: original.asIntN, asUintN: original.asUintN });
  Object.defineProperty(globalThis, 'BigInt', { value: counting, configurable: true, writable: true });
  try {
    body();
  } finally {
    Object.defineProperty(globalThis, 'BigInt', { value: original, configurable: true, writable: true });
  }
  return calls;
}
