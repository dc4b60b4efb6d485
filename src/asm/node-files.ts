/** The Node side of the assembler: reads the source and its includes from disk. */
import { readFileSync, statSync } from 'node:fs';
import { type AssembleResult, assemble } from './index.ts';

export interface AssembleFileOptions {
  defines?: Record<string, string>;
  includePaths?: string[];
}

/** Reads a file for %include / INCBIN: text as a string is fine for %include, bytes for INCBIN. */
export function readFromDisk(path: string): Uint8Array | undefined {
  try {
    if (!statSync(path).isFile()) return undefined;
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Assembles a file from disk. Throws (a Node error) only if the main file cannot be read. */
export function assembleFile(path: string, options: AssembleFileOptions = {}): AssembleResult {
  const source = readFileSync(path, 'utf8');
  return assemble(source, {
    fileName: path,
    defines: options.defines,
    includePaths: options.includePaths,
    readFile: (p) => {
      const data = readFromDisk(p);
      return data === undefined ? undefined : data;
    },
  });
}
