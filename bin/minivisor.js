#!/usr/bin/env node
// The `minivisor` command: runs src/cli/main.ts from a cached bundle (see run-bundled.js).
// CommonJS (bin/package.json), like run-bundled.js: Node starts a CommonJS script sooner.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { runBundled } = require('./run-bundled.js');

const args = process.argv.slice(2);
process.argv = [process.argv[0], 'minivisor', ...args];
// Each subcommand (src/cli/NAME-command.ts) has its own code cache; anything else (help, a typo) shares one.
const command = /^[a-z]+$/.test(args[0] ?? '') && existsSync(join(__dirname, '..', 'src', 'cli', `${args[0]}-command.ts`)) ? args[0] : 'other';
runBundled('src/cli/main.ts', command).catch((error) => {
  process.stderr.write(`minivisor: cannot start: ${error?.stack ?? error}\n`);
  process.exitCode = 70;
});
