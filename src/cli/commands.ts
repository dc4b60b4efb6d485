/** The table of subcommands. Each lives in its own file; add new ones here. */
import type { Command } from './command.ts';

export const commands: Command[] = [];
