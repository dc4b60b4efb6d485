/** Booting: the boot sector's entry state, "no bootable disk" and why, INT 18h/19h, and entering a Multiboot kernel. */
import { describe, expect, it } from 'vitest';
import { assembleOrThrow } from '../helpers/run-asm.ts';
import { MULTIBOOT_INFO_ADDRESS } from '../../src/machine/multiboot.ts';
import { HALT, RECORD_MACRO, recorded } from './calls.ts';
import { BANNER, boot, bootSector } from './harness.ts';

const NO_BOOT = 'minivisor BIOS: no bootable disk (';

describe('boot', () => {
  it('enters the boot sector at 0000:7C00 with DL = the drive and interrupts enabled', () => {
    const sector = bootSector(`
  pushf
  pop word [0x600]
  mov [0x602], dl
  mov [0x604], cs
  call .here
.here:
  pop word [0x606]
  mov word [0x608], .here
${HALT}`);
    for (const [drive, options] of [[0x00, { floppy: sector }], [0x80, { hardDisk: sector }]] as const) {
      const { machine, outcome, text } = boot(options);
      expect(outcome.kind).toBe('halted');
      expect(text).toBe(BANNER);
      expect(machine.phys.read(0x600, 2) & 0x200).toBe(0x200); // IF
      expect(machine.phys.read8(0x602)).toBe(drive);
      expect(machine.phys.read(0x604, 2)).toBe(0);
      expect(machine.phys.read(0x606, 2)).toBe(machine.phys.read(0x608, 2)); // IP ran from 7C00h on
    }
  });

  it('says there is no bootable disk when the boot sector has no 55AA signature', () => {
    const { outcome, text } = boot({ floppy: new Uint8Array(512).fill(0x90) });
    // The BIOS tells the machine why (port 0x512), and the run ends there.
    expect(outcome).toEqual({ kind: 'no-boot', detail: 'no 55AA signature in the boot sector' });
    expect(text).toBe(`${BANNER}${NO_BOOT}no 55AA signature in the boot sector, drive 00h)\n`);
  });

  it('checks the signature of a hard disk too', () => {
    const { text } = boot({ hardDisk: new Uint8Array(4096) });
    expect(text).toBe(`${BANNER}${NO_BOOT}no 55AA signature in the boot sector, drive 80h)\n`);
  });

  it('says there is no bootable disk when the machine has no disk at all', () => {
    const { machine, outcome, text } = boot({});
    expect(outcome).toEqual({ kind: 'no-boot', detail: 'the machine has no boot drive' });
    expect(text).toBe(`${BANNER}${NO_BOOT}the machine has no boot drive)\n`);
    expect(machine.vga.lines()[1].trimEnd()).toBe(`${NO_BOOT}the machine has no boot drive)`);
  });

  it('says so when the configured boot drive is not there', () => {
    const { text } = boot({ floppy: bootSector(HALT), bootDrive: 0x81 });
    expect(text).toBe(`${BANNER}${NO_BOOT}the boot drive is not there, drive 81h)\n`);
  });

  it('INT 18h from a boot sector that gives up, and INT 19h boots again', () => {
    let { text } = boot({ floppy: bootSector('  int 0x18') });
    expect(text).toBe(`${BANNER}${NO_BOOT}the boot sector gave up: INT 18h)\n`);
    // A boot sector that counts its boots in memory and reboots once through INT 19h.
    ({ text } = boot({
      floppy: bootSector(`
  xor ax, ax
  mov ds, ax
  inc byte [0x600]
  mov al, [0x600]
  add al, '0'
  mov ah, 0x0e
  int 0x10
  cmp byte [0x600], 2
  je .done
  int 0x19
.done:
${HALT}`),
    }));
    expect(text).toBe(`${BANNER}12`);
  });
});

describe('Multiboot', () => {
  // A kernel with the a.out kludge (flag 16): loaded at 1 MiB, it checks its entry state and reports on COM1.
  const kernel = assembleOrThrow(`
bits 32
org 0x100000
header:
  dd 0x1badb002
  dd 0x00010000
  dd -(0x1badb002 + 0x00010000)
  dd header, header, end, end, entry
entry:
  mov [state + 0], eax
  mov [state + 4], ebx
  mov [state + 8], cs
  mov [state + 12], ds
  mov [state + 16], ss
  pushfd
  pop dword [state + 20]
  mov eax, cr0
  mov [state + 24], eax
  mov esi, message
.next:
  lodsb
  test al, al
  jz .done
  mov dx, 0x3f8
  out dx, al
  jmp .next
.done:
  cli
  hlt
message: db 'kernel: entered', 13, 10, 0
state: times 8 dd 0
end:
`);

  it('enters a Multiboot kernel in flat 32-bit protected mode with EAX = 2BADB002h and EBX = the information structure', () => {
    const { machine, outcome, text } = boot({ prepare: (m) => m.loadMultiboot(kernel, 'kernel.bin') });
    expect(outcome.kind).toBe('halted');
    expect(text).toBe(`${BANNER}kernel: entered\n`);
    const state = kernel.length - 32 + 0x100000;
    const d = (i: number) => machine.phys.read(state + i * 4, 4) >>> 0;
    expect(d(0)).toBe(0x2badb002);
    expect(d(1)).toBe(MULTIBOOT_INFO_ADDRESS);
    expect(d(2) & 0xffff).toBe(0x08);
    expect(d(3) & 0xffff).toBe(0x10);
    expect(d(4) & 0xffff).toBe(0x10);
    expect(d(5) & 0x200).toBe(0); // interrupts off
    expect(d(6) & 0x80000001).toBe(1); // protected mode, no paging
    expect(machine.cpu.a20Enabled).toBe(true);
  });
});

describe('INT 1Ah', () => {
  it('counts ticks with virtual time, 18.2 a second, and can set the count', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x01
  mov cx, 0x0012
  mov dx, 0x0000      ; 00120000h ticks
  int 0x1a
  xor ah, ah
  int 0x1a
  RECORD 0
  mov cx, 91          ; sleep through 91 timer interrupts: 5 seconds
.sleep:
  hlt
  loop .sleep
  xor ah, ah
  int 0x1a
  RECORD 1
${HALT}`),
      maxInstructions: 1_000_000_000,
    });
    expect(recorded(machine, 0)).toMatchObject({ cf: false, cx: 0x0012, dx: 0x0000, al: 0 });
    const r = recorded(machine, 1);
    expect(r.cx * 65536 + r.dx).toBe(0x120000 + 91);
    // 91 ticks of 65536 / 1193182 s: 4.998 virtual seconds.
    expect(machine.clock.nowNs() / 1e9).toBeGreaterThan(4.99);
    expect(machine.clock.nowNs() / 1e9).toBeLessThan(5.1);
  });

  it('rolls over at midnight (1800B0h ticks) and reports it once', () => {
    const { machine } = boot({
      floppy: bootSector(`${RECORD_MACRO}
  mov ah, 0x01
  mov cx, 0x0018
  mov dx, 0x00af      ; one tick before midnight
  int 0x1a
  hlt
  hlt
  xor ah, ah
  int 0x1a
  RECORD 0
  xor ah, ah
  int 0x1a
  RECORD 1
${HALT}`),
    });
    expect(recorded(machine, 0)).toMatchObject({ cx: 0, dx: 1, al: 1 });
    expect(recorded(machine, 1)).toMatchObject({ cx: 0, dx: 1, al: 0 });
  });
});
