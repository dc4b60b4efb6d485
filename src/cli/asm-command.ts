/** `minivisor asm`: assembles a NASM-syntax file into a flat binary (like `nasm -f bin`). */
import type { Command } from './command.ts';
import { UserError } from './user-error.ts';
import { checkInputFile, checkOutputFile, fileUserError, writeOutputFile } from './files.ts';
import { formatDiagnostic, type AssembleResult } from '../asm/index.ts';
import { assembleFile } from '../asm/node-files.ts';
import { formatSymbolMap } from '../asm/symbol-map.ts';

const usage = `usage: minivisor asm FILE.asm [-o OUT] [--listing FILE] [--symbols FILE] [-D NAME[=VALUE]] [-I DIR]

Assembles FILE.asm (NASM syntax, as nasm -f bin would) into a flat binary.
  -o OUT            output file (default: FILE with the extension .bin)
  --listing FILE    write a listing: address, bytes and source of every line
  --symbols FILE    write the symbol map: label addresses, and which source line each address comes from
  -D NAME[=VALUE]   define a preprocessor name, like %define NAME VALUE (repeatable)
  -I DIR            add a directory to search for %include and INCBIN files (repeatable)
Errors are reported as file:line:column; nothing is written when there are errors.`;

interface AsmArguments {
  input: string;
  output?: string;
  listing?: string;
  symbols?: string;
  defines: Record<string, string>;
  includePaths: string[];
}

function parseArguments(args: string[]): AsmArguments {
  const result: AsmArguments = { input: '', defines: {}, includePaths: [] };
  const value = (i: number, flag: string): string => {
    const v = args[i];
    if (v === undefined) throw new UserError(`${flag} needs a value\n\n${usage}`);
    return v;
  };
  const define = (text: string): void => {
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    if (!/^[A-Za-z_.?$@][\w.?$@#~]*$/.test(name)) throw new UserError(`-D: '${name}' is not a valid name`);
    result.defines[name] = eq < 0 ? '' : text.slice(eq + 1);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o') result.output = value(++i, a);
    else if (a === '--listing' || a === '-l') result.listing = value(++i, a);
    else if (a === '--symbols') result.symbols = value(++i, a);
    else if (a === '-D') define(value(++i, a));
    else if (a.startsWith('-D')) define(a.slice(2));
    else if (a === '-I') result.includePaths.push(value(++i, a));
    else if (a.startsWith('-I')) result.includePaths.push(a.slice(2));
    else if (a.startsWith('-') && a !== '-') throw new UserError(`unknown option '${a}'\n\n${usage}`);
    else if (result.input) throw new UserError(`only one input file, please (got '${result.input}' and '${a}')`);
    else result.input = a;
  }
  if (!result.input) throw new UserError(`no input file\n\n${usage}`);
  return result;
}

export function defaultOutputName(input: string): string {
  return /\.[^./\\]*$/.test(input) ? input.replace(/\.[^./\\]*$/, '.bin') : `${input}.bin`;
}

export const asmCommand: Command = {
  usage,
  async run(args: string[]): Promise<number> {
    const options = parseArguments(args);
    checkInputFile(options.input);
    const output = options.output ?? defaultOutputName(options.input);
    // Every output is checked before anything is written, so that a bad path writes nothing.
    checkOutputFile(output, '-o');
    if (options.listing) checkOutputFile(options.listing, '--listing');
    if (options.symbols) checkOutputFile(options.symbols, '--symbols');
    let result: AssembleResult;
    try {
      result = assembleFile(options.input, { defines: options.defines, includePaths: options.includePaths });
    } catch (e) {
      throw fileUserError(e, options.input, 'read') ?? e;
    }
    for (const d of result.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    if (!result.ok) {
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
      throw new UserError(`${errors} error${errors === 1 ? '' : 's'} in ${options.input}; no output written`, 1);
    }
    writeOutputFile(output, result.bytes, '-o');
    if (options.listing) writeOutputFile(options.listing, result.listing, '--listing');
    if (options.symbols) writeOutputFile(options.symbols, formatSymbolMap(result.symbols, result.lineMap, result.labels), '--symbols');
    return 0;
  },
};
