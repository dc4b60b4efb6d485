/**
 * Symbols the debugger knows: labels (by name, and the nearest one below an address, for
 * `<print+4>`), EQU constants (usable in expressions), and which source line each address
 * came from (for `list` and the location shown at every stop). They come from the assembler
 * when the guest is a .asm file, from a symbol map (`minivisor asm --symbols`), and from the
 * built-in BIOS, whose labels are `bios.NAME` (at 0xF0000 + their value).
 */
import type { SourceLocation, SourceSpan } from '../asm/index.ts';
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
  /** Source lines sorted by address, with the bytes each made. */
  private lines: { address: number; location: SourceSpan }[] = [];

  add(source: SymbolSource): void {
    const base = source.base ?? 0;
    const prefix = source.prefix ?? '';
    for (const [name, value] of source.symbols) this.byName.set(prefix + name, (base + value) >>> 0);
    for (const [name, value] of source.constants) this.constants.set(prefix + name, value);
    this.sorted = [...this.byName].map(([name, address]) => ({ address, name })).sort((a, b) => a.address - b.address || a.name.length - b.name.length);
    for (const [address, location] of source.lineMap) this.lines.push({ address: (base + address) >>> 0, location: { ...location, file: normalizePath(location.file) } });
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

  /**
   * The label at or below `address`, with the offset from it: for an address that a source
   * line assembled (code, data, reserved space) or that a label names, else undefined (memory
   * the guest allocated at run time is nobody's label plus an offset).
   */
  nearest(address: number): { name: string; offset: number } | undefined {
    const a = address >>> 0;
    const found = lastAtOrBelow(this.sorted, a);
    if (found < 0) return undefined;
    // Of several labels at one address, the first sorted (the shortest name: `print`, not `print.loop`).
    let at = found;
    while (at > 0 && this.sorted[at - 1].address === this.sorted[found].address) at--;
    const s = this.sorted[at];
    const offset = a - s.address;
    if (offset !== 0 && this.lineAt(a) === undefined) return undefined;
    return { name: s.name, offset };
  }

  /** `<print+0x4>`, or '' when no label is near. */
  describe(address: number): string {
    const n = this.nearest(address);
    if (n === undefined) return '';
    return n.offset === 0 ? `<${n.name}>` : `<${n.name}+0x${n.offset.toString(16)}>`;
  }

  /** The source line whose bytes include `address`. */
  lineAt(address: number): SourceLocation | undefined {
    return this.spanAt(address)?.location;
  }

  /** The source line whose bytes include `address`, and the address its bytes start at. */
  spanAt(address: number): { start: number; location: SourceSpan } | undefined {
    const a = address >>> 0;
    const found = lastAtOrBelow(this.lines, a);
    if (found < 0) return undefined;
    const { address: start, location } = this.lines[found];
    return a - start < Math.max(1, location.bytes) ? { start, location } : undefined;
  }

  /** The first address a source line produced bytes at (for `break file.asm:LINE`). */
  addressOfLine(file: string, line: number): number | undefined {
    const wanted = normalizePath(file).replace(/^\.\//, '');
    const match = (f: string) => f === wanted || f.endsWith(`/${wanted}`);
    let best: { address: number; line: number } | undefined;
    for (const { address, location } of this.lines) {
      if (!match(location.file) || location.line < line) continue;
      if (best === undefined || location.line < best.line || (location.line === best.line && address < best.address)) best = { address, line: location.line };
    }
    return best?.address;
  }
}

/** The index of the last entry (sorted by address) at or below `address`, or -1. */
function lastAtOrBelow(entries: readonly { address: number }[], address: number): number {
  let lo = 0, hi = entries.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].address <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** A path with its `.` and `..` resolved: `guests/kernel-pv/../kernel/user.asm` is `guests/kernel/user.asm`. */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..' && parts.length > 0 && parts[parts.length - 1] !== '..' && parts[parts.length - 1] !== '') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  return parts.join('/');
}

/** A source path as people read it: `..` resolved, from guests/, firmware/ or test/ on, else the file's name. */
export function shortPath(path: string): string {
  const normal = normalizePath(path);
  const m = /(?:^|\/)((?:guests|firmware|test)\/.*)$/.exec(normal);
  return m ? m[1] : normal.slice(normal.lastIndexOf('/') + 1);
}
