/**
 * Sections as `nasm -f bin` lays them out: `.text` first at ORG, then the other PROGBITS
 * sections in the order they were declared, then the NOBITS ones (`.bss`), each aligned to its
 * `align=` (4 by default, raised by ALIGN inside it) unless `start=` or `follows=` places it.
 * `vstart=` gives a section addresses other than where it sits in the file.
 */
import { AsmError } from './diagnostics.ts';

export interface Section {
  name: string;
  nobits: boolean;
  align: number;
  start?: bigint;
  vstart?: bigint;
  follows?: string;
  vfollows?: string;
  /** Bytes emitted this pass (empty for NOBITS sections). */
  bytes: number[];
  /** Size this pass, counting reserved space. */
  size: number;
  declared: number;
}

export interface Placement {
  /** Where the section's first byte sits in the flat memory image. */
  start: bigint;
  /** The address its labels count from (equals start unless vstart= says otherwise). */
  vstart: bigint;
}

export function newSection(name: string, declared: number): Section {
  const nobits = name === '.bss';
  return { name, nobits, align: name === '.text' ? 1 : 4, bytes: [], size: 0, declared };
}

const alignUp = (n: bigint, a: number): bigint => {
  const b = BigInt(Math.max(a, 1));
  return ((n + b - 1n) / b) * b;
};

export function layoutSections(sections: Section[], org: bigint): Map<string, Placement> {
  const byName = new Map(sections.map((s) => [s.name, s]));
  const text = sections.filter((s) => s.name === '.text');
  const ordered = [
    ...text,
    ...sections.filter((s) => s.name !== '.text' && !s.nobits).sort((a, b) => a.declared - b.declared),
    ...sections.filter((s) => s.name !== '.text' && s.nobits).sort((a, b) => a.declared - b.declared),
  ];
  const placements = new Map<string, Placement>();
  let cursor = org;
  const place = (s: Section, stack: Set<string>): Placement => {
    const done = placements.get(s.name);
    if (done) return done;
    if (stack.has(s.name)) throw new AsmError(`sections '${s.name}' follow each other in a circle`);
    stack.add(s.name);
    let start: bigint;
    if (s.start !== undefined) start = s.start;
    else if (s.follows !== undefined) {
      const other = byName.get(s.follows);
      if (!other) throw new AsmError(`section '${s.name}' follows '${s.follows}', which does not exist`);
      const p = place(other, stack);
      start = alignUp(p.start + BigInt(other.size), s.align);
    } else start = alignUp(cursor, s.align);
    let vstart = start;
    if (s.vstart !== undefined) vstart = s.vstart;
    else if (s.vfollows !== undefined) {
      const other = byName.get(s.vfollows);
      if (!other) throw new AsmError(`section '${s.name}' vfollows '${s.vfollows}', which does not exist`);
      const p = place(other, stack);
      vstart = alignUp(p.vstart + BigInt(other.size), s.align);
    }
    const placement = { start, vstart };
    placements.set(s.name, placement);
    const end = start + BigInt(s.size);
    if (end > cursor) cursor = end;
    return placement;
  };
  for (const s of ordered) place(s, new Set());
  return placements;
}

/** The flat binary: every PROGBITS section at its place, gaps filled with zeros, from ORG on. */
export function buildImage(sections: Section[], placements: Map<string, Placement>, org: bigint): Uint8Array {
  const progbits = sections.filter((s) => !s.nobits && s.size > 0);
  let end = org;
  for (const s of progbits) {
    const p = placements.get(s.name)!;
    if (p.start < org) throw new AsmError(`section '${s.name}' starts at 0x${p.start.toString(16)}, below the ORG 0x${org.toString(16)}`);
    const e = p.start + BigInt(s.size);
    if (e > end) end = e;
  }
  const image = new Uint8Array(Number(end - org));
  const sorted = [...progbits].sort((a, b) => Number(placements.get(a.name)!.start - placements.get(b.name)!.start));
  let previousEnd = org;
  for (const s of sorted) {
    const at = placements.get(s.name)!.start;
    if (at < previousEnd) throw new AsmError(`section '${s.name}' overlaps the section before it`);
    image.set(s.bytes, Number(at - org));
    previousEnd = at + BigInt(s.size);
  }
  return image;
}
