/**
 * `npm run playground`: builds the playground (minivisor in a browser tab: src/playground) into
 * dist/playground and serves it on localhost. `npm run playground -- --build` only builds,
 * `--port N` picks the port (default 8086), `--out DIR` another folder.
 */
import { join, resolve } from 'node:path';
import { projectRoot } from '../src/project-root.ts';
import { buildPlayground, servePlayground } from './playground-build.ts';

const root = projectRoot();

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  const out = resolve(value('--out') ?? join(root, 'dist', 'playground'));
  const portText = value('--port') ?? '8086';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`playground: --port ${portText}: write a port number (0-65535)\n`);
    process.exitCode = 2;
    return;
  }
  await buildPlayground(out);
  process.stdout.write(`playground: built ${out}\n`);
  if (args.includes('--build')) return;
  try {
    const served = await servePlayground(out, port);
    process.stdout.write(`playground: open http://localhost:${served.port}/ (Ctrl-C stops the server)\n`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    process.stderr.write(`playground: cannot listen on port ${port}${code === 'EADDRINUSE' ? ': it is in use; pick another with --port N' : `: ${String(e)}`}\n`);
    process.exitCode = 1;
  }
}

void main();
