/**
 * NASM-syntax disassembly with iced-x86's decoder and its NASM formatter, configured to print
 * what our assembler (and nasm) read back: 0x hex numbers, explicit short/near on branches,
 * absolute branch targets. Bytes that do not decode become `db`. Node and browsers alike can
 * load iced-x86, but it is kept out of index.ts so that the assembler does not pull in wasm.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Formatter, FormatterSyntax, type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';

export interface DisassemblyOptions {
  bits: 16 | 32;
  /** Address of the first byte. */
  org: number;
  /**
   * True (the default): text an assembler turns back into these very bytes (`strict dword 0x4`
   * where 0x4 alone would assemble shorter). False: as people read it (a debugger's listing).
   */
  reassemblable?: boolean;
}

/** What an instruction does to the flow of control, as a debugger's `next` and `finish` need it. */
export type Flow = 'next' | 'branch' | 'call' | 'interrupt' | 'return' | 'iret' | 'invalid';

export interface DisassembledInstruction {
  address: number;
  bytes: Uint8Array;
  text: string;
  flow: Flow;
  /** A string instruction with a REP, REPE or REPNE prefix. */
  rep: boolean;
  /** Where a near direct branch or call goes, else null. */
  target: number | null;
}

function flowOf(instruction: Instruction): Flow {
  switch (instruction.flowControl) {
    case FlowControl.Call:
    case FlowControl.IndirectCall:
      // CALL near and far; not VMCALL and its kind, which iced also files under calls.
      return instruction.mnemonic === Mnemonic.Call ? 'call' : 'next';
    case FlowControl.Interrupt:
      return 'interrupt';
    case FlowControl.Return:
      return instruction.code === Code.Iretw || instruction.code === Code.Iretd ? 'iret' : 'return';
    case FlowControl.UnconditionalBranch:
    case FlowControl.IndirectBranch:
    case FlowControl.ConditionalBranch:
      return 'branch';
    default:
      return 'next';
  }
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
  // Keep redundant segment overrides such as `ss` on [bp]: they are bytes of the program.
  f.showUselessPrefixes = true;
  return f;
}

const fitsByte = (n: bigint, bits: number): boolean => {
  const v = BigInt.asIntN(bits, n);
  return v >= -128n && v <= 127n;
};

/**
 * The formatter's text, plus the hints that make an assembler pick these very bytes where its
 * default choice would be shorter: `[word bx+0x28]` for a displacement longer than needed, and
 * `strict word 0x5` for an immediate that could have been a sign-extended byte.
 */
function reassemblableText(instruction: Instruction, formatter: Formatter, bits: number): string {
  const count = formatter.operandCount(instruction);
  const operands: string[] = [];
  let changed = false;
  for (let i = 0; i < count; i++) {
    let text = formatter.formatOperand(instruction, i);
    const op = formatter.getInstructionOperand(instruction, i);
    const kind = op === undefined ? undefined : instruction.opKind(op);
    if (kind === OpKind.Memory) {
      const size = instruction.memoryDisplSize;
      const based = instruction.memoryBase !== Register.None || instruction.memoryIndex !== Register.None;
      if (based && (size === 2 || size === 4) && fitsByte(instruction.memoryDisplacement, size * 8)) {
        text = text.replace('[', size === 2 ? '[word ' : '[dword ');
        changed = true;
      }
    } else if (kind === OpKind.Immediate16 || kind === OpKind.Immediate32) {
      const wide = kind === OpKind.Immediate16 ? 16 : 32;
      const value = BigInt(kind === OpKind.Immediate16 ? instruction.immediate16 : instruction.immediate32);
      const pushOtherSize = (instruction.code === Code.Pushd_imm32 && bits === 16) || (instruction.code === Code.Push_imm16 && bits === 32);
      if (fitsByte(value, wide) || pushOtherSize) {
        text = `strict ${wide === 16 ? 'word' : 'dword'} ${text}`;
        changed = true;
      }
    }
    operands.push(text);
  }
  // A near jump whose target is close: say `near`, or an assembler would make it short.
  const nearByChoice = (instruction.isJmpNear || instruction.isJccNear) && !/\bnear\b/.test(operands[0] ?? '');
  if (nearByChoice) {
    operands[0] = `near ${operands[0]}`;
    changed = true;
  }
  if (!changed) return formatter.format(instruction);
  return `${formatter.formatMnemonic(instruction)} ${operands.join(', ')}`;
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
        out.push({ address, bytes: code.subarray(offset, offset + 1), text: `db 0x${code[offset]!.toString(16).padStart(2, '0')}`, flow: 'invalid', rep: false, target: null });
      } else {
        const flow = flowOf(instruction);
        const direct = instruction.op0Kind === OpKind.NearBranch16 || instruction.op0Kind === OpKind.NearBranch32;
        out.push({
          address,
          bytes: code.subarray(offset, offset + length),
          text: options.reassemblable === false ? formatter.format(instruction) : reassemblableText(instruction, formatter, options.bits),
          flow,
          rep: instruction.isStringInstruction && (instruction.hasRepPrefix || instruction.hasRepePrefix || instruction.hasRepnePrefix),
          target: direct ? Number(instruction.nearBranchTarget) >>> 0 : null,
        });
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
  // (A loop, not Math.max(...lines): a large file has more lines than a call can take arguments.)
  let width = 8;
  for (const l of lines) width = Math.max(width, l.bytes.length * 2);
  return lines
    .map((l) => {
      const hex = Array.from(l.bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
      return `${l.address.toString(16).toUpperCase().padStart(8, '0')}  ${hex.padEnd(width)}  ${l.text}`;
    })
    .join('\n') + '\n';
}
