/** A mistake in a debugger command: said to the user (with the command's name), and the session goes on. */
export class CommandError extends Error {}
