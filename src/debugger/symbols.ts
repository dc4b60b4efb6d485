/**
 * Symbols the debugger knows: labels (by name, and the nearest one below an address, for
 * `<print+4>`), EQU constants (usable in expressions), and which source line each address
 * came from (for `list` and the location shown at every stop). They come from the assembler
 * when the guest is a .asm file, from a symbol map (`minivisor asm --symbols`), and from the
 * built-in BIOS, whose labels are `bios.NAME` (at 0xF0000 + their value).
 */
import type { SourceLocation } from '../asm/index.ts';
import type { SymbolMap } from '../asm/symbol-map.ts';

export interface SymbolSource extends SymbolMap {
  /** Added to every address (the BIOS's labels are offsets in segment F000h). */
  base?: number;
  /** Put before every label name ("bios."). */
  prefix?: string;
}

export class SymbolTable {
  private readonly byName = new Map<string, number>();
  private readonly constants = new Map<string, number>();
  /** Labels sorted by address, for the nearest one below an address. */
  private sorted: { address: number; name: string }[] = [];
  /** Source-line starts sorted by address. */
  private lines: { address: number; location: SourceLocation }[] = [];

  add(source: SymbolSource): void {
    const base = source.base ?? 0;
    const prefix = source.prefix ?? '';
    for (const [name, value] of source.symbols) this.byName.set(prefix + name, (base + value) >>> 0);
    for (const [name, value] of source.constants) this.constants.set(prefix + name, value);
    this.sorted = [...this.byName].map(([name, address]) => ({ address, name })).sort((a, b) => a.address - b.address || a.name.length - b.name.length);
    for (const [address, location] of source.lineMap) this.lines.push({ address: (base + address) >>> 0, location });
    this.lines.sort((a, b) => a.address - b.address);
  }

  get size(): number {
    return this.byName.size;
  }

  /** A label's address or a constant's value. */
  lookup(name: string): number | undefined {
    return this.byName.get(name) ?? this.constants.get(name);
  }

  /** Every name, for completion. */
  names(): string[] {
    return [...this.byName.keys(), ...this.constants.keys()];
  }

  /** The label at or below `address` (within 64 KiB), with the offset from it. */
  nearest(address: number): { name: string; offset: number } | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.sorted.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid].address <= a) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    // Of several labels at one address, the first sorted (the shortest name: `print`, not `print.loop`).
    let at = found;
    while (at > 0 && this.sorted[at - 1].address === this.sorted[found].address) at--;
    const s = this.sorted[at];
    const offset = a - s.address;
    return offset < 0x10000 ? { name: s.name, offset } : undefined;
  }

  /** `<print+0x4>`, or '' when no label is near. */
  describe(address: number): string {
    const n = this.nearest(address);
    if (n === undefined) return '';
    return n.offset === 0 ? `<${n.name}>` : `<${n.name}+0x${n.offset.toString(16)}>`;
  }

  /** The source line whose bytes include `address`: the nearest line start at or below it (within 64 bytes). */
  lineAt(address: number): SourceLocation | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.lines.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.lines[mid].address <= a) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0 || a - this.lines[found].address >= 64) return undefined;
    return this.lines[found].location;
  }

  /** The first address a source line produced bytes at (for `break file.asm:LINE`). */
  addressOfLine(file: string, line: number): number | undefined {
    const match = (f: string) => f === file || f.endsWith(`/${file}`);
    let best: { address: number; line: number } | undefined;
    for (const { address, location } of this.lines) {
      if (!match(location.file) || location.line < line) continue;
      if (best === undefined || location.line < best.line || (location.line === best.line && address < best.address)) best = { address, line: location.line };
    }
    return best?.address;
  }
}
