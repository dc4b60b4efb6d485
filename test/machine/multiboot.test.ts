/** Loading Multiboot kernels: ELF segments, the a.out kludge, the information structure, and the errors. */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { MULTIBOOT_INFO_ADDRESS } from '../../src/machine/multiboot.ts';
import { buildElf, multibootHeaderAndCode } from '../helpers/elf-builder.ts';
import { assembleOrThrow } from '../helpers/run-asm.ts';

function machine() {
  return new Machine({ memoryBytes: 16 << 20 });
}

describe('Multiboot kernels', () => {
  it('loads ELF segments at their physical addresses, zeroes .bss, and writes the information structure', () => {
    const code = multibootHeaderAndCode(Uint8Array.of(0xf4));
    const elf = buildElf([{ paddr: 0x100000, bytes: code, memsz: code.length + 0x100 }], 0x10000c);
    const m = machine();
    m.phys.write8(0x100000 + code.length + 5, 0xaa); // must be zeroed as .bss
    const kernel = m.loadMultiboot(elf, 'kernel.elf', 'console=serial');
    expect(kernel).toEqual({ entry: 0x10000c, start: 0x100000, end: 0x100000 + code.length + 0x100 });
    expect(m.phys.read(0x100000, 4) >>> 0).toBe(0x1badb002);
    expect(m.phys.read8(0x100000 + code.length + 5)).toBe(0);
    const info = MULTIBOOT_INFO_ADDRESS;
    expect(m.phys.read(info, 4) & 0x245).toBe(0x245); // mem, cmdline, mmap, loader name
    expect(m.phys.read(info + 4, 4)).toBe(639);
    expect(m.phys.read(info + 8, 4)).toBe((16 << 20) / 1024 - 1024);
    const cmdline = m.phys.read(info + 16, 4);
    expect(String.fromCharCode(...m.phys.dump(cmdline, 14))).toBe('console=serial');
    const mmapLength = m.phys.read(info + 44, 4);
    const mmapAddress = m.phys.read(info + 48, 4);
    expect(mmapLength).toBe(m.e820.length * 24);
    expect(m.phys.read(mmapAddress + 24 * 3 + 4, 4)).toBe(0x100000); // the extended-RAM entry's base
  });

  it('loads an a.out-kludge kernel (flat binary, header flag 16) from our own assembler', () => {
    const image = assembleOrThrow(`
      bits 32
      org 0x200000
    header:
      dd 0x1badb002
      dd 0x00010000
      dd -(0x1badb002 + 0x00010000)
      dd header      ; header_addr
      dd header      ; load_addr
      dd 0           ; load_end_addr: the whole file
      dd end + 64    ; bss_end_addr
      dd start       ; entry_addr
    start:
      hlt
    end:`);
    const kernel = machine().loadMultiboot(image, 'k.bin');
    expect(kernel.start).toBe(0x200000);
    expect(kernel.entry).toBe(0x200000 + 32);
  });

  it('refuses what is not a Multiboot i386 kernel, with a message that says why', () => {
    const code = multibootHeaderAndCode(Uint8Array.of(0xf4));
    expect(() => machine().loadMultiboot(buildElf([{ paddr: 0x100000, bytes: code }], 0x100000, 62), 'x64.elf')).toThrow(/machine 62, not i386/);
    expect(() => machine().loadMultiboot(buildElf([], 0x100000), 'empty.elf')).toThrow(/no Multiboot header/);
    const bad = multibootHeaderAndCode(Uint8Array.of(0xf4), 0, true);
    expect(() => machine().loadMultiboot(buildElf([{ paddr: 0x100000, bytes: bad }], 0x100000), 'bad.elf')).toThrow(/bad checksum/);
    const noSegments = buildElf([], 0x100000);
    const withHeader = new Uint8Array(noSegments.length + 12);
    withHeader.set(noSegments);
    withHeader.set(multibootHeaderAndCode(new Uint8Array(0)), noSegments.length);
    expect(() => machine().loadMultiboot(withHeader, 'nosegs.elf')).toThrow(/no loadable segment/);
    expect(() => machine().loadMultiboot(buildElf([{ paddr: 0x4000000, bytes: code }], 0x4000000), 'high.elf')).toThrow(/not in RAM/);
    const truncated = buildElf([{ paddr: 0x100000, bytes: new Uint8Array(4096).fill(0).map((_, i) => (i < 12 ? code[i] : 0)) }], 0x100000).subarray(0, 200);
    expect(() => machine().loadMultiboot(truncated, 'cut.elf')).toThrow(/past the end of the file/);
  });
});
