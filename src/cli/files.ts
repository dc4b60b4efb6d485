/**
 * The files the CLI reads and writes. A file that cannot be read or written is the user's
 * business (a mistyped path, a directory given as a file, no permission), so what goes wrong
 * becomes a UserError that names the path and says what to do, never a stack trace.
 */
import { accessSync, closeSync, constants, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from './user-error.ts';

/** Error codes of the file system that come from the path the user gave, not from a bug. */
const USER_ERROR_CODES = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG', 'ELOOP']);

type Access = 'read' | 'write' | 'open';

function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The nearest parent of `path` that exists but is not a directory (the cause of ENOTDIR). */
function fileInTheWay(path: string): string | undefined {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return dir;
    } catch {
      // Not there either: look further up.
    }
  }
  return undefined;
}

/** What went wrong with `path`, and what to do about it, in a user's words. */
function describe(code: string, path: string, access: Access): string {
  switch (code) {
    case 'ENOENT':
      if (access === 'write') return `cannot create ${path}: there is no directory ${dirname(path)} (create it first, or give another path)`;
      return `${path}: no such file`;
    case 'EISDIR':
      return `${path} is a directory, not a file: give a file${access === 'write' ? ' name to write to' : ''}`;
    case 'ENOTDIR': {
      const file = fileInTheWay(path);
      return `cannot ${access} ${path}: ${file ?? 'a part of the path'} is a file, not a directory`;
    }
    case 'EACCES':
    case 'EPERM':
      return `cannot ${access} ${path}: permission denied (check the permissions of the file and its directory)`;
    case 'EROFS':
      return `cannot ${access} ${path}: the file system is read-only (give a path elsewhere)`;
    case 'ENAMETOOLONG':
      return `cannot ${access} ${path}: the name is too long`;
    case 'ELOOP':
      return `cannot ${access} ${path}: too many levels of symbolic links`;
    default:
      return `cannot ${access} ${path}: ${code}`;
  }
}

/**
 * The UserError for a file-system error on `path`, or undefined when `error` is not one of
 * the user's (an unexpected error stays a bug). `what` (an option, say) prefixes the message.
 */
export function fileUserError(error: unknown, path: string, access: Access, what?: string): UserError | undefined {
  const code = errnoCode(error);
  if (code === undefined || !USER_ERROR_CODES.has(code)) return undefined;
  return new UserError(`${what === undefined ? '' : `${what}: `}${describe(code, path, access)}`);
}

/** Calls `action`, turning the user's file-system errors on `path` into UserErrors. */
function withFileErrors<T>(path: string, access: Access, what: string | undefined, action: () => T): T {
  try {
    return action();
  } catch (e) {
    throw fileUserError(e, path, access, what) ?? e;
  }
}

/**
 * For the CLI's last line of defence: a file-system error that escaped (Node names the path
 * and the system call in it) as a UserError, or undefined when `error` is not one.
 */
export function uncaughtFileError(error: unknown): UserError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { path, syscall } = error as { path?: unknown; syscall?: unknown };
  if (typeof path !== 'string') return undefined;
  const access: Access = syscall === 'read' ? 'read' : syscall === 'write' || syscall === 'mkdir' || syscall === 'rename' || syscall === 'unlink' ? 'write' : 'open';
  return fileUserError(error, path, access);
}

/** Checks that `path` is a file that can be read: it exists and is not a directory. */
export function checkInputFile(path: string, what?: string): void {
  withFileErrors(path, 'read', what, () => {
    if (statSync(path).isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    accessSync(path, constants.R_OK);
  });
}

/** Reads a whole file. */
export function readInputFile(path: string, what?: string): Uint8Array {
  checkInputFile(path, what);
  return withFileErrors(path, 'read', what, () => new Uint8Array(readFileSync(path)));
}

/**
 * Checks, without creating anything, that `path` can be written: an existing file that is
 * writable, or a new name in a directory that exists and is writable.
 */
export function checkOutputFile(path: string, what?: string): void {
  let exists = true;
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw fileUserError(e, path, 'write', what) ?? e;
    exists = false;
  }
  withFileErrors(path, 'write', what, () => {
    if (exists) {
      accessSync(path, constants.W_OK);
      return;
    }
    const dir = dirname(path);
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  });
}

/** Writes a whole file. */
export function writeOutputFile(path: string, data: Uint8Array | string, what?: string): void {
  withFileErrors(path, 'write', what, () => writeFileSync(path, data));
}

/**
 * A file the run writes to: opened (created or emptied) before the guest starts, so that a bad
 * path is reported before anything runs, and written during or after the run.
 */
export class OutputFile {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    /** The option that names the file, for messages. */
    readonly what: string,
  ) {}

  open(): void {
    if (this.fd === undefined) this.fd = withFileErrors(this.path, 'write', this.what, () => openSync(this.path, 'w'));
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path} is written before it was opened`);
    const fd = this.fd;
    withFileErrors(this.path, 'write', this.what, () => {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    });
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}

/**
 * Opens a disk image for writing in place (--persist) and returns what writes `bytes` at a byte
 * offset of it. A file that cannot be written (read-only, no permission) is reported now,
 * before the guest runs.
 */
export function openImageForUpdate(path: string, what: string): (byteOffset: number, bytes: Uint8Array) => void {
  const fd = withFileErrors(path, 'write', what, () => openSync(path, 'r+'));
  return (byteOffset, bytes) =>
    withFileErrors(path, 'write', what, () => {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, byteOffset + done);
    });
}
