#!/usr/bin/env node
// The `minivisor` command: runs src/cli/main.ts from a cached bundle (see run-bundled.js).
import { runBundled } from './run-bundled.js';

process.argv = [process.argv[0], 'minivisor', ...process.argv.slice(2)];
await runBundled('src/cli/main.ts');
