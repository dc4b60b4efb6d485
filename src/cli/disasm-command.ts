/** `minivisor disasm`: NASM-syntax disassembly of a flat binary, via iced-x86. */
import type { Command } from './command.ts';
import { UserError } from './user-error.ts';
import { readInputFile } from './files.ts';

const usage = `usage: minivisor disasm FILE [--bits 16|32] [--org ADDR]

Prints the NASM-syntax disassembly of a flat binary: address, bytes, instruction.
  --bits 16|32   code size to decode (default 16, as a boot sector or BIOS starts)
  --org ADDR     address of the file's first byte (default 0; 0x7c00 for a boot sector)
Data is decoded as if it were code; bytes that are no instruction are shown as db.`;

export const disasmCommand: Command = {
  usage,
  async run(args: string[]): Promise<number> {
    let file: string | undefined;
    let bits: 16 | 32 = 16;
    let org = 0;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--bits') {
        const v = args[++i];
        if (v !== '16' && v !== '32') throw new UserError(`--bits must be 16 or 32, not '${v ?? ''}'`);
        bits = v === '16' ? 16 : 32;
      } else if (a === '--org') {
        const v = args[++i] ?? '';
        const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v.slice(2), 16) : /^[0-9a-f]+h$/i.test(v) ? parseInt(v.slice(0, -1), 16) : /^\d+$/.test(v) ? Number(v) : NaN;
        if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) throw new UserError(`--org needs an address such as 0x7c00, not '${v}'`);
        org = n;
      } else if (a.startsWith('-')) {
        throw new UserError(`unknown option '${a}'\n\n${usage}`);
      } else if (file) {
        throw new UserError('only one input file, please');
      } else file = a;
    }
    if (!file) throw new UserError(`no input file\n\n${usage}`);
    const bytes = readInputFile(file);
    // iced-x86 is large: load it only when disassembling, so every other command starts fast.
    const { disassemble, formatDisassembly } = await import('../asm/disassembler.ts');
    process.stdout.write(formatDisassembly(disassemble(bytes, { bits, org })));
    return 0;
  },
};
