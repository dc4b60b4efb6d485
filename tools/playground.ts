/**
 * `npm run playground`: builds the playground (minivisor in a browser tab: src/playground) into
 * dist/playground and serves it on localhost. `npm run playground -- --build` only builds,
 * `--port N` picks the port (default 8086), `--out DIR` another folder.
 */
import { join, resolve } from 'node:path';
import { parseNumber, parseOptions } from '../src/cli/args.ts';
import { UserError } from '../src/cli/user-error.ts';
import { projectRoot } from '../src/project-root.ts';
import { buildPlayground, servePlayground } from './playground-build.ts';

const root = projectRoot();

const USAGE = `usage: npm run playground [-- --build] [--port N] [--out DIR]

Builds the playground (minivisor in a browser tab) into DIR (default dist/playground) and serves
it on http://localhost:N/ (default 8086; 0: any free port). --build only builds.`;

async function main(): Promise<void> {
  const { options, positionals } = parseOptions(process.argv.slice(2), { '--build': false, '--port': true, '--out': true, '--help': false, '-h': false }, USAGE);
  if (options.has('--help') || options.has('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length > 0) throw new UserError(`playground takes no file ('${positionals[0]}')\n\n${USAGE}`);
  const out = resolve(options.get('--out')?.at(-1) ?? join(root, 'dist', 'playground'));
  const port = parseNumber(options.get('--port')?.at(-1) ?? '8086', '--port');
  if (port > 65535) throw new UserError(`--port ${port}: a port is at most 65535`);
  await buildPlayground(out);
  process.stdout.write(`playground: built ${out}\n`);
  if (options.has('--build')) return;
  try {
    const served = await servePlayground(out, port);
    process.stdout.write(`playground: open http://localhost:${served.port}/ (Ctrl-C stops the server)\n`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot listen on port ${port}${code === 'EADDRINUSE' ? ': it is in use; pick another with --port N' : `: ${String(e)}`}`, 1);
  }
}

main().catch((e) => {
  // A mistake in the options is the user's: said without a stack trace.
  if (!(e instanceof UserError)) throw e;
  process.stderr.write(`playground: ${e.message}\n`);
  process.exitCode = e.exitCode;
});
