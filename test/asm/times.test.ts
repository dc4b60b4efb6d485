/**
 * TIMES repeats a line: data is made once and copied (a floppy image's padding is over a
 * million bytes), instructions are assembled each time. $ and labels keep their values across
 * the repeats of a line, as in nasm; a relative jump's encoding changes, since it moves.
 */
import { expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.ts';

it('TIMES over data, with and without $, a later label and strings, gives what nasm 2.16 gives', () => {
  const result = assemble(
    ['org 0x100', 'start:', '  times 3 dw $', '  times 4 db 1, 2', '  times 2 dd later', "  times 3 db 'ab'", '  times 2 dw $$ + 1', 'later:', '  times 2 db later - start', '  times 1440*1024 - ($ - $$) db 0xf6'].join('\n'),
    { fileName: 'times.asm' },
  );
  expect(result.diagnostics).toEqual([]);
  // nasm -f bin of the same lines (the last one pads to a floppy's size with F6, as a formatter does).
  const nasm = [
    0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x01, 0x02, 0x01, 0x02, 0x01, 0x02, 0x01, 0x02, 0x20, 0x01, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00,
    0x61, 0x62, 0x61, 0x62, 0x61, 0x62, 0x01, 0x01, 0x01, 0x01, 0x20, 0x20,
  ];
  expect(Array.from(result.bytes.subarray(0, nasm.length))).toEqual(nasm);
  expect(result.bytes.length).toBe(1440 * 1024);
  expect(result.bytes.subarray(nasm.length).every((b) => b === 0xf6)).toBe(true);
});

it('every repeat of a line sees the same $ and the same later label; each repeated jump is encoded from where it is', () => {
  const result = assemble(
    ['org 0x100', '  times 2 dd later', '  times 2 dd later - $', '  times 2 mov ax, later', '  times 3 jmp later', '  times 2 dw $, later', 'later:', '  nop'].join('\n'),
    { fileName: 'times-later.asm' },
  );
  expect(result.diagnostics).toEqual([]);
  // nasm -f bin of the same lines.
  const nasm = [
    0x24, 0x01, 0x00, 0x00, 0x24, 0x01, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0xb8, 0x24, 0x01, 0xb8, 0x24, 0x01,
    0xeb, 0x0c, 0xeb, 0x0a, 0xeb, 0x08, 0x1c, 0x01, 0x24, 0x01, 0x1c, 0x01, 0x24, 0x01, 0x90,
  ];
  expect(Array.from(result.bytes)).toEqual(nasm);
});
