/** The registers a 386/486 program can name, with their encoding numbers and sizes. */

export type RegisterKind = 'gpr' | 'sreg' | 'cr' | 'dr' | 'tr';

export interface Register {
  name: string;
  kind: RegisterKind;
  /** Size in bits (8/16/32 for general registers; 16 for segment registers; 32 for CR/DR/TR). */
  size: number;
  /** The 3-bit number that goes in ModRM/SIB or is added to the opcode. */
  code: number;
}

const table = new Map<string, Register>();

function add(kind: RegisterKind, size: number, names: string[]): void {
  names.forEach((name, code) => {
    if (name) table.set(name, { name, kind, size, code });
  });
}

add('gpr', 8, ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh']);
add('gpr', 16, ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di']);
add('gpr', 32, ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi']);
add('sreg', 16, ['es', 'cs', 'ss', 'ds', 'fs', 'gs']);
add('cr', 32, ['cr0', '', 'cr2', 'cr3', 'cr4']);
add('dr', 32, ['dr0', 'dr1', 'dr2', 'dr3', 'dr4', 'dr5', 'dr6', 'dr7']);
add('tr', 32, ['', '', '', 'tr3', 'tr4', 'tr5', 'tr6', 'tr7']);

/** The register called `name` (any case), or undefined. */
export function findRegister(name: string): Register | undefined {
  return table.get(name.toLowerCase());
}

/** Segment-override prefix bytes, by segment register. */
export const SEGMENT_PREFIX: Record<string, number> = { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 };
