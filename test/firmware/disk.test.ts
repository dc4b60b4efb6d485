/** INT 13h: CHS and extended reads and writes, drive parameters, status, errors. */
import { describe, expect, it } from 'vitest';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { HALT, RECORD_MACRO, recorded } from './calls.ts';
import { boot, bootSector } from './harness.ts';

/** A 1.44 MB floppy whose sector n (n > 0) starts with the dword 0x5A000000 + n; sector 0 is `boot`. */
function markedFloppy(boot: Uint8Array, size = 1_474_560): Uint8Array {
  const image = new Uint8Array(size);
  const view = new DataView(image.buffer);
  for (let n = 1; n < size / 512; n++) view.setUint32(n * 512, 0x5a000000 + n, true);
  image.set(boot);
  return image;
}

describe('INT 13h on a floppy', () => {
  it('reads sectors by cylinder, head and sector (AH=02h)', () => {
    // Cylinder 1, head 1, sector 3 of an 80x2x18 floppy is LBA (1*2+1)*18+2 = 56.
    const run = boot({
      floppy: markedFloppy(bootSector(`${RECORD_MACRO}
  mov ax, 0x1000
  mov es, ax
  xor bx, bx
  mov ax, 0x0202
  mov cx, 0x0103
  mov dx, 0x0100
  int 0x13
  RECORD 0
${HALT}`)),
    });
    expect(run.outcome.kind).toBe('halted');
    const r = recorded(run.machine, 0);
    expect(r.cf).toBe(false);
    expect(r.ah).toBe(0);
    expect(r.al).toBe(2);
    expect(run.machine.phys.read(0x10000, 4) >>> 0).toBe(0x5a000000 + 56);
    expect(run.machine.phys.read(0x10200, 4) >>> 0).toBe(0x5a000000 + 57);
    expect(run.machine.phys.read8(0x441)).toBe(0);
  });

  it('reports sector not found past the geometry, remembers it for AH=01h, and refuses a drive that is not there', () => {
    const run = boot({
      floppy: markedFloppy(bootSector(`${RECORD_MACRO}
  mov bx, 0x8000
  mov ax, 0x0201
  mov cx, 0x0013     ; sector 19 of 18
  mov dx, 0x0000
  int 0x13
  RECORD 0
  mov ah, 0x01
  mov dl, 0
  int 0x13
  RECORD 1
  mov ax, 0x0201
  mov cx, 0x0001
  mov dx, 0x0081     ; no second hard disk
  mov bx, 0x8000
  int 0x13
  RECORD 2
  mov ah, 0x00       ; reset clears the status
  mov dl, 0
  int 0x13
  RECORD 3
${HALT}`)),
    });
    expect(recorded(run.machine, 0)).toMatchObject({ cf: true, ah: 0x04, al: 0 });
    expect(recorded(run.machine, 1)).toMatchObject({ cf: true, ah: 0x04 });
    expect(recorded(run.machine, 2)).toMatchObject({ cf: true, ah: 0x01 });
    expect(recorded(run.machine, 3)).toMatchObject({ cf: false, ah: 0 });
    expect(run.machine.phys.read8(0x441)).toBe(0);
    expect(run.machine.phys.read8(0x474)).toBe(0x01);
  });

  it('writes (AH=03h) and verifies (AH=04h) sectors by CHS', () => {
    const run = boot({
      floppy: markedFloppy(bootSector(`${RECORD_MACRO}
  mov di, 0x8000
  mov cx, 1024
  mov al, 0x77
  rep stosb
  mov bx, 0x8000
  mov ax, 0x0302      ; write 2 sectors
  mov cx, 0x0201      ; cylinder 2, sector 1
  mov dx, 0x0000      ; head 0, drive 0
  int 0x13
  RECORD 0
  mov ax, 0x0403      ; verify 3 sectors there
  mov cx, 0x0201
  int 0x13
  RECORD 1
  mov ax, 0x0401      ; verify past the last cylinder
  mov cx, 0x5001
  int 0x13
  RECORD 2
${HALT}`)),
    });
    expect(recorded(run.machine, 0)).toMatchObject({ cf: false, ah: 0, al: 2 });
    const disk = run.machine.disks.get(0)!;
    const lba = 2 * 2 * 18;
    expect([disk.bytes[lba * 512], disk.bytes[lba * 512 + 1023], disk.bytes[(lba + 2) * 512]]).toEqual([0x77, 0x77, lba + 2]);
    expect(recorded(run.machine, 1)).toMatchObject({ cf: false, ah: 0, al: 3 });
    expect(recorded(run.machine, 2)).toMatchObject({ cf: true, ah: 0x04 });
  });

  it('gives the drive parameters (AH=08h) with the CMOS type and the diskette parameter table, and the type (AH=15h)', () => {
    const run = boot({
      floppy: markedFloppy(bootSector(`${RECORD_MACRO}
  mov ah, 0x08
  mov dl, 0
  int 0x13
  RECORD 0
  mov al, [es:di+4]
  mov [0x700], al
  mov ah, 0x15
  mov dl, 0
  int 0x13
  RECORD 1
${HALT}`)),
    });
    const r = recorded(run.machine, 0);
    expect(r).toMatchObject({ cf: false, ah: 0, bl: 4, ch: 79, cl: 18, dh: 1, dl: 1, es: 0xf000 });
    expect(run.machine.phys.read8(0x700)).toBe(18); // the table's sectors per track
    expect(run.machine.phys.read(0x1e * 4 + 2, 2)).toBe(0xf000); // INT 1Eh points at the same table
    expect(run.machine.phys.read(0x1e * 4, 2)).toBe(r.di);
    expect(recorded(run.machine, 1)).toMatchObject({ cf: false, ah: 0x01 });
  });

  it('reads and writes by LBA with a disk address packet (AH=41h, 42h, 43h), and describes the drive (AH=48h)', () => {
    const image = markedFloppy(bootSector(`${RECORD_MACRO}
  mov ah, 0x41
  mov bx, 0x55aa
  mov dl, 0
  int 0x13
  RECORD 0
  mov si, packet
  mov ah, 0x42
  mov dl, 0
  int 0x13
  RECORD 1
  mov byte [0x9000], 0xc3
  mov si, write_packet
  mov ah, 0x43
  mov dl, 0
  int 0x13
  RECORD 2
  mov word [0x800], 0x1e
  mov si, 0x800
  mov ah, 0x48
  mov dl, 0
  int 0x13
  RECORD 3
  mov si, bad_packet
  mov ah, 0x42
  mov dl, 0
  int 0x13
  RECORD 4
  mov ax, [bad_packet + 2]
  mov [0x7f0], ax
${HALT}
packet:       db 0x10, 0
              dw 3, 0x0000, 0x2000
              dq 2000
write_packet: db 0x10, 0
              dw 1, 0x9000, 0x0000
              dq 7
bad_packet:   db 0x10, 0
              dw 2, 0x9000, 0x0000
              dq 2879`));
    const run = boot({ floppy: image });
    expect(recorded(run.machine, 0)).toMatchObject({ cf: false, ah: 0x30, bx: 0xaa55 });
    expect(recorded(run.machine, 0).cx & 1).toBe(1);
    expect(recorded(run.machine, 1)).toMatchObject({ cf: false, ah: 0 });
    for (let i = 0; i < 3; i++) expect(run.machine.phys.read(0x20000 + i * 512, 4) >>> 0).toBe(0x5a000000 + 2000 + i);
    expect(recorded(run.machine, 2)).toMatchObject({ cf: false, ah: 0 });
    const disk = run.machine.disks.get(0)!;
    expect(disk.bytes[7 * 512]).toBe(0xc3);
    expect(recorded(run.machine, 3)).toMatchObject({ cf: false, ah: 0 });
    const p = (o: number, n: 2 | 4 = 4) => run.machine.phys.read(0x800 + o, n) >>> 0;
    expect([p(0, 2), p(4), p(8), p(12), p(16), p(24, 2), p(26)]).toEqual([0x1e, 80, 2, 18, 2880, 512, 0xffffffff]);
    expect(recorded(run.machine, 4)).toMatchObject({ cf: true, ah: 0x04 });
    expect(run.machine.phys.read(0x7f0, 2)).toBe(0); // the packet says nothing was transferred
  });
});

describe('INT 13h on a hard disk', () => {
  it('counts the hard disks at 0x475, gives CHS parameters, and reads with a 10-bit cylinder', () => {
    // 257 cylinders of 16 heads and 63 sectors: cylinder 256 needs CL's two high bits.
    const sectors = 257 * 16 * 63;
    const bytes = new Uint8Array(sectors * 512);
    const lba = (256 * 16 + 3) * 63 + 4; // cylinder 256, head 3, sector 5
    new DataView(bytes.buffer).setUint32(lba * 512, 0xfeedf00d, true);
    bytes.set(bootSector(`${RECORD_MACRO}
  mov ah, 0x08
  mov dl, 0x80
  int 0x13
  RECORD 0
  xor ax, ax
  mov es, ax
  mov bx, 0x8000
  mov ax, 0x0201
  mov ch, 0x00       ; cylinder 256: low 8 bits 00h...
  mov cl, 0x45       ; ...high 2 bits 01b in CL bits 6-7, sector 5
  mov dh, 3
  mov dl, 0x80
  int 0x13
  RECORD 1
  mov ah, 0x15
  mov dl, 0x80
  int 0x13
  RECORD 2
${HALT}`));
    const run = boot({ disks: new Map([[0x80, DiskImage.from(bytes, 'hard-disk', 'big.img')]]) });
    expect(run.machine.phys.read8(0x475)).toBe(1);
    const r = recorded(run.machine, 0);
    expect(r).toMatchObject({ cf: false, ah: 0, dh: 15, dl: 1 });
    expect(r.ch | ((r.cl & 0xc0) << 2)).toBe(256); // the last cylinder
    expect(r.cl & 0x3f).toBe(63);
    expect(recorded(run.machine, 1)).toMatchObject({ cf: false, ah: 0, al: 1 });
    expect(run.machine.phys.read(0x8000, 4) >>> 0).toBe(0xfeedf00d);
    const t = recorded(run.machine, 2);
    expect(t).toMatchObject({ cf: false, ah: 0x03 });
    expect(t.cx * 65536 + t.dx).toBe(sectors);
  });
});
