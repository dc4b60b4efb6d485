/**
 * Exceptions as people name them (SDM Vol. 3, Table 6-1), and their error codes decoded: the
 * selector format of #TS, #NP, #SS and #GP (EXT, IDT, TI, index) and #PF's P, W/R and U/S bits.
 * For reports of a shutdown, the debugger's catches and its `info fault`.
 */
import { PF_PRESENT, PF_USER, PF_WRITE } from './page-walk.ts';

const MNEMONICS = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP', '#SS', '#GP', '#PF', 'exception 15', '#MF', '#AC', '#MC', '#XM'];
const NAMES = [
  'divide error', 'debug', 'non-maskable interrupt', 'breakpoint', 'overflow', 'BOUND range exceeded', 'invalid opcode',
  'device not available', 'double fault', 'coprocessor segment overrun', 'invalid TSS', 'segment not present', 'stack fault',
  'general protection', 'page fault', 'reserved', 'x87 floating-point error', 'alignment check', 'machine check', 'SIMD floating-point',
];

/** "#GP", "#PF", ... or "vector 0x80" for one that is not an exception. */
export function exceptionMnemonic(vector: number): string {
  return MNEMONICS[vector] ?? `vector 0x${vector.toString(16)}`;
}

/** The vector of an exception named by its mnemonic, with or without '#' (`pf`, `#GP`), or undefined. */
export function vectorOfMnemonic(text: string): number | undefined {
  const name = text.replace(/^#/, '').toUpperCase();
  const vector = MNEMONICS.findIndex((m) => m.replace(/^#/, '') === name);
  return vector < 0 || name === 'EXCEPTION 15' ? undefined : vector;
}

/** "general protection", ... */
export function exceptionName(vector: number): string {
  return NAMES[vector] ?? (vector < 32 ? 'reserved' : 'interrupt');
}

/** Vectors whose error code is a selector (or 0): #DF (always 0), #TS, #NP, #SS, #GP. */
function hasSelectorErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 13);
}

/**
 * What an error code says: "IDT vector 0x80", "GDT selector 0x0028, external", "not present,
 * write, user", ... (empty for an exception whose error code carries nothing, or none).
 */
export function describeErrorCode(vector: number, code: number): string {
  if (code < 0) return '';
  if (vector === 14) {
    return [
      code & PF_PRESENT ? 'protection violation' : 'page not present',
      code & PF_WRITE ? 'write' : 'read',
      code & PF_USER ? 'user mode' : 'supervisor mode',
    ].join(', ');
  }
  if (!hasSelectorErrorCode(vector) && vector !== 17) return '';
  if ((code & ~1) === 0) return code & 1 ? 'no selector, EXT: while delivering an earlier event' : 'no selector';
  const external = code & 1 ? ', EXT: while delivering an earlier event' : '';
  const index = code >>> 3;
  if (code & 2) return `IDT vector 0x${index.toString(16).padStart(2, '0')}${external}`;
  return `${code & 4 ? 'LDT' : 'GDT'} selector 0x${(code & 0xfff8).toString(16).padStart(4, '0')}${external}`;
}

/** "#GP(0x0402: IDT vector 0x80)", "#PF(0x0006: page not present, write, user mode)", "#UD". */
export function formatException(vector: number, errorCode: number): string {
  if (errorCode < 0) return exceptionMnemonic(vector);
  const what = describeErrorCode(vector, errorCode);
  const code = `0x${(errorCode >>> 0).toString(16).padStart(4, '0')}`;
  return `${exceptionMnemonic(vector)}(${what ? `${code}: ${what}` : code})`;
}
