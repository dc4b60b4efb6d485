/**
 * Breakpoints, watchpoints and catchpoints, numbered together as gdb numbers them, and the
 * table that keeps them (`info break`, `delete`, `disable`, `enable`).
 */
import { hex } from '../cpu/physical-memory.ts';

export interface Breakpoint {
  type: 'break';
  id: number;
  enabled: boolean;
  /** tbreak: deleted when hit. */
  temporary: boolean;
  /** Linear, or guest-physical when `physical`. */
  address: number;
  physical: boolean;
  /** Stop only when this expression is non-zero. */
  condition: string | null;
  hits: number;
  /** How the user wrote it, and what it resolved to ("print", "0008:0001023A <print>"). */
  spec: string;
}

/** write: stops when the value changes (watch); read (rwatch); access: either (awatch); store: any write, changed or not (reverse-next's own, never the user's). */
export type WatchAccess = 'write' | 'read' | 'access' | 'store';

export interface Watchpoint {
  type: 'watch';
  id: number;
  enabled: boolean;
  access: WatchAccess;
  address: number;
  length: number;
  physical: boolean;
  hits: number;
  spec: string;
}

export const CATCH_KINDS = ['exit', 'exception', 'interrupt', 'ring', 'cr3', 'mode'] as const;
export type CatchKind = (typeof CATCH_KINDS)[number];

export interface Catchpoint {
  type: 'catch';
  id: number;
  enabled: boolean;
  what: CatchKind;
  /** Exit reasons or vectors it is limited to; null: any. */
  filter: number[] | null;
  hits: number;
  spec: string;
}

export type Point = Breakpoint | Watchpoint | Catchpoint;

export class PointTable {
  private readonly points: Point[] = [];
  private nextId = 1;
  /** Bumped on every change, so that the debugger recomputes what it checks. */
  version = 0;

  add<P extends Point>(point: Omit<P, 'id' | 'hits'>): P {
    const full = { ...point, id: this.nextId++, hits: 0 } as P;
    this.points.push(full);
    this.version++;
    return full;
  }

  get all(): readonly Point[] {
    return this.points;
  }

  get(id: number): Point | undefined {
    return this.points.find((p) => p.id === id);
  }

  /** Deletes the points with these numbers (all of them when `ids` is empty); returns the numbers that went. */
  delete(ids: number[]): number[] {
    const gone: number[] = [];
    for (let i = this.points.length - 1; i >= 0; i--) {
      if (ids.length === 0 || ids.includes(this.points[i].id)) gone.unshift(...this.points.splice(i, 1).map((p) => p.id));
    }
    this.version++;
    return gone;
  }

  setEnabled(ids: number[], enabled: boolean): number {
    let n = 0;
    for (const p of this.points) {
      if (ids.length === 0 || ids.includes(p.id)) {
        p.enabled = enabled;
        n++;
      }
    }
    this.version++;
    return n;
  }

  enabled<T extends Point['type']>(type: T): Extract<Point, { type: T }>[] {
    return this.points.filter((p): p is Extract<Point, { type: T }> => p.type === type && p.enabled);
  }

  /** `info break`: one line per point. */
  format(): string {
    if (this.points.length === 0) return 'No breakpoints, watchpoints or catchpoints.';
    const rows = this.points.map((p) => {
      const what = p.type === 'break' ? (p.temporary ? 'tbreak' : 'break') : p.type === 'watch' ? (p.access === 'write' ? 'watch' : p.access === 'read' ? 'rwatch' : 'awatch') : 'catch';
      let where: string;
      if (p.type === 'break') where = `${p.physical ? 'p:' : ''}${hex(p.address)}  ${p.spec}${p.condition ? `  if ${p.condition}` : ''}`;
      else if (p.type === 'watch') where = `${p.physical ? 'p:' : ''}${hex(p.address)}, ${p.length} byte${p.length === 1 ? '' : 's'}  ${p.spec}`;
      else where = p.spec;
      const hits = p.hits === 0 ? '' : `  (hit ${p.hits} time${p.hits === 1 ? '' : 's'})`;
      return `${String(p.id).padEnd(4)}${what.padEnd(8)}${(p.enabled ? 'y' : 'n').padEnd(5)}${where}${hits}`;
    });
    return ['Num Type    On   What', ...rows].join('\n');
  }
}
