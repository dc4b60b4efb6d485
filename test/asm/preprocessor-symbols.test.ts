/**
 * Preprocessor expressions (%assign, %if, %rep) that use assembler symbols and register names,
 * as nasm 2.16 allows because it preprocesses and assembles line by line. The expected bytes and
 * refusals are what nasm 2.16.01 did with the same sources.
 */
import { describe, expect, it } from 'vitest';
import { type Diagnostic, assemble } from '../../src/asm/index.ts';

function bytes(source: string): number[] {
  const result = assemble(source, { fileName: 'pp.asm' });
  expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column}: ${d.message}`)).toEqual([]);
  return [...result.bytes];
}

function onlyError(source: string): Diagnostic {
  const result = assemble(source, { fileName: 'pp.asm' });
  expect(result.ok).toBe(false);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  expect(errors.map((d) => d.message)).toHaveLength(1);
  return errors[0]!;
}

describe('EQU constants and labels in preprocessor expressions', () => {
  it('%assign and %if use an EQU constant defined above (test386.asm)', () => {
    const source = 'TEST_BASE equ 0x20000\n%assign B1 TEST_BASE+0x40000\ndd B1\n%if TEST_BASE = 0x20000\ndb 1\n%else\ndb 2\n%endif\n';
    expect(bytes(source)).toEqual([0x00, 0x00, 0x06, 0x00, 0x01]);
  });

  it('%rep counts with an EQU constant', () => {
    expect(bytes('N equ 3\n%rep N\nnop\n%endrep\n')).toEqual([0x90, 0x90, 0x90]);
  });

  it('the EQU above may use symbols defined below: the final value is used', () => {
    expect(bytes('X equ Y+1\n%assign A X\ndd A\nY equ 2\n')).toEqual([3, 0, 0, 0]);
    expect(bytes('X equ Y\n%if X = 2\ndb 1\n%else\ndb 2, 2\n%endif\nY equ 2\n')).toEqual([1]);
    expect(bytes('X equ fin-start\n%assign A X\ndd A\nstart: nop\nfin:\n')).toEqual([1, 0, 0, 0, 0x90]);
  });

  it('an %assign that an EQU uses, used again by an %assign', () => {
    expect(bytes('%assign STEP 4\nSTRIDE equ STEP*2\n%assign DOUBLE STRIDE*2\ndb DOUBLE\n')).toEqual([16]);
  });

  it('the difference of two labels above is a number; a label equals only itself', () => {
    expect(bytes('start: nop\nnop\nfin:\n%assign A fin-start\ndd A\n')).toEqual([0x90, 0x90, 2, 0, 0, 0]);
    expect(bytes('lab: nop\n%if lab = 5\ndb 1\n%else\ndb 2\n%endif\n%if lab = lab\ndb 3\n%endif\n%if lab <> 0\ndb 4\n%endif\n')).toEqual([0x90, 2, 3, 4]);
  });

  it('a `.local` EQU is found in the scope of the line that uses it', () => {
    expect(bytes('glob:\n.loc equ 7\n%assign A .loc\n%assign B glob.loc\ndb A, B\n')).toEqual([7, 7]);
  });

  it('STRUC fields and ABSOLUTE labels are numbers', () => {
    expect(bytes('struc pt\n.x: resw 1\n.y: resw 1\nendstruc\n%assign A pt.y + pt_size\ndd A\n')).toEqual([6, 0, 0, 0]);
    expect(bytes('absolute 0x400\na: resb 4\nb: resw 1\nsection .text\n%assign A b\ndd A\n')).toEqual([4, 4, 0, 0]);
  });

  it('works inside macros, with a symbol passed as the argument', () => {
    expect(bytes('Y equ 3\n%macro m 1\n%assign Q %1+1\ndd Q\n%endmacro\nm Y\n')).toEqual([4, 0, 0, 0]);
  });

  it('a %define of the same name is expanded first', () => {
    expect(bytes('X equ 5\n%define X 7\n%assign A X\ndd A\n')).toEqual([7, 0, 0, 0]);
  });
});

describe('registers in preprocessor conditions', () => {
  const macro = '%macro m 1\n%if %1 = cs\ndb 1\n%else\ndb 2\n%endif\n%endmacro\n';

  it('`%if %1 = cs` is true only when the macro is given cs (test386.asm)', () => {
    expect(bytes(`${macro}m ss\nm cs\nm ds\nm CS\n`)).toEqual([2, 1, 2, 1]);
  });

  it('a register equals only itself: not another register, another size, or a number', () => {
    const source = [
      '%if eax = eax', 'db 1', '%endif',
      '%if eax = ebx', 'db 0xee', '%endif',
      '%if eax <> ebx', 'db 2', '%endif',
      '%if ax = eax', 'db 0xee', '%endif',
      '%if eax = 1', 'db 0xee', '%endif',
      '%if !(ss = cs)', 'db 3', '%endif',
      '%if (eax = ebx) + 1 = 1', 'db 4', '%endif',
    ].join('\n');
    expect(bytes(`${source}\n`)).toEqual([1, 2, 3, 4]);
  });

  it('registers add, subtract and scale the way nasm cancels them', () => {
    expect(bytes('%if eax+1 = eax+1 && 2*ecx = ecx+ecx && -eax = 0-eax\ndb 1\n%endif\n%if 2*eax = eax\ndb 0xee\n%endif\n%assign Z eax-eax\ndb Z\n%if eax*0\ndb 0xee\n%endif\n')).toEqual([1, 0]);
  });
});

describe('label equality in the assembler (the same evaluator)', () => {
  it('a label is never equal to a plain number, even at that address (as in nasm)', () => {
    expect(bytes('org 0x100\nlab: db (lab = 0x100), (lab <> 0x100), (lab-$$ = 0)\n')).toEqual([0, 1, 1]);
  });
});

describe('what nasm refuses is refused, with the place and a way out', () => {
  it('a symbol defined only below the line', () => {
    const d = onlyError('%assign B1 LATER+1\nLATER equ 5\n');
    expect(d).toMatchObject({ file: 'pp.asm', line: 1, column: 12 });
    expect(d.message).toBe("symbol 'LATER' is not defined before this line: %assign can only use %define'd names, and EQU constants and labels defined above it");
    expect(onlyError('%if LATER\ndb 1\n%endif\nLATER equ 5\n')).toMatchObject({ line: 1, column: 5 });
    expect(onlyError('start: nop\n%assign A fin-start\nfin:\n')).toMatchObject({ line: 2, column: 11 });
  });

  it('a symbol defined nowhere', () => {
    expect(onlyError('%assign A UNDEF_SYM+1\n').message).toMatch(/^symbol 'UNDEF_SYM' is not defined before this line/);
  });

  it('a label, or an EQU of one, is not a number', () => {
    const d = onlyError('org 0x100\nlab: nop\nX equ lab\n%assign A X\n');
    expect(d).toMatchObject({ line: 4, column: 11 });
    expect(d.message).toBe("%assign needs a number, but this value is a label's address (the difference of two labels is a number)");
    expect(onlyError('lab: nop\n%if lab\n%endif\n').message).toMatch(/^%if needs a number/);
  });

  it('$ and $$ are refused here (nasm would take $-$$)', () => {
    const d = onlyError('nop\n%assign A $-$$\n');
    expect(d).toMatchObject({ line: 2, column: 11 });
    expect(d.message).toBe("'$' cannot be used in %assign by this assembler: put a label on a line and use the difference of two labels instead");
  });

  it('a register on its own is not a number', () => {
    const d = onlyError('%assign A eax\n');
    expect(d).toMatchObject({ line: 1, column: 11 });
    expect(d.message).toBe('%assign needs a number, but this value contains the register eax (registers can only be compared, as in `%if %1 = cs`)');
    expect(onlyError('%if eax\n%endif\n').message).toMatch(/^%if needs a number, but this value contains the register eax/);
  });

  it('registers cannot be ordered, or used with other operators', () => {
    const lt = onlyError('%if eax < ebx\n%endif\n');
    expect(lt).toMatchObject({ line: 1, column: 9 });
    expect(lt.message).toBe("'<' cannot order values that differ by the register eax-ebx: registers can only be compared with = or <>");
    expect(onlyError('%if eax | 1\n%endif\n').message).toMatch(/^'\|' cannot be applied to the register eax/);
    expect(onlyError('%if ~eax\n%endif\n').message).toMatch(/^'~' cannot be applied to the register eax/);
    expect(onlyError('%if eax * ebx\n%endif\n').message).toBe("'*' cannot multiply two registers (eax and ebx)");
    expect(onlyError('%if eax ? 1 : 2\n%endif\n').message).toMatch(/^the condition before '\?' must be a number/);
  });

  it('a label cannot be ordered against a number (in %if and in the assembler)', () => {
    expect(onlyError('lab: nop\n%if lab < 5\n%endif\n')).toMatchObject({ line: 2, column: 9 });
    expect(onlyError('org 0x100\nlab: db lab < 0x200\n').message).toMatch(/^'<' cannot order values that differ by a label's address/);
  });

  it('in a macro, the error is at the call', () => {
    const d = onlyError('%macro m 1\n%assign Q %1\n%endmacro\nnop\nm eax\n');
    expect(d).toMatchObject({ line: 5, column: 1 });
    expect(d.message).toMatch(/^%assign needs a number/);
  });

  it('a condition that changes the symbol it tests has no consistent value (nasm gives up too)', () => {
    const d = onlyError('X equ Y\n%if X = 0\nY equ 1\n%else\nY equ 0\n%endif\ndb X\n');
    expect(d).toMatchObject({ line: 2, column: 5 });
    expect(d.message).toMatch(/^'X' has no consistent value/);
    // The consistent variant is fine.
    expect(bytes('X equ Y\n%if X = 0\nY equ 0\n%else\nY equ 1\n%endif\ndb X\n')).toEqual([0]);
  });
});
