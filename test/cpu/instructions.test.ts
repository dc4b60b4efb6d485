/**
 * Instruction behaviour the 80286 sample cannot reach: 32-bit operands and addressing, the
 * 0F opcodes, 486 additions. Each test is a small guest assembled with minivisor's assembler.
 */
import { describe, expect, it } from 'vitest';
import { ENTER_FLAT_PM, runAsm } from '../helpers/run-asm.ts';

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
