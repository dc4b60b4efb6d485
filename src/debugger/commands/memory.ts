/** Looking at memory and code: x, xp, disas, list. */
import { hex } from '../../cpu/physical-memory.ts';
import { CommandError } from '../command-error.ts';
import type { DebugSession } from '../session.ts';
import { shortPath } from '../symbols.ts';
import { countArgument, words, type DebugCommand } from './command.ts';
import { formatValue } from './state.ts';

/** gdb's x/NFU: how many, in which format, of which unit. */
interface ExamineFormat {
  count: number;
  format: string;
  unit: number;
}

const UNITS: Record<string, number> = { b: 1, h: 2, w: 4, g: 8 };

function parseFormat(text: string, last: ExamineFormat): ExamineFormat {
  const m = /^(\d*)([xduotcsia]?)([bhwg]?)([xduotcsia]?)$/.exec(text);
  if (!m) throw new CommandError(`'/${text}' is not a format: /NFU with N a count, F one of x d u o t c s i a, U one of b h w g (x/8xb, x/4i)`);
  const format = m[2] || m[4] || last.format;
  const unit = m[3] ? UNITS[m[3]] : format === 'c' ? 1 : format === 'a' ? 4 : last.unit;
  const count = m[1] ? Number(m[1]) : 1;
  const max = format === 'i' || format === 's' ? 1000 : 4096;
  if (count < 1 || count > max) throw new CommandError(`/${text}: show 1 to ${max} ${format === 'i' ? 'instructions' : format === 's' ? 'strings' : 'units'} at a time`);
  return { count, format, unit };
}

/** x and xp: memory at a linear (x) or physical (xp) address, in gdb's formats. */
function examine(session: DebugSession, args: string, repeated: boolean, physical: boolean): string {
  const key = physical ? 'xp' : 'x';
  const last = (session.state.get(key) as { format: ExamineFormat; next: number } | undefined) ?? { format: { count: 1, format: 'x', unit: 4 }, next: -1 };
  const m = /^(?:\/(\S*))?\s*(.*)$/s.exec(args.trim())!;
  const format = m[1] !== undefined ? parseFormat(m[1], last.format) : { ...last.format, count: repeated ? last.format.count : 1 };
  let address: number;
  if (m[2] !== '') {
    const target = session.resolveAddress(m[2]);
    if (target.physical && !physical) {
      // x p:ADDR: the physical one is meant.
      return examine(session, `${m[1] !== undefined ? `/${m[1]} ` : ''}${m[2].slice(2)}`, repeated, true);
    }
    address = target.address;
  } else if (last.next >= 0) {
    address = last.next;
  } else {
    throw new CommandError(`${key} what? ${key}/FMT ADDR (x/4xw esp, x/s 0x8000, x/5i eip)`);
  }
  const lines: string[] = [];
  let next = address;
  if (format.format === 'i') {
    const listed = session.disassembleAt(address, format.count, physical);
    for (const i of listed) lines.push(session.formatInstruction(i, i.linear === session.linearEip && !physical ? '=> ' : '   '));
    if (listed.length < format.count) lines.push(`   ${physical ? 'p:' : ''}${hex(listed.length ? listed[listed.length - 1].linear + listed[listed.length - 1].bytes.length : address)}: not mapped`);
    next = listed.length ? (listed[listed.length - 1].linear + listed[listed.length - 1].bytes.length) >>> 0 : address;
  } else if (format.format === 's') {
    for (let n = 0; n < format.count; n++) {
      const bytes = physical ? session.memory.readPhysical(next, 256) : session.memory.readLinear(next, 256);
      let text = '';
      let i = 0;
      for (; i < bytes.length && bytes[i] !== 0 && bytes[i] !== null; i++) {
        const b = bytes[i] as number;
        text += b === 10 ? '\\n' : b === 13 ? '\\r' : b === 9 ? '\\t' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
      }
      lines.push(`${label(session, next, physical)}"${text}"${bytes[i] === null ? ' (then memory that is not mapped)' : ''}`);
      next = (next + i + 1) >>> 0;
    }
  } else {
    const perLine = format.unit === 1 ? 16 : format.unit === 2 ? 8 : format.unit === 4 ? 4 : 2;
    for (let n = 0; n < format.count; n += perLine) {
      const cells: string[] = [];
      const lineAddress = next;
      for (let k = 0; k < perLine && n + k < format.count; k++) {
        const bytes = physical ? session.memory.readPhysical(next, format.unit) : session.memory.readLinear(next, format.unit);
        if (bytes.some((b) => b === null)) cells.push('?'.repeat(format.unit * 2));
        else if (format.unit === 8) cells.push(`0x${[...bytes].reverse().map((b) => (b as number).toString(16).padStart(2, '0')).join('')}`);
        else {
          const value = bytes.reduceRight<number>((v, b) => v * 256 + (b as number), 0);
          const text = formatValue(value, format.format === 'a' ? 'x' : format.format, format.unit);
          const symbol = format.format === 'a' ? session.symbols.describe(value) : '';
          cells.push(symbol ? `${text} ${symbol}` : text);
        }
        next = (next + format.unit) >>> 0;
      }
      lines.push(`${label(session, lineAddress, physical)}${cells.join('  ')}`);
    }
  }
  session.state.set(key, { format, next });
  return lines.join('\n');
}

/** `0x00007c00 <start>:  ` */
function label(session: DebugSession, address: number, physical: boolean): string {
  const symbol = physical ? '' : session.symbols.describe(address);
  return `${physical ? 'p:' : ''}${hex(address)}${symbol ? ` ${symbol}` : ''}:  `;
}

/** disas [ADDR] [N]: N instructions (default 10) from ADDR (default: from EIP, with the current one marked). */
function disas(session: DebugSession, args: string, repeated: boolean): string {
  const parts = words(args);
  let address = session.linearEip;
  let count = 10;
  const last = session.state.get('disas') as number | undefined;
  if (repeated && last !== undefined) address = last;
  else if (parts.length > 0) {
    // The last word is a count when there are two words (or one that is a plain number and no address).
    const countGiven = parts.length >= 2;
    const target = session.resolveAddress(countGiven ? parts.slice(0, -1).join(' ') : parts[0]);
    if (target.physical) throw new CommandError('disas takes a linear address: for physical memory, xp/10i ADDR');
    address = target.address;
    if (countGiven) count = countArgument(session, parts[parts.length - 1], 1000);
  }
  const listed = session.disassembleAt(address, count);
  if (listed.length === 0) throw new CommandError(`${hex(address)} is not mapped by the guest's page tables`);
  const lines: string[] = [];
  for (const i of listed) {
    const n = session.symbols.nearest(i.linear);
    if (n !== undefined && n.offset === 0) lines.push(`${n.name}:`);
    lines.push(session.formatInstruction(i, i.linear === session.linearEip ? '=> ' : '   '));
  }
  const end = listed[listed.length - 1];
  session.state.set('disas', (end.linear + end.bytes.length) >>> 0);
  return lines.join('\n');
}

/** list [ADDR|FILE.asm:LINE]: the assembly source around an address (default: the next instruction). */
function list(session: DebugSession, args: string, repeated: boolean): string {
  const last = session.state.get('list') as { file: string; line: number } | undefined;
  let file: string;
  let centre: number;
  let from: number;
  if (repeated && last !== undefined) {
    ({ file } = last);
    from = last.line;
    centre = -1;
  } else {
    const address = args.trim() === '' ? session.linearEip : session.resolveAddress(args).address;
    const where = session.symbols.lineAt(address);
    if (where === undefined) {
      throw new CommandError(
        session.symbols.size === 0
          ? 'no source lines are known: debug a .asm file, or give --symbols FILE (minivisor asm --symbols writes one)'
          : `no source line is known for ${hex(address)}${session.symbols.describe(address) ? ` ${session.symbols.describe(address)}` : ''}`,
      );
    }
    file = where.file;
    centre = where.line;
    from = Math.max(1, where.line - 5);
  }
  const text = session.host.readFile(file);
  if (text === undefined) throw new CommandError(`cannot read ${file}`);
  const lines = text.split('\n');
  const current = session.symbols.lineAt(session.linearEip);
  const out: string[] = [];
  for (let n = from; n < from + 11 && n <= lines.length; n++) {
    const here = current !== undefined && current.file === file && current.line === n;
    out.push(`${here ? '=>' : n === centre ? ' >' : '  '}${String(n).padStart(5)}  ${lines[n - 1]}`);
  }
  if (out.length === 0) throw new CommandError(`${shortPath(file)} has only ${lines.length} lines`);
  session.state.set('list', { file, line: from + 11 });
  return `${shortPath(file)}:\n${out.join('\n')}`;
}

export const memoryCommands: DebugCommand[] = [
  {
    name: 'x',
    usage: 'x/NFU ADDR',
    summary: 'memory at a linear address, through the guest\'s page tables (gdb\'s formats)',
    help:
      'N how many, F the format (x hex, d signed, u unsigned, o octal, t binary, c char, a address\n' +
      'with its symbol, s string, i instruction), U the unit (b byte, h half-word, w word = 4 bytes,\n' +
      'g giant = 8). x/8xb 0x7c00, x/4xw esp, x/s msg, x/5i pc (pc: CS base + EIP). Formats stick; an\n' +
      'empty line goes on from where the last x stopped. Reading changes nothing (no accessed bits).',
    repeats: true,
    repeatArgs: () => '',
    run: (session, args, repeated) => examine(session, args, repeated, false),
  },
  {
    name: 'xp',
    usage: 'xp/NFU ADDR',
    summary: 'memory at a guest-physical address (as x)',
    repeats: true,
    repeatArgs: () => '',
    run: (session, args, repeated) => examine(session, args, repeated, true),
  },
  {
    name: 'disas',
    aliases: ['disassemble'],
    usage: 'disas [ADDR] [N]',
    summary: 'disassemble N instructions (default 10) from ADDR (default: from EIP), with symbols',
    repeats: true,
    run: disas,
  },
  {
    name: 'list',
    aliases: ['l'],
    usage: 'list [ADDR|FILE.asm:LINE]',
    summary: 'the assembly source around an address (default: the next instruction)',
    repeats: true,
    run: list,
  },
];
