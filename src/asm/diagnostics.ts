/**
 * Diagnostics: what the assembler tells the user about their source. Errors stop the output;
 * warnings (the ones nasm also gives, such as `db 300`) do not.
 */

/** Where a line of source came from. `line` and `column` are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  file: string;
  line: number;
  /** 1-based column of the offending token; 1 when the whole line is at fault. */
  column: number;
  message: string;
  /** The text of the source line, for showing it under the message. */
  sourceLine: string;
}

/**
 * Thrown inside the assembler to abandon one line; the driver turns it into a Diagnostic with
 * the line's location and carries on with the next line, so that all mistakes are reported.
 */
export class AsmError extends Error {
  constructor(
    message: string,
    /** 1-based column within the line, when known. */
    readonly column?: number,
  ) {
    super(message);
    this.name = 'AsmError';
  }
}

/** `file:line:column: error: message`, the source line, and a caret under the column. */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
  if (d.sourceLine === '') return head;
  // Tabs stay tabs in the caret line so that the caret lines up in a terminal.
  const pad = Array.from(d.sourceLine.slice(0, Math.max(0, d.column - 1)), (c) => (c === '\t' ? '\t' : ' ')).join('');
  return `${head}\n${d.sourceLine}\n${pad}^`;
}
