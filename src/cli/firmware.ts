/**
 * The built-in BIOS: firmware/bios.asm, assembled by minivisor's own assembler the first time
 * it is needed and cached in node_modules/.cache/minivisor under a key made from the names,
 * sizes and modification times of its sources (and the assembler's), so a fresh clone needs no
 * build step and later starts cost a few stats and a file read. Its symbol map is cached beside
 * it, for the debugger.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleFile } from '../asm/node-files.ts';
import { formatDiagnostic } from '../asm/index.ts';
import { formatSymbolMap, parseSymbolMap, type SymbolMap } from '../asm/symbol-map.ts';
import { projectRoot } from '../project-root.ts';

export function firmwareDirectory(): string {
  return join(projectRoot(), 'firmware');
}

/**
 * Where the BIOS assembled from the sources as they are now is cached (without an extension).
 * The key comes from file metadata, not contents: hashing the contents (with node:crypto) cost
 * every start about 10 ms. An edit changes a file's modification time, so it still gets a new key.
 */
function cachePath(): string {
  const parts: string[] = [];
  const describe = (dir: string, wanted: (name: string) => boolean) => {
    for (const name of readdirSync(dir).sort()) {
      if (!wanted(name)) continue;
      const { size, mtimeMs } = statSync(join(dir, name));
      parts.push(`${name}:${size}:${mtimeMs}`);
    }
  };
  describe(firmwareDirectory(), (name) => name.endsWith('.asm') || name.endsWith('.inc'));
  // The assembler's sources too: a fix there may change the image (a stale one would outlive it).
  describe(join(projectRoot(), 'src', 'asm'), (name) => name.endsWith('.ts'));
  return join(cacheDirectory(), `${BIOS_PREFIX}${fnv1a64(parts.join('\n'))}`);
}

const BIOS_PREFIX = 'bios-';

function cacheDirectory(): string {
  return join(projectRoot(), 'node_modules', '.cache', 'minivisor');
}

/** FNV-1a, 64 bits, as 16 hex digits: a cache key, not a checksum anyone relies on. */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) hash = ((hash ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, '0');
}

/** Assembles the BIOS and caches its image and symbol map. Throws an Error with the assembler's messages if it does not assemble. */
function assembleBios(cached: string): { bytes: Uint8Array; map: string } {
  const result = assembleFile(join(firmwareDirectory(), 'bios.asm'));
  if (!result.ok) {
    throw new Error(`the built-in BIOS does not assemble:\n${result.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`);
  }
  const map = formatSymbolMap(result.symbols, result.lineMap, result.labels);
  try {
    mkdirSync(join(cached, '..'), { recursive: true });
    for (const [extension, data] of [['.map', map], ['.bin', result.bytes]] as const) {
      const tmp = `${cached}${extension}.${process.pid}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, `${cached}${extension}`);
    }
    // Images of older sources are no longer needed.
    for (const name of readdirSync(cacheDirectory())) {
      if (name.startsWith(BIOS_PREFIX) && !`${join(cacheDirectory(), name)}`.startsWith(cached) && !name.endsWith('.tmp')) rmSync(join(cacheDirectory(), name), { force: true });
    }
  } catch {
    // A read-only checkout still runs; it assembles the BIOS each time.
  }
  return { bytes: result.bytes, map };
}

/** The built-in BIOS image (64 KiB). */
export function builtinBios(): Uint8Array {
  const cached = cachePath();
  if (existsSync(`${cached}.bin`)) return new Uint8Array(readFileSync(`${cached}.bin`));
  return assembleBios(cached).bytes;
}

/**
 * The built-in BIOS's labels and source lines. Its labels are offsets in segment F000h: the
 * linear address of one is 0xF0000 plus its value.
 */
export function builtinBiosSymbols(): SymbolMap {
  const cached = cachePath();
  const text = existsSync(`${cached}.map`) && existsSync(`${cached}.bin`) ? readFileSync(`${cached}.map`, 'utf8') : assembleBios(cached).map;
  return parseSymbolMap(text);
}
