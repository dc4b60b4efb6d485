/**
 * Entry point of the `minivisor` command. Dispatches to one subcommand; a UserError ends the
 * process with its message and no stack trace, and so does a file-system error on a path the
 * user gave (no such file, a directory, no permission); anything else is a minivisor bug and shows one.
 */
import './tune-v8.ts'; // first: V8 settings before any guest code is optimized
import { UserError } from './user-error.ts';
import { type CommandEntry, commands } from './commands.ts';
import { uncaughtFileError } from './files.ts';
import { EXIT } from './exit-status.ts';

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: minivisor <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'minivisor help <command>' for a command's options.",
  ].join('\n');
}

function findCommand(name: string): CommandEntry {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UserError(`unknown command '${name}'\n\n${helpText()}`);
  return command;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (name === 'help' && rest[0]) {
      console.log((await findCommand(rest[0]).load()).usage);
    } else {
      console.log(helpText());
    }
    return 0;
  }
  const command = await findCommand(name).load();
  // `minivisor CMD --help` as `minivisor help CMD`, for every command.
  if (rest[0] === '--help' || rest[0] === '-h') {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (thrown: unknown) => {
    const error = thrown instanceof UserError ? thrown : (uncaughtFileError(thrown) ?? thrown);
    if (error instanceof UserError) {
      process.stderr.write(`minivisor: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`minivisor: internal error (a bug in minivisor, please report it):\n`);
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.internal;
    }
  },
);
