/**
 * The built-in BIOS: firmware/bios.asm, assembled by minivisor's own assembler the first time
 * it is needed and cached by the hash of its sources (and the assembler's) in
 * node_modules/.cache/minivisor, so a fresh clone needs no build step and later starts cost a
 * file read. Its symbol map is cached beside it, for the debugger.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleFile } from '../asm/node-files.ts';
import { formatDiagnostic } from '../asm/index.ts';
import { formatSymbolMap, parseSymbolMap, type SymbolMap } from '../asm/symbol-map.ts';
import { projectRoot } from '../project-root.ts';

export function firmwareDirectory(): string {
  return join(projectRoot(), 'firmware');
}

/** Where the BIOS assembled from the sources as they are now is cached (without an extension). */
function cachePath(): string {
  const dir = firmwareDirectory();
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.asm') || name.endsWith('.inc')) hash.update(name).update(readFileSync(join(dir, name)));
  }
  // The assembler's sources too: a fix there may change the image (a stale one would outlive it).
  const assemblerDir = join(projectRoot(), 'src', 'asm');
  for (const name of readdirSync(assemblerDir).sort()) if (name.endsWith('.ts')) hash.update(name).update(readFileSync(join(assemblerDir, name)));
  return join(projectRoot(), 'node_modules', '.cache', 'minivisor', `bios-${hash.digest('hex').slice(0, 16)}`);
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
