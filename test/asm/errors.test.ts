/** Each kind of mistake gets its message at the right line and column, and all are reported. */
import { describe, expect, it } from 'vitest';
import { type Diagnostic, assemble, formatDiagnostic } from '../../src/asm/index.ts';

function diagnose(source: string, files: Record<string, string> = {}): Diagnostic[] {
  const result = assemble(source, { fileName: 'student.asm', readFile: (p) => files[p] });
  if (result.diagnostics.some((d) => d.severity === 'error')) {
    expect(result.ok).toBe(false);
    expect(result.bytes.length).toBe(0);
  }
  return result.diagnostics;
}

function only(source: string, files?: Record<string, string>): Diagnostic {
  const ds = diagnose(source, files);
  expect(ds.map((d) => d.message)).toHaveLength(1);
  return ds[0]!;
}

describe('assembler errors', () => {
  it('unknown mnemonic, with the nearest known one', () => {
    const d = only('bits 16\n  movv ax, bx\n');
    expect(d).toMatchObject({ severity: 'error', file: 'student.asm', line: 2, column: 3 });
    expect(d.message).toBe("unknown instruction 'movv' (did you mean 'mov'?)");
  });

  it('unknown mnemonic with two letters swapped, the commonest typo', () => {
    expect(only('bits 16\n  mvo ax, bx\n').message).toBe("unknown instruction 'mvo' (did you mean 'mov'?)");
  });

  it('unknown mnemonic after a label', () => {
    const d = only('start: pusj ax\n');
    expect(d).toMatchObject({ line: 1, column: 8 });
    expect(d.message).toContain("unknown instruction 'pusj' (did you mean 'push'?)");
  });

  it('an operand combination the instruction does not have lists the forms that exist', () => {
    const d = only('bits 16\nmov al, bx\n');
    expect(d).toMatchObject({ line: 2, column: 5 });
    expect(d.message).toMatch(/^invalid combination of operands for 'mov'; it has the forms: /);
    expect(d.message).toContain('mov r8, r/m8');
    const out = only('out 0x80, bl\n');
    expect(out.message).toContain('out imm8, al | out imm8, ax | out imm8, eax | out dx, al');
  });

  it('operation size not specified', () => {
    const d = only('mov [bx], 5\n');
    expect(d).toMatchObject({ line: 1, column: 5 });
    expect(d.message).toContain('operation size not specified');
  });

  it('undefined label', () => {
    const d = only('nop\njmp nowhere\n');
    expect(d).toMatchObject({ line: 2, column: 5, message: "symbol 'nowhere' is not defined" });
  });

  it('duplicate label, naming the first definition', () => {
    const d = only('here: nop\n\nhere: nop\n');
    expect(d).toMatchObject({ line: 3, column: 1, message: "label 'here' is already defined (first at student.asm:1)" });
  });

  it('duplicate local label within one scope', () => {
    const d = only('a:\n.x: nop\n.x: nop\nb:\n.x: nop\n');
    expect(d).toMatchObject({ line: 3, column: 1, message: "label 'a.x' is already defined (first at student.asm:2)" });
  });

  it('jmp short too far', () => {
    const d = only('jmp short there\ntimes 200 nop\nthere:\n');
    expect(d).toMatchObject({ line: 1, column: 11 });
    expect(d.message).toBe('short jump is out of range: the target is 200 bytes away, a short jump reaches -128..127');
  });

  it('loop too far', () => {
    const d = only('top:\ntimes 130 nop\nloop top\n');
    expect(d).toMatchObject({ line: 3, column: 6 });
    expect(d.message).toContain('short jump is out of range');
  });

  it('db 300 is a warning (as in nasm) and the byte is truncated to 0x2c', () => {
    const result = assemble('db 300\n');
    expect(result.ok).toBe(true);
    expect([...result.bytes]).toEqual([0x2c]);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', line: 1, column: 4, message: 'byte data exceeds bounds (300 does not fit in 8 bits; it is truncated)' }),
    ]);
    expect(formatDiagnostic(result.diagnostics[0]!)).toBe(
      'input.asm:1:4: warning: byte data exceeds bounds (300 does not fit in 8 bits; it is truncated)\ndb 300\n   ^',
    );
  });

  it('unterminated string', () => {
    const d = only("  db 'abc\n");
    expect(d).toMatchObject({ line: 1, column: 6, message: "unterminated string (missing closing ')" });
  });

  it('unterminated macro', () => {
    const d = only('nop\n%macro twice 1\n  %1\n  %1\n');
    expect(d).toMatchObject({ line: 2, column: 1, message: "unterminated macro 'twice': %endmacro is missing" });
  });

  it('unterminated %if', () => {
    const d = only('%if 1\nnop\n');
    expect(d).toMatchObject({ line: 1, column: 1, message: '%if without %endif' });
  });

  it('missing include', () => {
    const d = only('nop\n%include "nothere.inc"\n');
    expect(d).toMatchObject({ line: 2, column: 10 });
    expect(d.message).toMatch(/^cannot find the include file 'nothere.inc'/);
  });

  it('missing INCBIN file', () => {
    const d = only('incbin "blob.bin"\n');
    expect(d).toMatchObject({ line: 1, column: 8, message: "cannot find the file 'blob.bin' for INCBIN" });
  });

  it('errors inside included files name that file', () => {
    const d = only('%include "lib.inc"\n', { 'lib.inc': 'nop\nbadop\n  xor ax, 1, 2\n' });
    expect(d).toMatchObject({ file: 'lib.inc', line: 3 });
  });

  it('reports every error in the file, in line order, and writes no bytes', () => {
    const ds = diagnose('movv ax, bx\nmov al, bx\njmp nowhere\nok: nop\nok: nop\ndb "x\n');
    expect(ds.map((d) => [d.line, d.severity])).toEqual([
      [1, 'error'], [2, 'error'], [3, 'error'], [5, 'error'], [6, 'error'],
    ]);
  });

  it('formats file:line:column, the source line and a caret', () => {
    const d = only('bits 16\n\tmov ax, [bx+cx]\n');
    expect(formatDiagnostic(d)).toBe(
      "student.asm:2:10: error: invalid effective address: [bx+cx] is not a 16-bit addressing form (use bx or bp, plus si or di)\n\tmov ax, [bx+cx]\n\t        ^",
    );
  });

  it('%error stops with the given message', () => {
    const d = only('%ifndef NEEDED\n%error "NEEDED must be defined"\n%endif\n');
    expect(d).toMatchObject({ line: 2, message: 'NEEDED must be defined' });
  });

  it('a bare word that looks like an instruction is a warning', () => {
    const ds = diagnose('clii\n');
    expect(ds).toEqual([expect.objectContaining({ severity: 'warning', line: 1, column: 1 })]);
    expect(ds[0]!.message).toContain("did you mean the instruction 'cli'?");
  });
});
