/** The table of subcommands. Each lives in its own file; add new ones here. */
import type { Command } from './command.ts';
import { demoCommand } from './demo-command.ts';
import { runCommand } from './run-command.ts';

export const commands: Command[] = [runCommand, demoCommand];
