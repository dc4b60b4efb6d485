/**
 * A mistake of the user's (a bad flag, a missing file, bad assembly), as opposed to a bug in
 * minivisor. The CLI prints its message alone, without a stack trace, and exits non-zero.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** The process exit status to use. */
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
