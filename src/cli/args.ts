/** Small parsers for command-line values; each throws a UserError that says what was expected. */
import { UserError } from './user-error.ts';

/** A number in decimal or 0x-hex. */
export function parseNumber(text: string, what: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^[0-9]+$/.test(text) ? parseInt(text, 10) : NaN;
  if (!Number.isFinite(value)) throw new UserError(`${what}: '${text}' is not a number (write it in decimal, or hex with 0x)`);
  return value;
}

/** A size such as 32M, 1G, 640K or 65536. */
export function parseSize(text: string, what: string): number {
  const m = /^(0x[0-9a-f]+|[0-9]+)([KMG]i?B?)?$/i.exec(text);
  if (!m) throw new UserError(`${what}: '${text}' is not a size (examples: 32M, 1G, 640K, 65536)`);
  const unit = (m[2] ?? '').toUpperCase()[0];
  const scale = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  return parseNumber(m[1], what) * scale;
}

/** SEG:OFF, both in hex (with or without 0x), as debuggers write real-mode addresses. */
export function parseSegOff(text: string, what: string): { segment: number; offset: number } {
  const m = /^(?:0x)?([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,4})$/i.exec(text);
  if (!m) throw new UserError(`${what}: '${text}' is not SEG:OFF (example: 0000:7C00)`);
  return { segment: parseInt(m[1], 16), offset: parseInt(m[2], 16) };
}

/** The value given last for an option (a later one overrides an earlier), or undefined. */
export const lastValue = (options: Map<string, string[]>, name: string): string | undefined => options.get(name)?.at(-1);

/**
 * Splits argv into options and positionals. `spec` maps each option to whether it takes a
 * value; repeated options collect all their values.
 */
export function parseOptions(args: string[], spec: Record<string, boolean>, usage: string): { options: Map<string, string[]>; positionals: string[] } {
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const [name, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!(name in spec)) throw new UserError(`unknown option '${name}'\n\n${usage}`);
    let value = 'true';
    if (spec[name]) {
      value = inline ?? args[++i];
      if (value === undefined) throw new UserError(`option '${name}' needs a value\n\n${usage}`);
    }
    options.set(name, [...(options.get(name) ?? []), value]);
  }
  return { options, positionals };
}
