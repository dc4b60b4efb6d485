// Runs a TypeScript entry point from an esbuild bundle, rebuilt only when a source changed.
//
// Why a bundle: run module by module (tsx), every imported constant such as a state-array index
// is read through a getter call, which cost the CPU's hot path over a third of its speed.
// esbuild's bundler inlines those constants across modules. The bundle is a cache, not a
// build step: it lives in node_modules/.cache and is made on first use (about 0.1 s).
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Bundles `entry` (a path relative to the project root) if needed and imports it. */
export async function runBundled(entry) {
  const outDir = join(root, 'node_modules', '.cache', 'minivisor');
  const outFile = join(outDir, basename(entry).replace(/\.ts$/, '.mjs'));
  let stale = true;
  try {
    const built = statSync(outFile).mtimeMs;
    stale = ['src', 'tools'].some((d) => newestSource(join(root, d)) > built) || statSync(join(root, entry)).mtimeMs > built;
  } catch {
    stale = true;
  }
  if (stale) {
    mkdirSync(outDir, { recursive: true });
    // Build beside the target and rename: several processes (parallel tests) may build at once.
    const tmpFile = `${outFile}.${process.pid}.tmp`;
    await build({
      entryPoints: [join(root, entry)],
      outfile: tmpFile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minifySyntax: true,
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'error',
    });
    renameSync(tmpFile, outFile);
  }
  await import(pathToFileURL(outFile).href);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, ...rest] = process.argv.slice(2);
  process.argv = [process.argv[0], entry, ...rest];
  await runBundled(entry);
}
