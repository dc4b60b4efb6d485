/** What a debugger command is: its names, its help, and what it does with the rest of the line. */
import { CommandError } from '../command-error.ts';
import type { DebugSession } from '../session.ts';

export interface DebugCommand {
  name: string;
  /** Other names, as gdb and Bochs users type them (`s`, `b`, `regs`...). */
  aliases?: string[];
  /** How to call it: "step [N]". */
  usage: string;
  /** One line, for `help`. */
  summary: string;
  /** More for `help NAME`: what it shows, examples. */
  help?: string;
  /** An empty line repeats it (step, next, x, list). */
  repeats?: boolean;
  /** The arguments a repeat goes on with (x continues where it stopped: no address). */
  repeatArgs?(session: DebugSession, args: string, repeated: boolean): string;
  /** Runs it; the text it returns is printed. A CommandError is the user's mistake. */
  run(session: DebugSession, args: string, repeated: boolean): Promise<string | void> | string | void;
}

/** Splits arguments at white space. */
export function words(args: string): string[] {
  return args.trim() === '' ? [] : args.trim().split(/\s+/);
}

/** A count argument: an expression from 1 to `max` (values of 2^31 and more are negative numbers). */
export function countArgument(session: DebugSession, text: string, max: number): number {
  const n = session.evaluate(text);
  if (n === 0 || n >= 0x80000000) throw new CommandError(`'${text.trim()}' is not a count of 1 or more`);
  if (n > max) throw new CommandError(`${n} is too many: at most ${max} at a time`);
  return n;
}
