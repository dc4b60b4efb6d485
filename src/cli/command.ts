/** One `minivisor <name>` subcommand. */
export interface Command {
  name: string;
  /** One line for `minivisor help`. */
  summary: string;
  /** The full usage text, shown by `minivisor help <name>` and after a usage error. */
  usage: string;
  /** Runs the command; resolves to the process exit status. */
  run(args: string[]): Promise<number>;
}
