// Runs a TypeScript entry point from an esbuild bundle, rebuilt when a file it was made from
// changed (inputs.json beside it), and compiled from a V8 code cache kept beside it too.
//
// Why a bundle: run module by module (tsx), every imported constant such as a state-array index
// is read through a getter call, which cost the CPU's hot path over a third of its speed.
// esbuild's bundler inlines those constants across modules. The bundle is a cache, not a
// build step: it lives in node_modules/.cache and is made on first use (about 0.3 s).
//
// Why a code cache: start-up is what a user waits for on every run (`npm run bench` prints it).
// Loaded as ES modules, the bundle cost about 45 ms of module loading, parsing and compiling
// before the first guest instruction, and Node 20 keeps no compiled code between runs. So the
// bundle is one CommonJS-style function, compiled with node:vm from the code V8 serialized at
// the end of an earlier run (`createCachedData` after running holds every function that run
// compiled). One cache per subcommand, since each compiles different code; a cache V8 refuses
// (another Node, other flags) is made again at the end of the run. Modules a command imports
// dynamically are evaluated only when it runs (esbuild keeps them as lazily initialized parts).
//
// This file is CommonJS (bin/package.json): Node starts a CommonJS script about 7 ms sooner.
const { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { basename, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { setFlagsFromString } = require('node:v8');
const { Script } = require('node:vm');

const root = join(__dirname, '..');

// V8 refuses a code cache made under other flags, so this is set before anything is compiled;
// src/cli/tune-v8.ts says why, and sets the same for runs that do not come through here (tests).
setFlagsFromString('--max-inlined-bytecode-size-cumulative=4000');

/** The bundle is one function of these: CommonJS's, and what stands for `import.meta` in the sources. */
const PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname', '__import_meta_url', '__import_meta_dirname'];

/**
 * Bundles `entry` (a path relative to the project root) into `dir`: `name`.cjs, a function
 * expression of PARAMETERS, and inputs.json, the files it was made from with their times.
 */
async function bundle(entry, dir, name) {
  // esbuild is loaded only when a build is due: loading it costs ~20 ms.
  const { build } = await import('esbuild');
  const file = join(dir, `${name}.cjs`);
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minifySyntax: true,
    // Packages are bundled too (binary-parser as a package, through Node's CommonJS interop,
    // cost each start 16 ms), except iced-x86, which loads its WebAssembly from its own files
    // (and only the disassembler loads it), esbuild, which runs its binary from its own folder
    // (the playground's build uses it), and playwright-core, which reads its own files (the
    // benchmark drives Chromium with it).
    external: ['iced-x86', 'esbuild', 'playwright-core'],
    define: { 'import.meta.url': '__import_meta_url', 'import.meta.dirname': '__import_meta_dirname' },
    banner: { js: `(function (${PARAMETERS.join(', ')}) {` },
    footer: { js: '})' },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'error',
  });
  // esbuild escapes every character outside ASCII in code, but not in the comments it keeps;
  // one such character makes V8 hold the whole source as two-byte text, slower to read (~8 ms).
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(text)) writeFileSync(file, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  // This file too: it says how the sources are bundled.
  const inputs = [...Object.keys(metafile.inputs).map((path) => join(root, path)), __filename];
  writeFileSync(join(dir, 'inputs.json'), JSON.stringify(inputs.map((path) => [path, statSync(path).mtimeMs])));
  return readFileSync(file, 'latin1');
}

/**
 * Whether a file the bundle in `dir` was made from has changed since. Only the bundle's own
 * inputs are checked (~140 files, 2 ms), not every file under src/ and tools/.
 */
function isStale(dir) {
  try {
    const inputs = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
    // Another checkout sharing this node_modules (a symlink, a worktree) made it from its own files.
    if (inputs.some(([path]) => !path.startsWith(join(root, '/')))) return true;
    return inputs.some(([path, mtime]) => statSync(path, { throwIfNoEntry: false })?.mtimeMs !== mtime);
  } catch {
    return true;
  }
}

/** The bundle `source` of `file` compiled, from the code cache `codeCache` when there is one V8 accepts. */
function compile(source, file, codeCache) {
  const cachedData = existsSync(codeCache) ? readFileSync(codeCache) : undefined;
  const script = new Script(source, {
    filename: file,
    cachedData,
    importModuleDynamically: (specifier) => import(specifier),
  });
  return { script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * Bundles `entry` (a path relative to the project root) if needed and runs it. `cacheName`
 * picks the code cache (one per subcommand: the code a run compiles depends on what it does).
 */
async function runBundled(entry, cacheName = 'main') {
  const name = basename(entry).replace(/\.ts$/, '');
  const cache = join(root, 'node_modules', '.cache', 'minivisor');
  const dir = join(cache, name);
  const file = join(dir, `${name}.cjs`);
  const codeCache = join(dir, `${name}.${cacheName.replace(/[^a-z0-9-]/gi, '_')}.v8cache`);
  let compiled = null;
  try {
    if (!isStale(dir)) compiled = compile(readFileSync(file, 'latin1'), file, codeCache);
  } catch {
    // Another process is replacing the bundle.
  }
  if (compiled === null) {
    mkdirSync(cache, { recursive: true });
    const tmp = `${dir}.${process.pid}.tmp`;
    // Compiled from memory: another process rebuilding at the same time may remove the directory.
    const source = await bundle(entry, tmp, name);
    // The old bundle and its code caches are moved aside before they are removed: processes
    // that start meanwhile find either the old directory whole or the new one.
    const old = `${dir}.${process.pid}.old`;
    try {
      renameSync(dir, old);
    } catch {
      // There was none, or another process moved it.
    }
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process put its build there first.
    }
    for (const leftover of [old, tmp]) rmSync(leftover, { recursive: true, force: true, maxRetries: 3 });
    compiled = compile(source, file, codeCache);
  }
  const { script, cached } = compiled;
  if (!cached) {
    process.on('exit', () => {
      try {
        const tmp = `${codeCache}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, codeCache);
      } catch {
        // A read-only checkout runs without the cache.
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, file, dir, pathToFileURL(file).href, dir);
}

module.exports = { runBundled };

if (require.main === module) {
  const [entry, ...rest] = process.argv.slice(2);
  process.argv = [process.argv[0], entry, ...rest];
  runBundled(entry).catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 70;
  });
}
