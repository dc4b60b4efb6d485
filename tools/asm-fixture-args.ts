/**
 * Assembly fixtures may start with a line `; nasm-args: -DNAME=VALUE -I dir/` giving the
 * defines and include paths to assemble them with, for nasm (tools) and minivisor (tests) alike.
 */
import { dirname, join } from 'node:path';

export interface FixtureArguments {
  nasmArgs: string[];
  defines: Record<string, string>;
  includePaths: string[];
}

export function fixtureArguments(source: string, file: string): FixtureArguments {
  const m = /^;\s*nasm-args:(.*)$/m.exec(source);
  const nasmArgs = m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
  const defines: Record<string, string> = {};
  const includePaths: string[] = [];
  for (const arg of nasmArgs) {
    if (arg.startsWith('-D')) {
      const [name, value] = arg.slice(2).split('=');
      defines[name!] = value ?? '';
    } else if (arg.startsWith('-I')) {
      includePaths.push(join(dirname(file), arg.slice(2)));
    }
  }
  // nasm is run in the fixture's directory, so -I paths stay as written.
  return { nasmArgs, defines, includePaths };
}
