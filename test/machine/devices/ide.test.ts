/**
 * The IDE channel and its ATA drives: first the device as a driver sees it through its ports,
 * then guests that boot through the BIOS and drive the disks themselves (polling, as a boot
 * loader does, and with IRQ 14, as a kernel does) in every mode.
 */
import { describe, expect, it } from 'vitest';
import { DiskImage, SECTOR_BYTES } from '../../../src/machine/disk-image.ts';
import { IdeChannel } from '../../../src/machine/devices/ide-channel.ts';
import { ataGeometry } from '../../../src/machine/devices/ata-drive.ts';
import { assembleOrThrow } from '../../helpers/run-asm.ts';
import { boot, bootSector } from '../../firmware/harness.ts';

const BSY = 0x80, DRDY = 0x40, DSC = 0x10, DRQ = 0x08, ERR = 0x01;
const ABRT = 0x04, IDNF = 0x10;

/** A disk of `sectors` sectors whose sector n starts with the text "sector n". */
function labelledDisk(sectors: number): DiskImage {
  const bytes = new Uint8Array(sectors * SECTOR_BYTES);
  for (let n = 0; n < sectors; n++) {
    const label = `sector ${n}`;
    for (let i = 0; i < label.length; i++) bytes[n * SECTOR_BYTES + i] = label.charCodeAt(i);
  }
  return DiskImage.from(bytes, 'hard-disk', `disk${sectors}.img`);
}

/** A channel with its interrupt line recorded: `edges` counts rising edges. */
function channel(master?: DiskImage, slave?: DiskImage) {
  const line = { level: false, edges: 0 };
  const ide = new IdeChannel(master, slave, (level) => {
    if (level && !line.level) line.edges++;
    line.level = level;
  });
  const out = (port: number, value: number) => ide.write(port, 1, value);
  const inb = (port: number) => ide.read(port, 1);
  /** Sets up a 28-bit LBA command on the selected drive (0 master, 1 slave) and issues it. */
  const lbaCommand = (drive: number, command: number, lba: number, count: number) => {
    out(0x1f6, 0xe0 | (drive << 4) | ((lba >>> 24) & 15));
    out(0x1f2, count);
    out(0x1f3, lba & 0xff);
    out(0x1f4, (lba >>> 8) & 0xff);
    out(0x1f5, (lba >>> 16) & 0xff);
    out(0x1f7, command);
  };
  /** Reads one sector's 512 bytes with 16-bit data-port reads. */
  const readSector = () => {
    const data = new Uint8Array(SECTOR_BYTES);
    for (let i = 0; i < SECTOR_BYTES; i += 2) {
      const w = ide.read(0x1f0, 2);
      data[i] = w & 0xff;
      data[i + 1] = w >>> 8;
    }
    return data;
  };
  return { ide, line, out, inb, lbaCommand, readSector };
}

const text = (bytes: Uint8Array, length: number) => String.fromCharCode(...bytes.subarray(0, length));

describe('the IDE channel, through its ports', () => {
  it('IDENTIFY DEVICE gives 256 words: capacity, LBA, geometry, model, a valid checksum; then DRQ clears', () => {
    const disk = labelledDisk(10_000);
    const { ide, line, out, readSector } = channel(disk);
    out(0x1f6, 0xa0);
    out(0x1f7, 0xec);
    expect(line.level).toBe(true);
    expect(ide.read(0x3f6, 1)).toBe(DRDY | DSC | DRQ); // alternate status acknowledges nothing
    expect(line.level).toBe(true);
    expect(ide.read(0x1f7, 1)).toBe(DRDY | DSC | DRQ); // status does
    expect(line.level).toBe(false);
    const id = readSector();
    const word = (n: number) => id[n * 2] | (id[n * 2 + 1] << 8);
    expect(word(60) | (word(61) << 16)).toBe(10_000);
    expect(word(49) & 0x0200).not.toBe(0); // LBA
    expect(word(49) & 0x0100).toBe(0); // no DMA
    const g = ataGeometry(10_000);
    expect([word(1), word(3), word(6)]).toEqual([g.cylinders, 16, 63]);
    let model = '';
    for (let n = 27; n < 47; n++) model += String.fromCharCode(word(n) >>> 8, word(n) & 0xff);
    expect(model.trim()).toBe('MINIVISOR HARDDISK');
    expect(id[510]).toBe(0xa5);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
    expect(ide.read(0x1f7, 1)).toBe(DRDY | DSC);
  });

  it('READ SECTORS by LBA: one interrupt per sector, the data in order, the registers left at the last sector', () => {
    const { ide, line, lbaCommand, readSector, inb } = channel(labelledDisk(300));
    lbaCommand(0, 0x20, 257, 3);
    expect(line.edges).toBe(1);
    expect(inb(0x1f7)).toBe(DRDY | DSC | DRQ); // the driver acknowledges, then takes the data
    expect(text(readSector(), 10)).toBe('sector 257');
    expect(line.edges).toBe(2); // the second sector is ready
    inb(0x1f7);
    expect(text(readSector(), 10)).toBe('sector 258');
    inb(0x1f7);
    expect(text(readSector(), 10)).toBe('sector 259');
    expect(line.edges).toBe(3);
    expect(inb(0x1f7)).toBe(DRDY | DSC);
    expect([inb(0x1f2), inb(0x1f3), inb(0x1f4), inb(0x1f5), inb(0x1f6) & 0x4f]).toEqual([0, 259 & 0xff, 1, 0, 0x40]);
    expect(ide.read(0x1f0, 2)).toBe(0); // no transfer: the data port gives nothing
  });

  it('READ SECTORS by CHS goes through the drive\'s geometry (16 heads, 63 sectors)', () => {
    const { out, readSector } = channel(labelledDisk(3000));
    // Cylinder 1, head 2, sector 5: (1 * 16 + 2) * 63 + 4 = 1138.
    out(0x1f6, 0xa2);
    out(0x1f2, 1);
    out(0x1f3, 5);
    out(0x1f4, 1);
    out(0x1f5, 0);
    out(0x1f7, 0x20);
    expect(text(readSector(), 11)).toBe('sector 1138');
  });

  it('WRITE SECTORS with 32-bit transfers: DRQ first without an interrupt, then one per written sector; the data reaches the disk and its file', () => {
    const disk = labelledDisk(64);
    const written: number[] = [];
    disk.writeThrough = (offset, bytes) => written.push(offset, bytes.length);
    const { ide, line, lbaCommand, inb } = channel(disk);
    lbaCommand(0, 0x30, 10, 2);
    expect(inb(0x3f6)).toBe(DRDY | DSC | DRQ);
    expect(line.edges).toBe(0);
    for (let i = 0; i < 128; i++) ide.write(0x1f0, 4, 0x41424344);
    expect(line.edges).toBe(1);
    expect(inb(0x1f7)).toBe(DRDY | DSC | DRQ);
    for (let i = 0; i < 128; i++) ide.write(0x1f0, 4, 0x31323334);
    expect(line.edges).toBe(2);
    expect(inb(0x1f7)).toBe(DRDY | DSC);
    expect(text(disk.readSectors(10, 1), 4)).toBe('DCBA');
    expect(text(disk.readSectors(11, 1), 4)).toBe('4321');
    expect(text(disk.readSectors(12, 1), 9)).toBe('sector 12');
    expect(written).toEqual([10 * 512, 512, 11 * 512, 512]);
  });

  it('READ MULTIPLE is refused until SET MULTIPLE MODE; then one interrupt per block of sectors', () => {
    const { ide, line, out, lbaCommand, readSector, inb } = channel(labelledDisk(64));
    lbaCommand(0, 0xc4, 0, 8);
    expect(inb(0x1f7)).toBe(DRDY | DSC | ERR);
    expect(inb(0x1f1)).toBe(ABRT);
    out(0x1f2, 3); // not a power of two
    out(0x1f7, 0xc6);
    expect(inb(0x1f7) & ERR).toBe(ERR);
    out(0x1f2, 4);
    out(0x1f7, 0xc6);
    expect(inb(0x1f7)).toBe(DRDY | DSC);
    const before = line.edges;
    lbaCommand(0, 0xc4, 8, 6);
    inb(0x1f7);
    for (let n = 8; n < 12; n++) expect(text(readSector(), `sector ${n}`.length)).toBe(`sector ${n}`);
    expect(line.edges - before).toBe(2); // the command's block, then the next block's
    inb(0x1f7);
    expect(text(readSector(), 9)).toBe('sector 12');
    expect(text(readSector(), 9)).toBe('sector 13');
    expect(line.edges - before).toBe(2); // a read's end brings no interrupt
    expect(ide.read(0x1f7, 1)).toBe(DRDY | DSC);
  });

  it('an address past the disk is IDNF, a command the drive lacks (DMA, 48-bit) is ABRT: each with ERR and an interrupt', () => {
    const { line, out, lbaCommand, inb } = channel(labelledDisk(100));
    lbaCommand(0, 0x20, 99, 2);
    expect(inb(0x1f7)).toBe(DRDY | DSC | ERR);
    expect(inb(0x1f1)).toBe(IDNF);
    out(0x1f7, 0xc8); // READ DMA
    expect(line.level).toBe(true);
    expect(inb(0x1f7)).toBe(DRDY | DSC | ERR);
    expect(inb(0x1f1)).toBe(ABRT);
    out(0x1f7, 0x24); // READ SECTORS EXT
    expect(inb(0x1f1)).toBe(ABRT);
    lbaCommand(0, 0x40, 90, 10); // READ VERIFY to the last sector: fine
    expect(inb(0x1f7)).toBe(DRDY | DSC);
  });

  it('a missing slave reads status 0; a channel with no drive floats at 0xFF', () => {
    const { inb, out } = channel(labelledDisk(8));
    expect(inb(0x1f7)).toBe(DRDY | DSC);
    out(0x1f6, 0xf0);
    expect(inb(0x1f7)).toBe(0);
    expect(inb(0x3f6)).toBe(0);
    out(0x1f7, 0xec); // nothing answers
    expect(inb(0x1f7)).toBe(0);
    const empty = channel();
    expect(empty.inb(0x1f7)).toBe(0xff);
    expect(empty.ide.read(0x1f0, 2)).toBe(0xffff);
  });

  it('nIEN keeps the line low; SRST held is busy, released leaves the ATA signature and the master selected', () => {
    const { line, out, inb, lbaCommand } = channel(labelledDisk(8), labelledDisk(8));
    out(0x3f6, 0x02);
    lbaCommand(1, 0x20, 0, 1);
    expect(line.level).toBe(false);
    out(0x3f6, 0x00); // the drive's interrupt is still pending: enabling shows it
    expect(line.level).toBe(true);
    out(0x3f6, 0x04);
    expect(inb(0x3f6)).toBe(BSY);
    out(0x3f6, 0x00);
    expect(line.level).toBe(false);
    expect([inb(0x1f7), inb(0x1f1), inb(0x1f2), inb(0x1f3), inb(0x1f4), inb(0x1f5)]).toEqual([DRDY | DSC, 1, 1, 1, 0, 0]);
    expect(inb(0x1f6) & 0x10).toBe(0);
  });
});

/** A second stage (org 0x8000, loaded from sectors 1-2 of the first disk) that drives the slave with IRQ 14. */
const STAGE2 = `
bits 16
org 0x8000
stage2:
  mov word [0x76*4], irq14              ; the BIOS puts the slave PIC at 70h: IRQ 14 is vector 76h
  mov word [0x76*4+2], 0
  in al, 0xa1
  and al, ~0x40
  out 0xa1, al
  in al, 0x21
  and al, ~0x04
  out 0x21, al
  mov dx, 0x3f6
  xor al, al                            ; nIEN clear: interrupts on
  out dx, al

  ; two sectors from LBA 5 of the slave, each taken when its interrupt comes
  mov byte [done], 0
  mov bl, 0xf0
  mov eax, 5
  mov cl, 2
  mov ch, 0x20
  call command
  mov di, 0x9000
  call await
  mov dx, 0x1f0
  mov cx, 128
  rep insd
  call await
  mov dx, 0x1f0
  mov cx, 128
  rep insd
  mov si, 0x9000
  call print8
  mov si, 0x9200
  call print8

  ; one sector to LBA 7 of the slave with 32-bit writes; its interrupt says it is on the disk
  mov bl, 0xf0
  mov eax, 7
  mov cl, 1
  mov ch, 0x30
  call command
  mov si, message
  mov dx, 0x1f0
  mov cx, 128
  rep outsd
  call await
  mov al, 'W'
  out 0xe9, al

  mov dx, 0x1f7
  in al, dx
  out 0xe9, al                          ; the slave's status after it: 0x50, DRDY DSC
  cli
  hlt

; BL device/head (E0 master, F0 slave), EAX LBA, CL count, CH command
command:
  push eax
  mov dx, 0x1f6
  mov al, bl
  out dx, al
  pop eax
  mov dx, 0x1f3
  out dx, al
  shr eax, 8
  inc dx
  out dx, al
  shr eax, 8
  inc dx
  out dx, al
  mov dx, 0x1f2
  mov al, cl
  out dx, al
  mov dx, 0x1f7
  mov al, ch
  mov byte [done], 0
  out dx, al
  ret

; waits for IRQ 14, then clears the flag (STI's shadow makes STI HLT wait without a race)
await:
  cli
  cmp byte [done], 0
  jne .got
  sti
  hlt
  jmp await
.got:
  mov byte [done], 0
  ret

irq14:
  push ax
  push dx
  mov dx, 0x1f7
  in al, dx                             ; acknowledges the drive
  mov byte [done], 1
  mov al, 0x20
  out 0xa0, al
  out 0x20, al
  pop dx
  pop ax
  iret

; prints 8 bytes at SI
print8:
  mov cx, 8
.next:
  lodsb
  out 0xe9, al
  loop .next
  ret

done: db 0
message: db 'written by the guest'
  times 1024 - ($ - $$) db 0
`;

/** The boot sector: polls the master for sectors 1-2 (LBA, 16-bit reads) as xv6's boot loader does, and jumps to them. */
const BOOT = `
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  call ready
  mov dx, 0x1f2
  mov al, 2
  out dx, al
  inc dx
  mov al, 1
  out dx, al                            ; LBA 1
  inc dx
  xor al, al
  out dx, al
  inc dx
  out dx, al
  inc dx
  mov al, 0xe0
  out dx, al                            ; master, LBA
  inc dx
  mov al, 0x20
  out dx, al                            ; READ SECTORS
  mov di, 0x8000
  call ready
  mov dx, 0x1f0
  mov cx, 256
  rep insw
  call ready
  mov dx, 0x1f0
  mov cx, 256
  rep insw
  jmp 0x8000

ready:                                  ; until BSY is clear and DRDY set
  mov dx, 0x1f7
.poll:
  in al, dx
  and al, 0xc0
  cmp al, 0x40
  jne .poll
  ret
`;

function disks() {
  const stage2 = assembleOrThrow(STAGE2);
  const first = new Uint8Array(16 * SECTOR_BYTES);
  first.set(bootSector(BOOT));
  first.set(stage2, SECTOR_BYTES);
  const master = DiskImage.from(first, 'hard-disk', 'boot.img');
  const slave = labelledDisk(32);
  return new Map([[0x80, master], [0x81, slave]]);
}

describe('guests that drive the IDE disks themselves', () => {
  for (const mode of ['bare', 'ept', 'shadow'] as const) {
    it(`${mode}: a boot loader polls the master for its second stage, which reads and writes the slave on IRQ 14 with 32-bit transfers`, () => {
      let output = '';
      const drives = disks();
      const run = boot({ mode, disks: drives, debugcons: [{ port: 0xe9, sink: (b) => (output += String.fromCharCode(b)) }], maxInstructions: 5_000_000 });
      expect(run.outcome.kind, output).toBe('halted');
      expect(output).toBe('sector 5sector 6W\x50');
      expect(text(drives.get(0x81)!.readSectors(7, 1), 20)).toBe('written by the guest');
    });
  }
});
