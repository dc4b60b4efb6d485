/** Loading Multiboot kernels: ELF segments, the a.out kludge, the information structure, and the errors. */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { MULTIBOOT_INFO_ADDRESS, writeMultibootInfo } from '../../src/machine/multiboot.ts';
import { FW_MULTIBOOT } from '../../src/machine/devices/fw-cfg.ts';
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

/** Reads fw_cfg item 0x0015: the entry point and where the information structure was written. */
function multibootItem(m: Machine): { entry: number; info: number } {
  m.io.write(0x510, 2, FW_MULTIBOOT);
  const bytes = Uint8Array.from({ length: 8 }, () => m.io.read(0x511, 1));
  const view = new DataView(bytes.buffer);
  return { entry: view.getUint32(0, true), info: view.getUint32(4, true) };
}

/** A flat (a.out kludge, flag 16) kernel: the header at its first byte, `size` bytes in the file. */
function flatKernel(fields: { headerAddr: number; loadAddr?: number; loadEndAddr?: number; bssEndAddr?: number; entryAddr?: number }, size = 64): Uint8Array {
  const out = new Uint8Array(Math.max(size, 32));
  const v = new DataView(out.buffer);
  const flags = 0x10000;
  v.setUint32(0, 0x1badb002, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, -(0x1badb002 + flags) >>> 0, true);
  v.setUint32(12, fields.headerAddr, true);
  v.setUint32(16, fields.loadAddr ?? fields.headerAddr, true);
  v.setUint32(20, fields.loadEndAddr ?? 0, true);
  v.setUint32(24, fields.bssEndAddr ?? 0, true);
  v.setUint32(28, fields.entryAddr ?? fields.headerAddr + 32, true);
  out[32] = 0xf4; // hlt
  return out;
}

/** 16 MiB with 0x800000-0x8FFFFF reserved, as --reserve 0x800000:1M makes it. */
function machineWithReserved() {
  return new Machine({ memoryBytes: 16 << 20, reserved: [{ base: 0x800000, length: 0x100000 }] });
}

describe('every byte a kernel loads must be RAM', () => {
  const code = multibootHeaderAndCode(Uint8Array.of(0xf4));

  it('a segment whose first and last bytes are RAM but whose middle is a --reserve range is refused, before anything is loaded', () => {
    const m = machineWithReserved();
    const elf = buildElf([{ paddr: 0x700000, bytes: code, memsz: 0x300000 }], 0x70000c);
    expect(() => m.loadMultiboot(elf, 'span.elf')).toThrow(/span\.elf: a segment \(0x00700000-0x009FFFFF\) is not in RAM: 0x00800000 is a hole in the memory map/);
    expect(m.phys.read(0x700000, 4)).toBe(0); // nothing loaded: the checks come first
  });

  it('a segment across the 640 KiB-1 MiB hole names the first address that is not RAM', () => {
    const elf = buildElf([{ paddr: 0x9e000, bytes: new Uint8Array(0x1000), memsz: 0x63000 }, { paddr: 0x200000, bytes: code }], 0x20000c);
    expect(() => machine().loadMultiboot(elf, 'hole.elf')).toThrow(/hole\.elf: a segment \(0x0009E000-0x00100FFF\) is not in RAM: 0x000A0000 is a hole/);
  });

  it('a segment that runs past 4 GiB is refused instead of wrapping around to address 0', () => {
    const m = machine();
    const elf = buildElf([{ paddr: 0x100000, bytes: code, memsz: 0xfff80000 }], 0x10000c);
    expect(() => m.loadMultiboot(elf, 'wrap.elf')).toThrow(/wrap\.elf: a segment \(0x00100000-0x10007FFFF\) runs past 4 GiB/);
    expect(m.phys.read(0x100000, 4)).toBe(0);
  });

  it('a segment past the end of RAM says so, and that --mem gives more', () => {
    const elf = buildElf([{ paddr: 0xff0000, bytes: code, memsz: 0x20000 }], 0xff000c);
    expect(() => machine().loadMultiboot(elf, 'long.elf')).toThrow(/long\.elf: a segment \(0x00FF0000-0x0100FFFF\) is not in RAM: 0x01000000 is past the end of RAM \(16 MiB; give more memory with --mem\?\)/);
  });

  it('a segment with more bytes in the file than in memory is refused', () => {
    const elf = buildElf([{ paddr: 0x100000, bytes: code, memsz: 4 }], 0x10000c);
    expect(() => machine().loadMultiboot(elf, 'fat.elf')).toThrow(/fat\.elf: a segment has more bytes in the file \(13\) than in memory \(4\)/);
  });

  it('a flat (a.out kludge) kernel gets the same checks: its load and .bss range, its header fields', () => {
    const span = flatKernel({ headerAddr: 0x7ff000, bssEndAddr: 0x900000 });
    const m = machineWithReserved();
    expect(() => m.loadMultiboot(span, 'span.bin')).toThrow(/span\.bin: the kernel \(0x007FF000-0x008FFFFF\) is not in RAM: 0x00800000 is a hole/);
    expect(m.phys.read(0x7ff000, 4)).toBe(0);
    expect(() => machine().loadMultiboot(flatKernel({ headerAddr: 0x100000, loadAddr: 0x100010 }), 'h.bin')).toThrow(/h\.bin: .*header_addr \(0x00100000\) is below its load_addr \(0x00100010\)/);
    expect(() => machine().loadMultiboot(flatKernel({ headerAddr: 0x100000, loadEndAddr: 0x100040, bssEndAddr: 0x100020 }), 'b.bin')).toThrow(/b\.bin: .*bss_end_addr \(0x00100020\) is below its load_end_addr \(0x00100040\)/);
    expect(() => machine().loadMultiboot(flatKernel({ headerAddr: 0x100000, bssEndAddr: 0x3000000 }), 'big.bin')).toThrow(/big\.bin: the kernel \(0x00100000-0x02FFFFFF\) is not in RAM: 0x01000000 is past the end of RAM/);
  });
});

describe('a kernel loaded low, and what the machine writes after loading it', () => {
  const code = multibootHeaderAndCode(Uint8Array.of(0xf4));

  it('a kernel over the interrupt vector table and BIOS data area is refused, naming the range', () => {
    const elf = buildElf([{ paddr: 0x0, bytes: code, memsz: 0x1000 }], 0xc);
    expect(() => machine().loadMultiboot(elf, 'zero.elf')).toThrow(
      /zero\.elf: a segment \(0x00000000-0x00000FFF\) overlaps the interrupt vector table and BIOS data area \(0x00000000-0x000004FF\), which the BIOS writes before it enters the kernel/,
    );
  });

  it("a flat kernel over the BIOS's stack is refused, naming the range", () => {
    const m = machine();
    expect(() => m.loadMultiboot(flatKernel({ headerAddr: 0x6000, bssEndAddr: 0x7800 }), 'stack.bin')).toThrow(
      /stack\.bin: the kernel \(0x00006000-0x000077FF\) overlaps the BIOS's stack \(0x00007000-0x00007BFF\)/,
    );
    expect(m.phys.read(0x6000, 4)).toBe(0);
  });

  it('a kernel over the extended BIOS data area is refused, naming the range', () => {
    const elf = buildElf([{ paddr: 0x9f000, bytes: code, memsz: 0x1000 }], 0x9f00c);
    expect(() => machine().loadMultiboot(elf, 'ebda.elf')).toThrow(/ebda\.elf: a segment \(0x0009F000-0x0009FFFF\) overlaps the extended BIOS data area \(0x0009FC00-0x0009FFFF\)/);
  });

  it('a kernel between the BIOS data area and its stack, or above the stack, loads', () => {
    expect(machine().loadMultiboot(flatKernel({ headerAddr: 0x500, bssEndAddr: 0x7000 }), 'low.bin').start).toBe(0x500);
    expect(machine().loadMultiboot(flatKernel({ headerAddr: 0x7c00 }), 'above.bin').start).toBe(0x7c00);
  });

  it('a kernel linked over 0x9000 keeps its bytes: the information goes on the first page after the kernel', () => {
    const image = new Uint8Array(0x2000).fill(0x5a);
    image.set(code);
    const elf = buildElf([{ paddr: 0x8000, bytes: image }], 0x800c);
    const m = machine();
    m.loadMultiboot(elf, 'low.elf', 'console=serial');
    expect(Array.from(m.phys.dump(0x8000 + code.length, 0x2000 - code.length)).every((b) => b === 0x5a)).toBe(true);
    const { entry, info } = multibootItem(m);
    expect(entry).toBe(0x800c);
    expect(info).toBe(0xa000);
    const cmdline = m.phys.read(info + 16, 4);
    expect(String.fromCharCode(...m.phys.dump(cmdline, 14))).toBe('console=serial');
    const mmapAddress = m.phys.read(info + 48, 4);
    expect(mmapAddress).toBeGreaterThanOrEqual(0xa000);
    expect(m.phys.read(mmapAddress + 24 * 3 + 4, 4)).toBe(0x100000);
  });

  it('a kernel at 1 MiB gets the information at 0x9000, where QEMU puts it', () => {
    const m = machine();
    m.loadMultiboot(buildElf([{ paddr: 0x100000, bytes: code }], 0x10000c), 'k.elf');
    expect(multibootItem(m).info).toBe(MULTIBOOT_INFO_ADDRESS);
  });

  it('a command line too long for low memory goes after the kernel instead of over the EBDA and into the hole', () => {
    const m = machine();
    const commandLine = 'x'.repeat(700 * 1024);
    m.loadMultiboot(buildElf([{ paddr: 0x100000, bytes: code }], 0x10000c), 'k.elf', commandLine);
    const { info } = multibootItem(m);
    expect(info).toBe(0x101000);
    const cmdline = m.phys.read(info + 16, 4);
    expect(m.phys.read8(cmdline + commandLine.length - 1)).toBe(0x78);
    expect(m.phys.read8(cmdline + commandLine.length)).toBe(0);
    expect(m.phys.read(0x9fc00, 4)).toBe(0); // the EBDA is untouched
  });

  it('when no free RAM can hold the information, the kernel is refused with a message saying so', () => {
    const m = new Machine({ memoryBytes: 2 << 20 });
    expect(() => m.loadMultiboot(buildElf([{ paddr: 0x100000, bytes: code }], 0x10000c), 'k.elf', 'x'.repeat(1536 * 1024))).toThrow(
      /no room for the Multiboot information \(\d+ bytes: the structure, the memory map and the command line\)/,
    );
  });

  it('writeMultibootInfo on its own keeps clear of the range it is told the kernel occupies', () => {
    const m = machine();
    const at = writeMultibootInfo(m.phys, m.e820, 'k', { start: 0x1000, end: 0x9f800 });
    expect(at).toBe(0x100000); // below 640 KiB nothing is left; extended RAM starts at 1 MiB
  });
});
