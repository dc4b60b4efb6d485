/** One `minivisor <name>` subcommand; its name and one-line summary are in commands.ts. */
export interface Command {
  /** The full usage text, shown by `minivisor help <name>` and after a usage error. */
  usage: string;
  /** Runs the command; resolves to the process exit status. */
  run(args: string[]): Promise<number>;
}
