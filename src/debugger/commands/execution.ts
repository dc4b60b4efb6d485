/** Running the guest: step, next, continue, until, finish. */
import { ESP } from '../../cpu/state.ts';
import { CommandError } from '../command-error.ts';
import { guestControlRegister } from '../registers.ts';
import type { DebugSession } from '../session.ts';
import { countArgument, type DebugCommand } from './command.ts';

/** For commands that take none: a word after them is a mistake, not something to ignore. */
function noArguments(name: string, args: string): void {
  if (args.trim() !== '') throw new CommandError(`${name} takes no arguments ('${args.trim()}' was given)`);
}

/** A count argument (default 1). */
function count(session: DebugSession, args: string): number {
  return args.trim() === '' ? 1 : countArgument(session, args, 0x7fffffff);
}

export const executionCommands: DebugCommand[] = [
  {
    name: 'step',
    aliases: ['s', 'stepi', 'si'],
    usage: 'step [N]',
    summary: 'run N instructions (default 1), into calls and interrupts',
    help:
      'A delivered interrupt or exception counts as a step too: the step ends at the first\n' +
      "instruction of its handler. A REP string instruction steps one iteration at a time, as the\n" +
      "CPU's own single-step trap (EFLAGS.TF) does; 'next' runs it whole. An empty line repeats.",
    repeats: true,
    async run(session, args) {
      await session.resume({ kind: 'step', count: count(session, args) });
    },
  },
  {
    name: 'next',
    aliases: ['n', 'nexti', 'ni'],
    usage: 'next [N]',
    summary: 'run N instructions, stepping over CALL, INT and REP instructions whole',
    help:
      'Over a CALL, INT n or REP string instruction, next runs until the instruction after it in\n' +
      'the same frame: the same address space (CR3) and the stack no deeper than now, so a kernel\n' +
      "that switches to another process on the way does not stop there. A breakpoint inside stops\n" +
      'first. Anything else is one step. An empty line repeats.',
    repeats: true,
    async run(session, args) {
      const n = count(session, args);
      await session.whileRunning(async () => {
        for (let i = 0; i < n; i++) {
          // Only the last stop is shown, unless one on the way has something to say (a breakpoint, Ctrl-C).
          const last = i === n - 1;
          const [insn] = session.disassembleAt(session.linearEip, 1);
          const over = insn !== undefined && (insn.flow === 'call' || insn.flow === 'interrupt' || insn.rep);
          const motion = over
            ? { kind: 'return-point' as const, linear: (insn.linear + insn.bytes.length) >>> 0, cr3: guestControlRegister(session.processor, 3), esp: session.cpu.reg[ESP] >>> 0 }
            : { kind: 'step' as const, count: 1 };
          if (!(await session.resume(motion, !last))) break;
          if (i % 64 === 63) await session.breathe();
        }
      });
    },
  },
  {
    name: 'continue',
    aliases: ['c', 'cont'],
    usage: 'continue',
    summary: 'run until a breakpoint, watchpoint or catchpoint, Ctrl-C, or the guest ends',
    async run(session, args) {
      noArguments('continue', args);
      await session.resume({ kind: 'continue' });
    },
  },
  {
    name: 'until',
    aliases: ['u', 'advance'],
    usage: 'until ADDR',
    summary: 'run until the instruction at ADDR (or a breakpoint)',
    help: 'ADDR as break takes it: a linear address, a symbol, SEG:OFF, FILE.asm:LINE.',
    async run(session, args) {
      if (args.trim() === '') throw new CommandError('where to? write until ADDR (a symbol, an address, SEG:OFF or FILE.asm:LINE)');
      const target = session.resolveAddress(args);
      if (target.physical) throw new CommandError('until takes a linear address; for a physical one, tbreak p:ADDR then continue');
      await session.resume({ kind: 'until', linear: target.address });
    },
  },
  {
    name: 'type',
    usage: 'type TEXT',
    summary: "type TEXT for the guest (its keyboard and COM1), as the terminal's keys do while it runs",
    help:
      'The keys reach the guest as it runs, one at a time as a typist would type them: for a script\n' +
      "(stdin not a terminal) this is how a guest that reads keys gets its input. \\n or \\r is Enter\n" +
      '(type ls\\n), \\t a tab, \\e Escape, \\\\ a backslash.',
    run(session, args) {
      const text = args.replace(/^ /, '').replace(/\\(n|r|t|e|\\)/g, (_, c: string) => (c === 'n' || c === 'r' ? '\r' : c === 't' ? '\t' : c === 'e' ? '\x1b' : '\\'));
      if (text === '') throw new CommandError('type what? type TEXT (\\n for Enter)');
      session.machine.typeText(text);
      return `${text.length} key${text.length === 1 ? '' : 's'} queued for the guest: it reads them as it runs`;
    },
  },
  {
    name: 'finish',
    aliases: ['fin'],
    usage: 'finish',
    summary: 'run until the current procedure returns (RET), or the current handler (IRET)',
    help:
      "finish counts the calls and returns made at this CPL and in this address space, and the\n" +
      'interrupts taken meanwhile (each returns with its IRET), and stops after the return that\n' +
      'leaves the procedure. It runs one instruction at a time.',
    async run(session, args) {
      noArguments('finish', args);
      await session.resume({ kind: 'finish' });
    },
  },
];
