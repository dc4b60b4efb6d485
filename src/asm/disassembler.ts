/**
 * NASM-syntax disassembly with iced-x86's decoder and its NASM formatter, configured to print
 * what our assembler (and nasm) read back: 0x hex numbers, explicit short/near on branches,
 * absolute branch targets. Bytes that do not decode become `db`. Node and browsers alike can
 * load iced-x86, but it is kept out of index.ts so that the assembler does not pull in wasm.
 */
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';

export interface DisassemblyOptions {
  bits: 16 | 32;
  /** Address of the first byte. */
  org: number;
}

export interface DisassembledInstruction {
  address: number;
  bytes: Uint8Array;
  text: string;
}

function makeFormatter(): Formatter {
  const f = new Formatter(FormatterSyntax.Nasm);
  f.hexPrefix = '0x';
  f.hexSuffix = '';
  f.uppercaseHex = false;
  f.leadingZeros = false;
  f.branchLeadingZeros = false;
  f.displacementLeadingZeros = false;
  f.addLeadingZeroToHexNumbers = false;
  f.showBranchSize = true;
  f.spaceAfterOperandSeparator = true;
  f.smallHexNumbersInDecimal = false;
  return f;
}

export function disassemble(code: Uint8Array, options: DisassemblyOptions): DisassembledInstruction[] {
  const decoder = new Decoder(options.bits, code, DecoderOptions.None);
  decoder.ip = BigInt(options.org);
  const formatter = makeFormatter();
  const out: DisassembledInstruction[] = [];
  try {
    while (decoder.canDecode) {
      const offset = decoder.position;
      const instruction = decoder.decode();
      const length = instruction.length;
      const address = options.org + offset;
      if (instruction.isInvalid) {
        // Undecodable (or truncated) bytes: show them as data, one at a time.
        decoder.position = offset + 1;
        decoder.ip = BigInt(address + 1);
        out.push({ address, bytes: code.subarray(offset, offset + 1), text: `db 0x${code[offset]!.toString(16).padStart(2, '0')}` });
      } else {
        out.push({ address, bytes: code.subarray(offset, offset + length), text: formatter.format(instruction) });
      }
      instruction.free();
    }
  } finally {
    formatter.free();
    decoder.free();
  }
  return out;
}

/** One line per instruction: address, hex bytes, instruction text. */
export function formatDisassembly(lines: DisassembledInstruction[]): string {
  const width = Math.max(8, ...lines.map((l) => l.bytes.length * 2));
  return lines
    .map((l) => {
      const hex = Array.from(l.bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
      return `${l.address.toString(16).toUpperCase().padStart(8, '0')}  ${hex.padEnd(width)}  ${l.text}`;
    })
    .join('\n') + '\n';
}
