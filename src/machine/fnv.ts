/**
 * FNV-1a over 32-bit words: the checksum of a snapshot file's parts and the hashes record and
 * replay compare (disks, the guest's state). Not cryptographic: it tells a damaged file or a
 * run that went another way, quickly.
 */
export class Fnv {
  private h = 0x811c9dc5 | 0;

  /** Mixes in one 32-bit word. */
  word(w: number): this {
    this.h = Math.imul(this.h ^ w, 0x01000193);
    return this;
  }

  /** Mixes in bytes, a 32-bit word at a time (the odd ones at the end one by one). */
  bytes(data: Uint8Array): this {
    const bytes = data.byteOffset % 4 === 0 ? data : data.slice(); // (words need an aligned copy)
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    let h = this.h;
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
    for (let i = words.length * 4; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    this.h = h;
    return this;
  }

  get value(): number {
    return this.h >>> 0;
  }

  get hex(): string {
    return this.value.toString(16).padStart(8, '0');
  }
}
