/** INT 09h and INT 16h: scan codes from the 8042 to the BDA's ring buffer and out through INT 16h; the RTC through INT 1Ah. */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { HALT, RECORD_MACRO, recorded } from './calls.ts';
import { boot, bootSector } from './harness.ts';

describe('INT 16h', () => {
  it('checks (01h), reads (00h/10h) and pushes (05h) keys, with Shift, Ctrl and extended keys', () => {
    const { machine, outcome } = boot({
      keys: [
        (m) => {
          m.keyboard.typeText('aA\x03');
          m.keyboard.pressKey('Up');
          m.keyboard.pressKey('F1');
        },
      ],
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x01        ; nothing typed yet
  int 0x16
  RECORD 0
  mov di, 0x700
  mov cx, 5
.read:
  xor ah, ah
  int 0x16
  stosw
  mov ah, 0x11        ; the buffer keeps the next key (or is empty after the last)
  int 0x16
  RECORD 1
  loop .read
  mov ah, 0x05        ; push a key as if typed
  mov cx, 0x3920
  int 0x16
  RECORD 2
  mov ah, 0x10
  int 0x16
  RECORD 3
  mov ah, 0x02
  int 0x16
  RECORD 4
${HALT}`),
    });
    expect(outcome.kind).toBe('halted');
    expect(recorded(machine, 0).zf).toBe(true);
    const keys = Array.from({ length: 5 }, (_, i) => machine.phys.read(0x700 + i * 2, 2));
    expect(keys).toEqual([0x1e61, 0x1e41, 0x2e03, 0x4800, 0x3b00]);
    expect(recorded(machine, 1).zf).toBe(true); // after the last key
    expect(recorded(machine, 2).al).toBe(0);
    expect(recorded(machine, 3).ax).toBe(0x3920);
    expect(recorded(machine, 4).al).toBe(0); // no shift key held any more
  });
});

/** Whether the machine has the CMOS/RTC at ports 0x70/0x71 yet (until then its ports read 0xFF). */
function hasRtc(): boolean {
  const m = new Machine({ memoryBytes: 4 << 20 });
  m.io.write(0x70, 1, 0x0b);
  return m.io.read(0x71, 1) !== 0xff;
}

describe('INT 1Ah and the RTC', () => {
  it.skipIf(!hasRtc())('reads the time (02h) and date (04h) in BCD from the CMOS clock, which starts on 2026-01-01 at 00:00:00', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x02
  int 0x1a
  RECORD 0
  mov ah, 0x04
  int 0x1a
  RECORD 1
  mov cx, 37          ; about two seconds of ticks
.sleep:
  hlt
  loop .sleep
  mov ah, 0x02
  int 0x1a
  RECORD 2
${HALT}`),
    });
    expect(recorded(machine, 0)).toMatchObject({ cf: false, ch: 0x00, cl: 0x00, dh: 0x00 });
    expect(recorded(machine, 1)).toMatchObject({ cf: false, ch: 0x20, cl: 0x26, dh: 0x01, dl: 0x01 });
    expect(recorded(machine, 2)).toMatchObject({ cf: false, ch: 0x00, cl: 0x00, dh: 0x02 });
  });
});

describe('typing from the terminal (Machine.typeText)', () => {
  it('a long paste reaches INT 16h whole: the machine types it at a typist\'s pace, not all at once', () => {
    const text = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.';
    const run = boot({
      floppy: bootSector(`
        xor ax, ax
        mov es, ax
        mov di, 0x600
        mov cx, ${text.length}
      .next:
        xor ah, ah
        int 0x16        ; wait for a key
        stosb
        loop .next
        cli
        hlt`),
      prepare: (m) => m.typeText(text),
    });
    expect(run.outcome.kind).toBe('halted');
    expect(String.fromCharCode(...run.machine.phys.dump(0x600, text.length))).toBe(text);
  });
});
