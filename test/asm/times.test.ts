/**
 * TIMES repeats a line: data that does not read $ is made once and copied (a floppy image's
 * padding is over a million bytes), the rest is assembled each time. Both give nasm's bytes.
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
