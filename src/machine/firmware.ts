/**
 * The built-in BIOS: firmware/bios.asm, assembled by minivisor's own assembler the first time
 * it is needed and cached by the hash of its sources (and the assembler's) in
 * node_modules/.cache/minivisor, so a fresh clone needs no build step and later starts cost a
 * file read.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleFile } from '../asm/node-files.ts';
import { formatDiagnostic } from '../asm/index.ts';
import { projectRoot } from '../project-root.ts';

export function firmwareDirectory(): string {
  return join(projectRoot(), 'firmware');
}

/** The built-in BIOS image (64 KiB). Throws an Error with the assembler's messages if it does not assemble. */
export function builtinBios(): Uint8Array {
  const dir = firmwareDirectory();
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.asm') || name.endsWith('.inc')) hash.update(name).update(readFileSync(join(dir, name)));
  }
  // The assembler's sources too: a fix there may change the image (a stale one would outlive it).
  const assemblerDir = join(projectRoot(), 'src', 'asm');
  for (const name of readdirSync(assemblerDir).sort()) if (name.endsWith('.ts')) hash.update(name).update(readFileSync(join(assemblerDir, name)));
  const cacheDir = join(projectRoot(), 'node_modules', '.cache', 'minivisor');
  const cached = join(cacheDir, `bios-${hash.digest('hex').slice(0, 16)}.bin`);
  if (existsSync(cached)) return new Uint8Array(readFileSync(cached));
  const result = assembleFile(join(dir, 'bios.asm'));
  if (!result.ok) {
    throw new Error(`the built-in BIOS does not assemble:\n${result.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`);
  }
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, result.bytes);
    renameSync(tmp, cached);
  } catch {
    // A read-only checkout still runs; it assembles the BIOS each time.
  }
  return result.bytes;
}
