/**
 * Building and serving the playground, for `npm run playground` (tools/playground.ts) and its
 * tests: the playground (minivisor in a browser tab: src/playground) is a static folder, which
 * any web server can serve: no server code is needed.
 *
 * What the build writes beside the page and its worker (esbuild bundles, for browsers): the BIOS
 * assembled by the project's assembler and its symbols (the worker cannot read firmware/), the
 * example guests' sources (examples.json) and xterm.js's stylesheet.
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { builtinBios, builtinBiosSymbols } from '../src/cli/firmware.ts';
import { projectRoot } from '../src/project-root.ts';

const root = projectRoot();

/** The example guests the page offers: folder, main file, and what it shows. */
const EXAMPLES: [name: string, folder: string, main: string, title: string][] = [
  ['hello', 'guests/hello', 'hello.asm', 'a boot sector prints through the BIOS'],
  ['kernel', 'guests/kernel', 'kernel.asm', 'the toy kernel: protected mode, paging, ring 3, int 0x80'],
  ['loader', 'guests/loader', 'loader.asm', 'a two-stage boot loader (INT 13h)'],
  ['timer', 'guests/timer', 'timer.asm', "the timer's interrupts, counted"],
  ['e820', 'guests/e820', 'e820.asm', "the BIOS's memory map (INT 15h E820)"],
  ['keyboard', 'guests/keyboard', 'keyboard.asm', 'echoes what you type in the terminal (INT 16h)'],
];

/** The exercises' skeletons (guests/exercises/NN-name/start.asm), with the files they include. */
function exercises(): [name: string, files: Record<string, string>, title: string][] {
  const dir = join(root, 'guests', 'exercises');
  const common: Record<string, string> = {};
  for (const file of readdirSync(join(dir, 'common'))) common[file] = readFileSync(join(dir, 'common', file), 'latin1');
  return readdirSync(dir)
    .filter((name) => /^\d\d-/.test(name) && existsSync(join(dir, name, 'start.asm')))
    .sort()
    .map((name) => {
      const start = readFileSync(join(dir, name, 'start.asm'), 'latin1');
      // Its first line says what it is: "; Exercise 07: a process in ring 3 that ...".
      const title = /^;\s*(.*)/.exec(start)?.[1] ?? name;
      return [`exercise ${name}`, { ...common, 'start.asm': start }, title];
    });
}

/**
 * iced-x86 (the debugger's disassembler) is built for Node: it reads its wasm with fs and path,
 * and takes TextDecoder from util. In the page's worker these are small stand-ins: the wasm
 * comes inside the bundle.
 */
const nodeStandIns: Plugin = {
  name: 'iced-x86-in-a-worker',
  setup(b) {
    b.onResolve({ filter: /^(fs|path|util)$/ }, (args) => ({ path: args.path, namespace: 'stand-in' }));
    b.onLoad({ filter: /.*/, namespace: 'stand-in' }, (args) => {
      const contents =
        args.path === 'fs'
          ? "import wasm from 'iced-x86/iced_x86_bg.wasm'; export function readFileSync() { return wasm; }"
          : args.path === 'path'
            ? 'export function join(...parts) { return parts.join("/"); }'
            : 'export const TextDecoder = globalThis.TextDecoder, TextEncoder = globalThis.TextEncoder;';
      return { contents, loader: 'js', resolveDir: root };
    });
  },
};

/** Builds the page into `out`. */
export async function buildPlayground(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { page: join(root, 'src/playground/page.ts'), worker: join(root, 'src/playground/worker.ts') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minifySyntax: true,
    sourcemap: true,
    loader: { '.wasm': 'binary' },
    define: { __dirname: '"."' }, // (iced-x86's path to its wasm, which the fs stand-in ignores)
    plugins: [nodeStandIns],
    logLevel: 'error',
  });
  for (const file of ['index.html', 'style.css']) writeFileSync(join(out, file), readFileSync(join(root, 'src/playground/static', file)));
  writeFileSync(join(out, 'xterm.css'), readFileSync(join(root, 'node_modules/@xterm/xterm/css/xterm.css')));
  writeFileSync(join(out, 'bios.bin'), builtinBios());
  const symbols = builtinBiosSymbols();
  writeFileSync(join(out, 'bios-symbols.json'), JSON.stringify({ symbols: [...symbols.symbols], constants: [...symbols.constants], lineMap: [...symbols.lineMap] }));
  const examples: Record<string, { title: string; main: string; files: Record<string, string> }> = {};
  for (const [name, folder, main, title] of EXAMPLES) {
    const files: Record<string, string> = {};
    for (const file of readdirSync(join(root, folder))) {
      if (/\.(asm|inc)$/.test(file)) files[file] = readFileSync(join(root, folder, file), 'latin1');
    }
    examples[name] = { title, main, files };
  }
  for (const [name, files, title] of exercises()) examples[name] = { title, main: 'start.asm', files };
  writeFileSync(join(out, 'examples.json'), JSON.stringify(examples));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json', '.bin': 'application/octet-stream',
};

/** Serves `dir` on localhost:`port` (0: any free port); resolves with the port once listening. */
export function servePlayground(dir: string, port: number): Promise<{ port: number; close(): void }> {
  const server = createServer((request, response) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400).end('bad request');
      return;
    }
    const file = resolve(dir, `.${path === '/' ? '/index.html' : path}`);
    if (!file.startsWith(resolve(dir) + sep) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      done({ port: typeof address === 'object' && address !== null ? address.port : port, close: () => server.close() });
    });
  });
}
