/** The table of subcommands. Each lives in its own file; add new ones here. */
import type { Command } from './command.ts';
import { demoCommand } from './demo-command.ts';
import { runCommand } from './run-command.ts';
import { asmCommand } from './asm-command.ts';
import { disasmCommand } from './disasm-command.ts';
import { compareCommand } from './compare-command.ts';
import { debugCommand } from './debug-command.ts';

export const commands: Command[] = [runCommand, debugCommand, compareCommand, demoCommand, asmCommand, disasmCommand];
