// Runs a TypeScript entry point from an esbuild bundle, rebuilt only when a source changed.
//
// Why a bundle: run module by module (tsx), every imported constant such as a state-array index
// is read through a getter call, which cost the CPU's hot path over a third of its speed.
// esbuild's bundler inlines those constants across modules. The bundle is a cache, not a
// build step: it lives in node_modules/.cache and is made on first use (about 0.1 s).
//
// Code splitting keeps start-up short: what a command imports dynamically (the disassembler
// and its iced-x86, say) is a separate chunk, loaded only when that command runs.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
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
  const name = basename(entry).replace(/\.ts$/, '');
  const cache = join(root, 'node_modules', '.cache', 'minivisor');
  // One directory per state of the sources: a changed source means a new directory.
  const stamp = Math.floor(Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'tools')), statSync(join(root, entry)).mtimeMs));
  const outDir = join(cache, `${name}-${stamp}`);
  if (!existsSync(join(outDir, `${name}.mjs`))) {
    mkdirSync(cache, { recursive: true });
    // esbuild is loaded only when a build is due: importing it costs every start ~20 ms.
    const { build } = await import('esbuild');
    const tmpDir = `${outDir}.${process.pid}.tmp`;
    await build({
      entryPoints: [join(root, entry)],
      outdir: tmpDir,
      entryNames: '[name]',
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minifySyntax: true,
      packages: 'external',
      sourcemap: 'linked',
      logLevel: 'error',
    });
    try {
      renameSync(tmpDir, outDir);
    } catch {
      rmSync(tmpDir, { recursive: true, force: true }); // another process built the same sources first
    }
    // Bundles of older sources are no longer needed.
    for (const old of readdirSync(cache)) {
      if (old.startsWith(`${name}-`) && old !== basename(outDir) && !old.endsWith('.tmp')) rmSync(join(cache, old), { recursive: true, force: true });
    }
  }
  await import(pathToFileURL(join(outDir, `${name}.mjs`)).href);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, ...rest] = process.argv.slice(2);
  process.argv = [process.argv[0], entry, ...rest];
  await runBundled(entry);
}
