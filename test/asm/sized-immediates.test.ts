/**
 * A size written on the immediate instead of the memory operand (`mov [eax*4], word label`, from
 * test386.asm): for MOV, the ALU operations and TEST nasm takes the operation's size from it. The
 * expected bytes and refusals are what nasm 2.16.01 did.
 */
import { describe, expect, it } from 'vitest';
import { type Diagnostic, assemble } from '../../src/asm/index.ts';

function bytes(line: string, bits = 32): number[] {
  const result = assemble(`bits ${bits}\n${line}\n`, { fileName: 'imm.asm' });
  expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return [...result.bytes];
}

function onlyError(line: string): Diagnostic {
  const result = assemble(`bits 32\n${line}\n`, { fileName: 'imm.asm' });
  expect(result.ok).toBe(false);
  expect(result.diagnostics.map((d) => d.message)).toHaveLength(1);
  return result.diagnostics[0]!;
}

describe('the size on the immediate sizes unsized memory', () => {
  it('mov [eax*4], word label (test386.asm)', () => {
    expect(bytes('label: mov [eax*4], word label')).toEqual([0x66, 0xc7, 0x04, 0x85, 0, 0, 0, 0, 0, 0]);
  });

  it('mov with byte, word and dword', () => {
    expect(bytes('mov [ebx], dword 5')).toEqual([0xc7, 0x03, 5, 0, 0, 0]);
    expect(bytes('mov [ebx], word 5')).toEqual([0x66, 0xc7, 0x03, 5, 0]);
    expect(bytes('mov [ebx], byte 5')).toEqual([0xc6, 0x03, 5]);
    expect(bytes('mov [bx+si], word 7', 16)).toEqual([0xc7, 0x00, 7, 0]);
  });

  it('a byte immediate makes a byte operation (80 /n ib), not a sign-extended byte', () => {
    expect(bytes('add [ebx], byte 1')).toEqual([0x80, 0x03, 1]);
    expect(bytes('add [ebx], byte 200')).toEqual([0x80, 0x03, 0xc8]);
    expect(bytes('cmp [ebx], byte -1')).toEqual([0x80, 0x3b, 0xff]);
    // With the size on the memory, `byte` still asks for the sign-extended form.
    expect(bytes('add dword [ebx], byte 1')).toEqual([0x83, 0x03, 1]);
  });

  it('word and dword take the sign-extended byte form when the value fits, unless strict', () => {
    expect(bytes('add [ebx], word 1')).toEqual([0x66, 0x83, 0x03, 1]);
    expect(bytes('and [ebx], dword 0xffffffff')).toEqual([0x83, 0x23, 0xff]);
    expect(bytes('add [ebx], word 1000')).toEqual([0x66, 0x81, 0x03, 0xe8, 0x03]);
    expect(bytes('add [ebx], strict word 5')).toEqual([0x66, 0x81, 0x03, 5, 0]);
  });

  it('test, and a label defined later', () => {
    expect(bytes('test [ebx], word 1')).toEqual([0x66, 0xf7, 0x03, 1, 0]);
    expect(bytes('add [ebx], byte later\nlater:')).toEqual([0x80, 0x03, 3]);
  });
});

describe('what nasm refuses is refused', () => {
  it('sizes that disagree', () => {
    const d = onlyError('mov dword [ebx], word 5');
    expect(d).toMatchObject({ file: 'imm.asm', line: 2, column: 23 });
    expect(d.message).toBe("mismatch in operand sizes for 'mov': the immediate is written as word, which the other operand does not match; drop the size or make the two agree");
    expect(onlyError('mov eax, word 5').message).toMatch(/^mismatch in operand sizes for 'mov'/);
    expect(onlyError('add al, word 5').message).toMatch(/^mismatch in operand sizes for 'add'/);
  });

  it('shifts and BT: the count is a byte of its own, so the memory still needs a size', () => {
    expect(onlyError('shl [ebx], byte 3').message).toMatch(/^operation size not specified for 'shl'/);
    expect(onlyError('bt [ebx], byte 3').message).toMatch(/^operation size not specified for 'bt'/);
  });
});
