/** Booting through the BIOS from the command line: disk images, boot sectors, and bad input refused before the guest starts. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleOrThrow } from '../helpers/run-asm.ts';
import { buildElf, multibootHeaderAndCode } from '../helpers/elf-builder.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function minivisor(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(mkdtempSync(join(tmpdir(), 'minivisor-boot-')), name);
  writeFileSync(path, bytes);
  return path;
}

const PRINT_BOOT_DRIVE = `
        org 0x7c00
        bits 16
        mov al, dl          ; the BIOS passes the boot drive in DL
        add al, '0'
        cmp al, '0'
        je .print
        mov al, 'H'         ; 0x80 → 'H'ard disk
.print: mov ah, 0x0e
        int 0x10
        cli
        hlt
        times 510 - ($ - $$) db 0
        dw 0xaa55`;

describe('booting through the BIOS', () => {
  it('a floppy-sized image boots from drive 00h, anything larger from the hard disk 80h', () => {
    const sector = assembleOrThrow(PRINT_BOOT_DRIVE);
    const floppy = new Uint8Array(1_474_560);
    floppy.set(sector);
    const disk = new Uint8Array(8 << 20);
    disk.set(sector);
    const a = minivisor('run', file('floppy.img', floppy));
    expect(a.stdout.trim().split('\n').at(-1)).toBe('0');
    const c = minivisor('run', file('disk.img', disk));
    expect(c.stdout.trim().split('\n').at(-1)).toBe('H');
    const both = minivisor('run', '--fda', file('f.img', floppy), '--hda', file('d.img', disk), '--boot', 'a');
    expect(both.stdout.trim().split('\n').at(-1)).toBe('0');
  });

  it('a .asm of two sectors whose run jumps into the second, which the BIOS never loaded, is told so', () => {
    const source = `org 0x7c00
        jmp second          ; the BIOS loaded only this sector: at 0x7E00 there are zeros
        times 510 - ($ - $$) db 0
        dw 0xaa55
second: cli
        hlt`;
    const path = file('two.asm', new TextEncoder().encode(source));
    const r = minivisor('run', path, '--max-instructions', '100000');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('two.asm is 2 sectors, and the BIOS loads only the first (the boot sector, at 0000:7C00)');
    expect(r.stderr).toMatch(/read it with INT 13h/);
    // A guest that reads its other sectors itself hears nothing of it.
    const loader = minivisor('run', join(ROOT, 'guests', 'loader', 'loader.asm'));
    expect(loader.stdout).toMatch(/this line was in sector 4/);
    expect(loader.stderr).not.toMatch(/loads only the first/);
  });

  it('a disk with no boot signature gets the BIOS\'s "no bootable disk" on the console', () => {
    const r = minivisor('run', file('blank.img', new Uint8Array(1_474_560)));
    expect(r.stdout).toMatch(/no bootable disk/);
  });
});

describe('bad input is refused before the guest starts', () => {
  it('an empty or truncated image, a floppy too large, a missing drive for --boot', () => {
    expect(minivisor('run', file('empty.img', new Uint8Array(0))).stderr).toMatch(/empty\.img is empty/);
    const cut = minivisor('run', file('cut.img', new Uint8Array(1_474_560 - 100)));
    expect(cut.status).toBe(2);
    expect(cut.stderr).toMatch(/cut\.img is 1474460 bytes, not a whole number of 512-byte sectors: is it truncated\?/);
    expect(minivisor('run', 'missing.img').stderr).toBe('minivisor: missing.img: no such file\n');
    const big = minivisor('run', '--fda', file('big.img', new Uint8Array(3 << 20)));
    expect(big.status).toBe(2);
    expect(big.stderr).toMatch(/larger than the largest floppy.*--hda/);
    expect(minivisor('run', '--fda', file('f.img', new Uint8Array(1_474_560)), '--boot', 'c').stderr).toMatch(/there is no hard disk/);
  });

  it('a memory size too small to boot', () => {
    const r = minivisor('run', file('f.img', new Uint8Array(1_474_560)), '--mem', '1M');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/too little to boot through the BIOS; give at least 2M/);
  });

  it('an ELF file that is not i386, or has a Multiboot header with a bad checksum', () => {
    const code = multibootHeaderAndCode(Uint8Array.of(0xf4));
    const x64 = minivisor('run', file('k64.elf', buildElf([{ paddr: 0x100000, bytes: code }], 0x100000, 62)));
    expect(x64.status).toBe(2);
    expect(x64.stderr).toMatch(/not i386/);
    const bad = minivisor('run', file('bad.elf', buildElf([{ paddr: 0x100000, bytes: multibootHeaderAndCode(Uint8Array.of(0xf4), 0, true) }], 0x100000)));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad checksum/);
    expect(bad.stderr).not.toMatch(/\s+at .*\.ts:\d+/);
  });
});

describe('Multiboot kernels from the command line', () => {
  it('guests/multiboot (assembled, a.out kludge) is entered with the magic, its command line and the memory map', () => {
    const r = minivisor('run', join(ROOT, 'guests', 'multiboot', 'multiboot.asm'), '--append', 'hello kernel');
    expect(r.status).toBe(0);
    const expected = readFileSync(join(ROOT, 'guests', 'multiboot', 'multiboot.expected'), 'utf8');
    expect(r.stdout).toBe(expected);
  });

  it('an ELF kernel is loaded where its segments say and entered with the Multiboot magic in EAX', () => {
    const code = assembleOrThrow(`
      bits 32
      org 0x200000
      dd 0x1badb002, 0, -0x1badb002     ; Multiboot header, no flags: load it as ELF says
    start:
      mov ecx, eax                      ; keep the magic before AL is used for output
      mov dx, 0xe9
      mov al, 'K'
      out dx, al
      cmp ecx, 0x2badb002
      jne .no
      mov al, '!'
      out dx, al
    .no:
      cli
      hlt`);
    const elf = file('kernel.elf', buildElf([{ paddr: 0x200000, bytes: code }], 0x20000c));
    const r = minivisor('run', elf, '--debugcon', '0xe9');
    expect(r.stdout).toContain('K!');
  });

  it('--hdb is the second hard disk; the guest\'s writes reach the image files only with --persist', () => {
    const sector = assembleOrThrow(`
        org 0x7c00
        bits 16
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ax, 0x0301      ; INT 13h: write one sector to drive 81h, CHS 0/0/3 (LBA 2)
        mov cx, 0x0003
        mov dx, 0x0081
        mov bx, msg
        int 0x13
        mov dx, 0x1f6       ; ATA: WRITE SECTORS to the master, LBA 3
        mov al, 0xe0
        out dx, al
        mov dx, 0x1f2
        mov al, 1
        out dx, al
        inc dx
        mov al, 3
        out dx, al
        inc dx
        xor al, al
        out dx, al
        inc dx
        out dx, al
        mov dx, 0x1f7
        mov al, 0x30
        out dx, al
        mov si, msg
        mov dx, 0x1f0
        mov cx, 256
        rep outsw
        mov dx, 0x1f7
.busy:  in al, dx
        test al, 0x80
        jnz .busy
        cli
        hlt
msg:    db 'persisted!'
        times 510 - ($ - $$) db 0
        dw 0xaa55`);
    const image = (first?: Uint8Array) => {
      const bytes = new Uint8Array(64 * 512);
      if (first) bytes.set(first);
      return bytes;
    };
    const text = (path: string, lba: number) => readFileSync(path).subarray(lba * 512, lba * 512 + 10).toString('latin1');
    const hda = file('a.img', image(sector)), hdb = file('b.img', image());
    const plain = minivisor('run', '--hda', hda, '--hdb', hdb);
    expect(plain.status, plain.stderr).toBe(0); // halted
    expect(text(hdb, 2)).toBe('\0'.repeat(10));
    expect(text(hda, 3)).toBe('\0'.repeat(10));
    const kept = minivisor('run', '--hda', hda, '--hdb', hdb, '--persist');
    expect(kept.status, kept.stderr).toBe(0);
    expect(text(hdb, 2)).toBe('persisted!');
    expect(text(hda, 3)).toBe('persisted!');
    expect(readFileSync(hda).length).toBe(64 * 512);

    const alone = minivisor('run', '--hdb', hdb);
    expect(alone.status).not.toBe(0);
    expect(alone.stderr).toMatch(/--hdb .*no first hard disk.*--hda/);
    expect(alone.stderr).not.toMatch(/\bat .*\.ts:/);
  });
});

describe('Multiboot kernels loaded low, and kernels that do not fit the memory map', () => {
  /** A flat kernel at `org` that prints its command line on port 0xE9, then whether a marker 0x1000 bytes in is intact. */
  const lowKernel = (org: number) => `
      bits 32
      org ${org}
    header:
      dd 0x1badb002, 0x00010000, -(0x1badb002 + 0x00010000)
      dd header, header, 0, 0, start
    start:
      mov esi, [ebx + 16]               ; the command line
      mov dx, 0xe9
    .next:
      lodsb
      test al, al
      jz .done
      out dx, al
      jmp .next
    .done:
      mov esi, intact
      cmp dword [marker], 0x4b52414d    ; 'MARK'
      je .say
      mov esi, clobbered
    .say:
      lodsb
      test al, al
      jz .end
      out dx, al
      jmp .say
    .end:
      cli
      hlt
    intact: db ' intact', 0
    clobbered: db ' clobbered', 0
      times 0x1000 - ($ - $$) db 0
    marker: dd 0x4b52414d
      times 0x400 db 0x55`;

  it('a kernel linked at 0x8000, over where the information usually goes, finds it after itself and is not overwritten', () => {
    const kernel = file('low.bin', assembleOrThrow(lowKernel(0x8000)));
    const r = minivisor('run', kernel, '--append', 'low kernel', '--debugcon', '0xe9');
    expect(r.stdout).toContain('low kernel intact');
    expect(r.status).toBe(0);
  });

  it("a kernel over the BIOS's stack is refused before the guest starts, naming both ranges", () => {
    const kernel = file('stack.bin', assembleOrThrow(lowKernel(0x7800)));
    const r = minivisor('run', kernel, '--debugcon', '0xe9');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/stack\.bin: the kernel \(0x00007800-0x00008C03\) overlaps the BIOS's stack \(0x00007000-0x00007BFF\)/);
    expect(r.stderr).not.toMatch(/^ {4}at /m);
  });

  it('a kernel whose middle lies in a --reserve range is refused, naming the first address that is not RAM', () => {
    const code = multibootHeaderAndCode(Uint8Array.of(0xf4));
    const elf = file('span.elf', buildElf([{ paddr: 0x700000, bytes: code, memsz: 0x300000 }], 0x70000c));
    const r = minivisor('run', elf, '--reserve', '0x800000:1M');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/span\.elf: a segment \(0x00700000-0x009FFFFF\) is not in RAM: 0x00800000 is a hole in the memory map/);
    expect(r.stderr).not.toMatch(/^ {4}at /m);
  });

});
