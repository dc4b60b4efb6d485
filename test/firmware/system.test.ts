/** INT 15h (E820, E801, 88h, A20, C0h), INT 11h and INT 12h against the machine's configuration. */
import { describe, expect, it } from 'vitest';
import { HALT, RECORD_MACRO, recorded } from './calls.ts';
import { boot, bootSector, type BootOptions } from './harness.ts';

/** A guest that copies the whole E820 map (24-byte entries) to 0x1000 and its count to 0x0FFC. */
const E820_DUMP = bootSector(`${RECORD_MACRO}
  xor ebx, ebx
  mov di, 0x1000
  xor bp, bp
.next:
  mov eax, 0xe820
  mov edx, 0x534d4150
  mov ecx, 24
  mov dword [es:di+20], 0
  int 0x15
  jc .done
  cmp eax, 0x534d4150
  jne .done
  cmp ecx, 24
  jne .done
  inc bp
  add di, 24
  test ebx, ebx
  jnz .next
.done:
  mov [0x0ffc], bp
${HALT}`);

function e820Of(options: Parameters<typeof boot>[0]) {
  const run = boot({ floppy: E820_DUMP, ...options });
  expect(run.outcome.kind).toBe('halted');
  const m = run.machine;
  const count = m.phys.read(0x0ffc, 2);
  const entries = Array.from({ length: count }, (_, i) => {
    const at = 0x1000 + i * 24;
    const u64 = (o: number) => (m.phys.read(at + o, 4) >>> 0) + (m.phys.read(at + o + 4, 4) >>> 0) * 2 ** 32;
    return { base: u64(0), length: u64(8), type: m.phys.read(at + 16, 4), attributes: m.phys.read(at + 20, 4) };
  });
  return { run, entries };
}

describe('INT 15h E820', () => {
  const configurations: [string, BootOptions][] = [
    ['16 MiB', { memoryBytes: 16 << 20 }],
    ['64 MiB', { memoryBytes: 64 << 20 }],
    ['64 MiB with a reserved range', { memoryBytes: 64 << 20, reserved: [{ base: 0x800000, length: 0x100000 }] }],
  ];
  for (const [name, options] of configurations) {
    it(`reports the machine's configured map (${name})`, () => {
      const { run, entries } = e820Of(options);
      expect(entries).toEqual(run.machine.e820.map((e) => ({ ...e, attributes: 1 })));
    });
  }

  it('writes 20 bytes for a 20-byte buffer, and fails past the end or without the SMAP signature', () => {
    const run = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov dword [0x900 + 20], 0xdeadbeef
  mov eax, 0xe820
  mov edx, 0x534d4150
  mov ecx, 20
  xor ebx, ebx
  mov di, 0x900
  int 0x15
  RECORD 0
  mov [0x8f0], ebx
  mov [0x8f4], eax
  mov eax, 0xe820
  mov edx, 0x534d4150
  mov ecx, 24
  mov ebx, 99
  mov di, 0x900
  int 0x15
  RECORD 1
  mov eax, 0xe820
  mov edx, 0x12345678
  mov ecx, 24
  xor ebx, ebx
  int 0x15
  RECORD 2
${HALT}`),
    });
    const m = run.machine;
    expect(recorded(m, 0)).toMatchObject({ cf: false, cx: 20 });
    expect(m.phys.read(0x8f0, 4)).toBe(1); // the next entry
    expect(m.phys.read(0x8f4, 4) >>> 0).toBe(0x534d4150);
    expect(m.phys.read(0x900 + 8, 4)).toBe(0x9fc00);
    expect(m.phys.read(0x900 + 20, 4) >>> 0).toBe(0xdeadbeef); // untouched
    expect(recorded(m, 1).cf).toBe(true);
    expect(recorded(m, 2).cf).toBe(true);
  });
});

describe('INT 15h memory sizes, INT 11h, INT 12h', () => {
  const program = bootSector(`${RECORD_MACRO}
  mov ax, 0xe801
  int 0x15
  RECORD 0
  mov ah, 0x88
  int 0x15
  RECORD 1
  int 0x12
  RECORD 2
  int 0x11
  RECORD 3
  mov ah, 0xc0
  int 0x15
  RECORD 4
  mov ah, 0x77
  int 0x15
  RECORD 5
${HALT}`);

  it('E801h and 88h on a 64 MiB machine', () => {
    const m = boot({ floppy: program, memoryBytes: 64 << 20 }).machine;
    expect(recorded(m, 0)).toMatchObject({ cf: false, ax: 15 * 1024, cx: 15 * 1024, bx: (48 << 20) / 65536, dx: (48 << 20) / 65536 });
    expect(recorded(m, 1)).toMatchObject({ cf: false, ax: 63 * 1024 });
    expect(recorded(m, 2).ax).toBe(639);
    expect(recorded(m, 3).ax).toBe(0x0221); // one floppy, 80x25 colour, one serial port
    const c = recorded(m, 4);
    expect(c).toMatchObject({ cf: false, ah: 0, es: 0xf000 });
    expect(m.phys.read(0xf0000 + c.bx + 2, 1)).toBe(0xfc);
    expect(recorded(m, 5)).toMatchObject({ cf: true, ah: 0x86 });
  });

  it('E801h and 88h on an 8 MiB machine, and up to a reserved range', () => {
    let m = boot({ floppy: program, memoryBytes: 8 << 20 }).machine;
    expect(recorded(m, 0)).toMatchObject({ ax: 7 * 1024, cx: 7 * 1024, bx: 0, dx: 0 });
    expect(recorded(m, 1).ax).toBe(7 * 1024);
    m = boot({ floppy: program, memoryBytes: 64 << 20, reserved: [{ base: 0x800000, length: 0x100000 }] }).machine;
    expect(recorded(m, 0)).toMatchObject({ ax: 7 * 1024, bx: 0 });
    expect(recorded(m, 1).ax).toBe(7 * 1024);
  });

  it('88h is capped at FFFFh KiB', () => {
    const m = boot({ floppy: program, memoryBytes: 128 << 20 }).machine;
    expect(recorded(m, 1).ax).toBe(0xffff);
    expect(recorded(m, 0).bx).toBe((112 << 20) / 65536);
  });
});

describe('INT 15h A20', () => {
  it('turns the gate on and off through port 92h and reports it by the wraparound', () => {
    const run = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ax, 0x2403
  int 0x15
  RECORD 0
  mov ax, 0x2401
  int 0x15
  RECORD 1
  mov ax, 0x2402
  int 0x15
  RECORD 2
  mov ax, 0x2400
  int 0x15
  RECORD 3
  mov ax, 0x2402
  int 0x15
  RECORD 4
  mov ax, 0x2401
  int 0x15
  mov ax, 0x2402
  int 0x15
  RECORD 5
${HALT}`),
    });
    const m = run.machine;
    expect(recorded(m, 0)).toMatchObject({ cf: false, ah: 0, bx: 0x0002 });
    expect(recorded(m, 1)).toMatchObject({ cf: false, ah: 0 });
    expect(recorded(m, 2)).toMatchObject({ cf: false, ah: 0, al: 1 });
    expect(recorded(m, 3)).toMatchObject({ cf: false, ah: 0 });
    expect(recorded(m, 4)).toMatchObject({ cf: false, ah: 0, al: 0 });
    expect(recorded(m, 5)).toMatchObject({ cf: false, al: 1 });
    expect(m.cpu.a20Enabled).toBe(true);
  });
});
