/** Builds minimal ELF32 i386 executables for loader tests: one PT_LOAD segment per entry. */
export function buildElf(segments: { paddr: number; bytes: Uint8Array; memsz?: number }[], entry: number, machine = 3): Uint8Array {
  const headerSize = 52;
  const phSize = 32;
  let offset = headerSize + phSize * segments.length;
  const placed = segments.map((s) => {
    const at = offset;
    offset += s.bytes.length;
    return { ...s, offset: at };
  });
  const out = new Uint8Array(offset);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELF, 32-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, machine, true);
  v.setUint32(20, 1, true);
  v.setUint32(24, entry, true);
  v.setUint32(28, headerSize, true); // phoff
  v.setUint16(40, headerSize, true); // ehsize
  v.setUint16(42, phSize, true);
  v.setUint16(44, segments.length, true);
  placed.forEach((s, i) => {
    const ph = headerSize + i * phSize;
    v.setUint32(ph, 1, true); // PT_LOAD
    v.setUint32(ph + 4, s.offset, true);
    v.setUint32(ph + 8, s.paddr, true);
    v.setUint32(ph + 12, s.paddr, true);
    v.setUint32(ph + 16, s.bytes.length, true);
    v.setUint32(ph + 20, s.memsz ?? s.bytes.length, true);
    v.setUint32(ph + 24, 5, true);
    out.set(s.bytes, s.offset);
  });
  return out;
}

/** A Multiboot header (magic, flags, checksum) followed by `code`. */
export function multibootHeaderAndCode(code: Uint8Array, flags = 0, badChecksum = false): Uint8Array {
  const out = new Uint8Array(12 + code.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x1badb002, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, (-(0x1badb002 + flags) + (badChecksum ? 1 : 0)) >>> 0, true);
  out.set(code, 12);
  return out;
}
