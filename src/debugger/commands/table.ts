/**
 * The debugger's commands, by name and alias, with `help`, `info` (whose topics live with the
 * commands they belong to), `source` and `quit`.
 */
import { CommandError } from '../command-error.ts';
import type { DebugSession } from '../session.ts';
import { words, type DebugCommand } from './command.ts';
import { executionCommands } from './execution.ts';
import { historyCommands, historyTopics } from './history.ts';
import { memoryCommands } from './memory.ts';
import { pointCommands } from './points.ts';
import { stateCommands, stateTopics, type InfoTopic } from './state.ts';
import { vmmCommands, vmmTopics } from './vmm.ts';

const breakTopic: InfoTopic = {
  name: 'break',
  aliases: ['breakpoints', 'b', 'watchpoints', 'watch'],
  usage: 'info break',
  summary: 'breakpoints, watchpoints and catchpoints, with how often each was hit',
  run: (s) => s.debugger.points.format(),
};

const symbolsTopic: InfoTopic = {
  name: 'symbols',
  aliases: ['symbol'],
  usage: 'info symbols [TEXT]',
  summary: 'the labels the debugger knows (whose names contain TEXT)',
  run(s, args) {
    const filter = args.trim();
    const names = s.symbols.names().filter((n) => filter === '' || n.includes(filter)).sort();
    if (names.length === 0) return filter ? `No symbol contains '${filter}'.` : 'No symbols: debug a .asm file, or give --symbols FILE.';
    const shown = names.slice(0, 200).map((n) => `  ${`0x${(s.symbols.lookup(n)! >>> 0).toString(16).padStart(8, '0')}`}  ${n}`);
    return [...shown, ...(names.length > 200 ? [`  ... ${names.length - 200} more (info symbols TEXT narrows them)`] : [])].join('\n');
  },
};

/** The topics of `info`, in the order `help info` lists them. */
export const INFO_TOPICS: InfoTopic[] = [...stateTopics.slice(0, 1), breakTopic, ...stateTopics.slice(1), ...vmmTopics, ...historyTopics, symbolsTopic];

function findTopic(name: string): InfoTopic | undefined {
  return INFO_TOPICS.find((t) => t.name === name || t.aliases?.includes(name));
}

const infoCommand: DebugCommand = {
  name: 'info',
  aliases: ['i'],
  usage: 'info TOPIC',
  summary: 'the state of the machine: info registers, break, gdt, idt, tss, tlb, mem, fault, vmcs, ept, shadow...',
  run(session, args) {
    const [topic, ...rest] = words(args);
    if (topic === undefined) return helpInfo();
    const found = findTopic(topic.toLowerCase());
    if (found === undefined) throw new CommandError(`no topic '${topic}': ${INFO_TOPICS.map((t) => t.name).join(', ')}`);
    return found.run(session, rest.join(' '));
  },
};

function helpInfo(): string {
  return ['info TOPIC, where TOPIC is one of:', ...INFO_TOPICS.map((t) => `  ${t.usage.padEnd(28)} ${t.summary}`)].join('\n');
}

const CATEGORIES: [string, string[]][] = [
  ['Running the guest', ['step', 'next', 'continue', 'until', 'finish', 'type']],
  ['Going back', ['reverse-step', 'reverse-next', 'reverse-continue', 'goto', 'snapshot']],
  ['Stopping it', ['break', 'tbreak', 'watch', 'rwatch', 'awatch', 'catch', 'delete', 'disable', 'enable']],
  ['The CPU', ['registers', 'set', 'print', 'info', 'cpu']],
  ['Memory and code', ['x', 'xp', 'disas', 'list']],
  ['The VMM', ['translate', 'exits', 'stats']],
  ['The session', ['help', 'source', 'quit']],
];

const helpCommand: DebugCommand = {
  name: 'help',
  aliases: ['h', '?'],
  usage: 'help [COMMAND]',
  summary: 'the commands, or one command in full',
  run(_session, args) {
    const name = args.trim();
    if (name === '') {
      const lines = ['Commands (short forms in brackets; an empty line repeats step, next, x, list and disas):'];
      for (const [title, names] of CATEGORIES) {
        lines.push(`${title}:`);
        for (const n of names) {
          const c = findCommand(n)!;
          const aliases = c.aliases?.length ? ` [${c.aliases.join(', ')}]` : '';
          lines.push(`  ${(c.usage + aliases).padEnd(44)} ${c.summary}`);
        }
      }
      lines.push("Addresses: 0x7c00, a symbol (print+4), SEG:OFF (0000:7c00, cs:eip), p:ADDR (physical), FILE.asm:LINE. 'help break' has more.");
      return lines.join('\n');
    }
    if (name === 'info' || name === 'i') return helpInfo();
    const topic = /^info\s+(\S+)$/.exec(name);
    if (topic) {
      const t = findTopic(topic[1]);
      if (t === undefined) throw new CommandError(`no topic '${topic[1]}'`);
      return `${t.usage}\n  ${t.summary}`;
    }
    const c = findCommand(name);
    if (c === undefined) throw new CommandError(`no command '${name}': 'help' lists them`);
    const aliases = c.aliases?.length ? `\n  also: ${c.aliases.join(', ')}` : '';
    return `${c.usage}\n  ${c.summary}${aliases}${c.help ? `\n\n${c.help}` : ''}`;
  },
};

const sourceCommand: DebugCommand = {
  name: 'source',
  usage: 'source FILE',
  summary: 'run the commands in FILE, one per line (# starts a comment)',
  async run(session, args) {
    if (args.trim() === '') throw new CommandError('source what? source FILE');
    await session.source(args.trim());
  },
};

const quitCommand: DebugCommand = {
  name: 'quit',
  aliases: ['q', 'exit'],
  usage: 'quit',
  summary: 'leave the debugger (Ctrl-D too)',
  run() {},
};

export const COMMANDS: DebugCommand[] = [...executionCommands, ...historyCommands, ...pointCommands, ...stateCommands, ...memoryCommands, ...vmmCommands, infoCommand, helpCommand, sourceCommand, quitCommand];

/** A command by its name or an alias; else by a prefix of its name that no other shares (gdb's `del`, `disp`). */
export function findCommand(name: string): DebugCommand | undefined {
  const n = name.toLowerCase();
  const exact = COMMANDS.find((c) => c.name === n || c.aliases?.includes(n));
  if (exact !== undefined) return exact;
  const prefixed = COMMANDS.filter((c) => c.name.startsWith(n));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** The commands a prefix could be, when it could be more than one (for the message). */
export function commandsStartingWith(name: string): string[] {
  return COMMANDS.filter((c) => c.name.startsWith(name.toLowerCase())).map((c) => c.name);
}

/**
 * Completions of the word being typed at the end of `line`: a command name first, an info
 * topic after `info`, else a register or a symbol.
 */
export function complete(session: DebugSession, line: string): { word: string; matches: string[] } {
  const first = /^(\S*)$/.exec(line);
  if (first) {
    const names = [...new Set(COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]))];
    return { word: first[1], matches: names.filter((n) => n.startsWith(first[1])).sort() };
  }
  const info = /^(?:info|i)\s+(\S*)$/.exec(line);
  if (info) return { word: info[1], matches: INFO_TOPICS.map((t) => t.name).filter((n) => n.startsWith(info[1])) };
  const word = /([\w.$@?]*)$/.exec(line)![1];
  if (word === '') return { word, matches: [] };
  const registers = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'eip', 'eflags', 'cr0', 'cr2', 'cr3', 'cr4'];
  return { word, matches: [...registers, ...session.symbols.names()].filter((n) => n.startsWith(word)).sort().slice(0, 200) };
}
