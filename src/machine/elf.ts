/** The parts of an ELF32 file a loader needs: the header and the program headers (parsed with binary-parser). */
// binary-parser's package entry gives no types to NodeNext resolution; its CommonJS build has them beside it.
import { Parser } from 'binary-parser/dist/binary_parser.js';

export interface ElfProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface Elf32 {
  machine: number;
  entry: number;
  programHeaders: ElfProgramHeader[];
}

export const PT_LOAD = 1;
export const EM_386 = 3;
const ELFCLASS32 = 1, ELFDATA2LSB = 1;

const identParser = new Parser().endianness('little').uint32('magic').uint8('class').uint8('data');

const headerParser = new Parser()
  .endianness('little')
  .seek(16)
  .uint16('type')
  .uint16('machine')
  .uint32('version')
  .uint32('entry')
  .uint32('phoff')
  .uint32('shoff')
  .uint32('flags')
  .uint16('ehsize')
  .uint16('phentsize')
  .uint16('phnum');

const programHeaderParser = new Parser()
  .endianness('little')
  .uint32('type')
  .uint32('offset')
  .uint32('vaddr')
  .uint32('paddr')
  .uint32('filesz')
  .uint32('memsz')
  .uint32('flags');

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parses an ELF32 little-endian file. Throws a RangeError that says what is wrong with one that is not. */
export function parseElf32(bytes: Uint8Array, name: string): Elf32 {
  if (bytes.length < 52) throw new RangeError(`${name}: too short to be an ELF file (${bytes.length} bytes)`);
  // (binary-parser reads a Uint8Array through a DataView: no Node Buffer, so this runs in a browser too.)
  const ident = identParser.parse(bytes) as { class: number; data: number };
  if (ident.class !== ELFCLASS32 || ident.data !== ELFDATA2LSB) {
    throw new RangeError(`${name}: a ${ident.class === 2 ? '64-bit' : 'non-32-bit'} ELF file; minivisor runs 32-bit x86 (i386) kernels (build with -m32 / -m elf_i386)`);
  }
  const h = headerParser.parse(bytes) as { machine: number; entry: number; phoff: number; phentsize: number; phnum: number };
  if (h.machine !== EM_386) throw new RangeError(`${name}: an ELF file for machine ${h.machine}, not i386 (3)`);
  const programHeaders: ElfProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const at = h.phoff + i * h.phentsize;
    if (at + 32 > bytes.length) throw new RangeError(`${name}: program header ${i} lies past the end of the file (truncated?)`);
    programHeaders.push(programHeaderParser.parse(bytes.subarray(at)) as ElfProgramHeader);
  }
  return { machine: h.machine, entry: h.entry, programHeaders };
}
