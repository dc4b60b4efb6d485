/**
 * A machine's state as data, by walking its object graph: every field of every object reachable
 * from a root (the Machine), with typed arrays and their buffers, Maps, Sets and arrays, so that
 * what a device or the VMM keeps is saved without each writing its own save and load (QEMU's
 * VMState lists each field by hand; a field forgotten there is a bug found late). What is not
 * state is said once, by the class that holds it (`snapshotRules`): caches rebuilt after a load
 * (the TLB, the decoded and compiled blocks), the debugger's hooks.
 *
 * A load restores *into* a machine built the same way (the same configuration): each saved object
 * is written into the live object at the same place in the graph, so the wiring a constructor made
 * (callbacks that close over devices, handlers on the I/O bus) stays as it is, and functions are
 * never saved. An object the run made later and the live machine lacks is made anew from its
 * class, which must then hold no function of its own (the load says so when one does, and when a
 * function sits in a Map, a Set or an array the live machine does not have it in).
 *
 * "The same place" is the first path the walk reaches an object by, in the saved graph and in the
 * live one alike: an object that a run moved so that it is now first reached by another path is
 * written into whatever live object sits there. The machine's graph does not do that today (its
 * objects keep the places their constructors gave them); the snapshot tests compare every field
 * of a loaded machine with the original's to keep it so.
 *
 * Memory is stored by 4 KiB pages: an all-zero page is left out, and a capture given the previous
 * capture's pages (`PageMemo`) shares each page that did not change, so a timeline of snapshots
 * costs the pages written between them.
 */

/** What a class says about its fields. */
export interface SnapshotRules {
  /** Fields that are not state: caches rebuilt after a load, hooks of a debugger, wiring to the host. */
  transient?: readonly string[];
}

type AnyClass = abstract new (...args: never[]) => unknown;

const rulesByPrototype = new Map<object, SnapshotRules>();
const transientCache = new Map<object, ReadonlySet<string>>();

/** Declares what of `cls`'s instances is not state (see SnapshotRules). */
export function snapshotRules(cls: AnyClass, rules: SnapshotRules): void {
  rulesByPrototype.set(cls.prototype as object, rules);
  transientCache.clear();
}

/** The fields of objects with prototype `proto` that a snapshot leaves out (its class's and its ancestors'). */
function transientFields(proto: object | null): ReadonlySet<string> {
  if (proto === null || proto === Object.prototype) return NONE;
  let set = transientCache.get(proto);
  if (set === undefined) {
    const all = new Set<string>(transientFields(Object.getPrototypeOf(proto) as object | null));
    for (const f of rulesByPrototype.get(proto)?.transient ?? []) all.add(f);
    set = all;
    transientCache.set(proto, set);
  }
  return set;
}
const NONE: ReadonlySet<string> = new Set();

const madeLater = new Map<string, object>();

/**
 * Registers classes whose instances a run makes after the machine is built (so that a machine
 * just built may have none), for a load to make them anew.
 */
export function snapshotClasses(...classes: AnyClass[]): void {
  for (const cls of classes) madeLater.set(cls.name, cls.prototype as object);
}

const extents = new WeakMap<ArrayBufferLike, () => number>();

/**
 * Says that only the first `usedBytes()` bytes of `buffer` can be nonzero (a frame pool handed
 * out from its start): a capture reads no further, a load clears no further.
 */
export function declareBufferExtent(buffer: ArrayBufferLike, usedBytes: () => number): void {
  extents.set(buffer, usedBytes);
}

const staticNames = new Map<unknown, string>();
const staticValues = new Map<string, unknown>();

/**
 * Values that are code, not state (an instruction's semantics function, its compiled form),
 * named so that a saved object that points to one points to the same after a load.
 */
export function registerStatics(prefix: string, values: readonly unknown[]): void {
  values.forEach((value, i) => {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || staticNames.has(value)) return;
    const name = `${prefix}[${i}]`;
    staticNames.set(value, name);
    staticValues.set(name, value);
  });
}

// ------------------------------------------------------------------ the captured form

/** A value inside a node: a JSON value, or a tagged array for what JSON cannot say. */
type GraphValue = number | string | boolean | null | [tag: string, detail?: number | string];

export type GraphNode =
  | { k: 'o'; c: string | null; f: Record<string, GraphValue> }
  | { k: 'a'; e: GraphValue[] }
  | { k: 'm'; e: [GraphValue, GraphValue][] }
  | { k: 's'; e: GraphValue[] }
  /** An ArrayBuffer of `n` bytes: its nonzero pages, as [page number, index into pages]. */
  | { k: 'ab'; n: number; p: [number, number][] }
  /** A typed array or DataView `t` on buffer node `b`, from byte `o`, `n` elements (bytes for a DataView). */
  | { k: 'v'; t: string; b: number; o: number; n: number };

/** A captured graph: JSON-able nodes (node 0 is the root) and the memory pages they name. */
export interface CapturedGraph {
  nodes: GraphNode[];
  pages: Uint8Array[];
}

/** A capture's pages, by buffer, for the next capture to share unchanged ones (see PageMemo). */
export type PageMemo = WeakMap<ArrayBufferLike, (Uint8Array | undefined)[]>;

export const PAGE_BYTES = 4096;

const VIEW_TYPES: Record<string, new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayBufferView> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
};

/** A snapshot could not be taken or loaded: a bug of minivisor's (state it cannot describe), said with where. */
export class StateGraphError extends Error {}

// ------------------------------------------------------------------ capture

/**
 * Walks the graph from `root` and returns it as data. `memo`, when given, is read for the last
 * capture's pages and updated with this one's.
 */
export function captureGraph(root: object, memo?: PageMemo): CapturedGraph {
  const nodes: GraphNode[] = [];
  const pages: Uint8Array[] = [];
  const ids = new Map<object, number>();
  const classNames = new Map<string, object>();
  const path: string[] = [];
  const where = () => path.join('');

  const value = (v: unknown): GraphValue => {
    switch (typeof v) {
      case 'number':
        if (Number.isFinite(v) && !Object.is(v, -0)) return v;
        return ['n', String(Object.is(v, -0) ? '-0' : v)];
      case 'string':
      case 'boolean':
        return v;
      case 'undefined':
        return ['u'];
      case 'bigint':
        return ['b', v.toString()];
      case 'function': {
        const name = staticNames.get(v);
        return name !== undefined ? ['s', name] : ['k'];
      }
      case 'object': {
        if (v === null) return null;
        const name = staticNames.get(v);
        if (name !== undefined) return ['s', name];
        return ['r', node(v)];
      }
      default:
        throw new StateGraphError(`a ${typeof v} at ${where()} cannot be saved`);
    }
  };

  const node = (obj: object): number => {
    const known = ids.get(obj);
    if (known !== undefined) return known;
    const id = nodes.length;
    ids.set(obj, id);
    nodes.push(null as unknown as GraphNode); // its place, filled below (children come after it)
    if (obj instanceof ArrayBuffer) {
      nodes[id] = captureBuffer(obj, pages, memo);
    } else if (ArrayBuffer.isView(obj)) {
      const t = obj.constructor.name in VIEW_TYPES ? obj.constructor.name : obj instanceof Uint8Array ? 'Uint8Array' : obj.constructor.name; // (a Node Buffer is a Uint8Array)
      if (!(t in VIEW_TYPES)) throw new StateGraphError(`a ${t} at ${where()} cannot be saved`);
      const n = obj instanceof DataView ? obj.byteLength : (obj as unknown as { length: number }).length;
      if (!(obj.buffer instanceof ArrayBuffer)) throw new StateGraphError(`a view of a shared buffer at ${where()} cannot be saved`);
      const b = node(obj.buffer);
      nodes[id] = { k: 'v', t, b, o: obj.byteOffset, n };
    } else if (Array.isArray(obj)) {
      const e: GraphValue[] = new Array(obj.length);
      for (let i = 0; i < obj.length; i++) {
        path.push(`[${i}]`);
        e[i] = value(obj[i]);
        path.pop();
      }
      nodes[id] = { k: 'a', e };
    } else if (obj instanceof Map) {
      const e: [GraphValue, GraphValue][] = [];
      for (const [key, v] of obj) {
        path.push(`.get(${String(key)})`);
        e.push([value(key), value(v)]);
        path.pop();
      }
      nodes[id] = { k: 'm', e };
    } else if (obj instanceof Set) {
      const e: GraphValue[] = [];
      path.push('.<set>');
      for (const v of obj) e.push(value(v));
      path.pop();
      nodes[id] = { k: 's', e };
    } else {
      if (Object.isFrozen(obj)) throw new StateGraphError(`a frozen object at ${where()} is not state: register it with registerStatics`);
      const proto = Object.getPrototypeOf(obj) as object | null;
      let c: string | null = null;
      if (proto !== Object.prototype) {
        c = proto === null ? '\0null' : (proto.constructor as { name: string }).name;
        const seen = classNames.get(c);
        if (seen !== undefined && seen !== proto) throw new StateGraphError(`two classes are named ${c}: a snapshot tells classes by name`);
        if (proto !== null) classNames.set(c, proto);
      }
      const skip = transientFields(proto);
      const f: Record<string, GraphValue> = {};
      for (const key of Object.keys(obj)) {
        if (skip.has(key)) continue;
        path.push(`.${key}`);
        f[key] = value((obj as Record<string, unknown>)[key]);
        path.pop();
      }
      nodes[id] = { k: 'o', c, f };
    }
    return id;
  };

  path.push('machine');
  node(root);
  return { nodes, pages };
}

function captureBuffer(buffer: ArrayBuffer, pages: Uint8Array[], memo?: PageMemo): GraphNode {
  const n = buffer.byteLength;
  const used = Math.min(n, extents.get(buffer)?.() ?? n);
  const bytes = new Uint8Array(buffer);
  const words = n % 4 === 0 ? new Int32Array(buffer) : null;
  const last = memo?.get(buffer);
  const kept: (Uint8Array | undefined)[] = [];
  const p: [number, number][] = [];
  for (let page = 0, start = 0; start < used; page++, start += PAGE_BYTES) {
    const end = Math.min(n, start + PAGE_BYTES);
    const before = last?.[page];
    let copy: Uint8Array | undefined;
    if (before !== undefined && sameBytes(bytes, words, start, end, before)) copy = before;
    else if (!isZero(bytes, words, start, end)) copy = bytes.slice(start, end);
    if (copy === undefined) continue;
    kept[page] = copy;
    p.push([page, pages.length]);
    pages.push(copy);
  }
  memo?.set(buffer, kept);
  return { k: 'ab', n, p };
}

function isZero(bytes: Uint8Array, words: Int32Array | null, start: number, end: number): boolean {
  if (words !== null && (end - start) % 4 === 0) {
    for (let i = start >> 2, e = end >> 2; i < e; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

function sameBytes(bytes: Uint8Array, words: Int32Array | null, start: number, end: number, copy: Uint8Array): boolean {
  if (copy.length !== end - start) return false;
  if (words !== null && copy.length % 4 === 0 && copy.byteOffset % 4 === 0) {
    const other = new Int32Array(copy.buffer, copy.byteOffset, copy.length >> 2);
    for (let i = start >> 2, j = 0, e = end >> 2; i < e; i++, j++) if (words[i] !== other[j]) return false;
    return true;
  }
  for (let i = start, j = 0; i < end; i++, j++) if (bytes[i] !== copy[j]) return false;
  return true;
}

// ------------------------------------------------------------------ checking a graph read from a file

/** Field names a restore must never write (they would change an object's prototype). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const TAGS = new Set(['r', 'u', 'n', 'b', 's', 'k']);
const NUMBERS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);
/** The largest buffer a snapshot may describe (the host's frame pool is at most 2 GiB). */
const MAX_BUFFER_BYTES = 2 ** 31;

/**
 * What is wrong with a graph read from a file (one that restoreGraph would trip over, or that
 * would make it write where it must not), or null when it is well formed. `pageLengths`: the
 * length of each page the file holds.
 */
export function graphProblem(nodes: unknown, pageLengths: readonly number[]): string | null {
  if (!Array.isArray(nodes) || nodes.length === 0) return 'it describes no objects';
  const count = nodes.length;
  const kinds: string[] = nodes.map((n) => (typeof n === 'object' && n !== null ? String((n as { k?: unknown }).k) : ''));
  const value = (v: unknown): string | null => {
    if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return null;
    if (!Array.isArray(v) || v.length < 1 || v.length > 2 || !TAGS.has(v[0] as string)) return 'a value of an unknown kind';
    const [tag, detail] = v as [string, unknown];
    if (tag === 'r' && !(Number.isInteger(detail) && (detail as number) >= 0 && (detail as number) < count)) return 'a reference to an object it does not hold';
    if (tag === 'n' && !NUMBERS.has(detail as string)) return 'a number it cannot read';
    if (tag === 'b' && !(typeof detail === 'string' && /^-?\d{1,40}$/.test(detail))) return 'a big integer it cannot read';
    if (tag === 's' && typeof detail !== 'string') return 'a name of code it cannot read';
    return null;
  };
  const values = (list: unknown): string | null => {
    if (!Array.isArray(list)) return 'a list that is not one';
    for (const v of list) {
      const problem = value(v);
      if (problem !== null) return problem;
    }
    return null;
  };
  for (let id = 0; id < count; id++) {
    const n = nodes[id] as Record<string, unknown>;
    let problem: string | null = null;
    switch (kinds[id]) {
      case 'o': {
        if (n.c !== null && typeof n.c !== 'string') problem = 'an object of no class';
        else if (typeof n.f !== 'object' || n.f === null || Array.isArray(n.f)) problem = 'an object without fields';
        else {
          for (const [key, v] of Object.entries(n.f)) {
            if (FORBIDDEN_KEYS.has(key)) problem = `a field named ${key}`;
            else problem = value(v);
            if (problem !== null) break;
          }
        }
        break;
      }
      case 'a':
      case 's':
        problem = values(n.e);
        break;
      case 'm':
        problem = Array.isArray(n.e) && n.e.every((pair) => Array.isArray(pair) && pair.length === 2) ? values((n.e as unknown[][]).flat()) : 'a map that is not one';
        break;
      case 'ab': {
        const size = n.n as number;
        if (!Number.isInteger(size) || size < 0 || size > MAX_BUFFER_BYTES) problem = 'memory of an impossible size';
        else if (!Array.isArray(n.p)) problem = 'memory without its pages';
        else {
          for (const entry of n.p as unknown[]) {
            const [page, index] = Array.isArray(entry) ? (entry as number[]) : [];
            const length = pageLengths[index];
            if (!Number.isInteger(page) || page < 0 || length === undefined || page * PAGE_BYTES + length > size) {
              problem = 'a page outside its memory';
              break;
            }
          }
        }
        break;
      }
      case 'v': {
        const Type = VIEW_TYPES[n.t as string] as unknown as { BYTES_PER_ELEMENT?: number } | undefined;
        const b = n.b as number;
        const o = n.o as number;
        const length = n.n as number;
        const unit = n.t === 'DataView' ? 1 : (Type?.BYTES_PER_ELEMENT ?? 0);
        const buffer = Number.isInteger(b) && b >= 0 && b < count && kinds[b] === 'ab' ? ((nodes[b] as { n: number }).n) : -1;
        if (Type === undefined || buffer < 0) problem = 'a view of no memory';
        else if (!Number.isInteger(o) || !Number.isInteger(length) || o < 0 || length < 0 || o % unit !== 0 || o + length * unit > buffer) problem = 'a view past its memory';
        break;
      }
      default:
        problem = 'an object of an unknown kind';
    }
    if (problem !== null) return `${problem} (object ${id})`;
  }
  if (kinds[0] !== 'o') return 'its first object is not a machine';
  return null;
}

// ------------------------------------------------------------------ restore

/** A value to keep as the live machine has it (a function: wiring, not state). */
const KEEP = Symbol('keep');

/**
 * Writes a captured graph into the live graph from `root`, which must have been built the way
 * the captured one was. Afterwards the live graph holds the captured state; caches (what the
 * classes declared transient) are as they were, for the caller to drop.
 */
export function restoreGraph(root: object, graph: CapturedGraph): void {
  const { nodes, pages } = graph;
  // What the live graph holds before anything changes: its classes, and how much of each buffer is in use.
  const prototypes = new Map<string, object | null>([['\0null', null], ...madeLater]);
  const liveExtents = new Map<ArrayBufferLike, number>();
  surveyLive(root, prototypes, liveExtents);

  const made: (object | undefined)[] = new Array(nodes.length);
  const claimed = new Set<object>();

  const value = (v: GraphValue, live: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    switch (v[0]) {
      case 'r':
        return object(v[1] as number, live);
      case 'u':
        return undefined;
      case 'n':
        return v[1] === '-0' ? -0 : Number(v[1]);
      case 'b':
        return BigInt(v[1] as string);
      case 's': {
        if (!staticValues.has(v[1] as string)) throw new StateGraphError(`the snapshot names ${v[1]}, which this minivisor does not have`);
        return staticValues.get(v[1] as string);
      }
      case 'k':
        return KEEP;
      default:
        throw new StateGraphError(`a value tagged '${v[0]}' is not one a snapshot holds`);
    }
  };
  const assign = (target: Record<string | number, unknown>, key: string | number, v: GraphValue, isNew: boolean, what: string) => {
    const restored = value(v, target[key]);
    if (restored !== KEEP) target[key] = restored;
    else if (isNew) throw new StateGraphError(`${what} was made while the machine ran and holds a function (${key}): it cannot be made again from a snapshot`);
  };
  const usable = (live: unknown): live is object => typeof live === 'object' && live !== null && !claimed.has(live) && !staticNames.has(live);

  const object = (id: number, live: unknown): object => {
    const done = made[id];
    if (done !== undefined) return done;
    const n = nodes[id];
    switch (n.k) {
      case 'ab': {
        const reuse = usable(live) && live instanceof ArrayBuffer && live.byteLength === n.n;
        const buffer = reuse ? (live as ArrayBuffer) : new ArrayBuffer(n.n);
        claimed.add(buffer);
        made[id] = buffer;
        const bytes = new Uint8Array(buffer);
        if (reuse) {
          let clear = liveExtents.get(buffer) ?? n.n;
          for (const [page] of n.p) clear = Math.max(clear, Math.min(n.n, (page + 1) * PAGE_BYTES));
          bytes.fill(0, 0, clear);
        }
        for (const [page, index] of n.p) bytes.set(pages[index], page * PAGE_BYTES);
        return buffer;
      }
      case 'v': {
        const liveView = ArrayBuffer.isView(live) ? live : undefined;
        const buffer = object(n.b, liveView?.buffer) as ArrayBuffer;
        const Type = VIEW_TYPES[n.t];
        if (Type === undefined) throw new StateGraphError(`a ${n.t} is not something a snapshot holds`);
        const reuse =
          usable(live) && liveView !== undefined && liveView instanceof Type && liveView.buffer === buffer && liveView.byteOffset === n.o &&
          (liveView instanceof DataView ? liveView.byteLength : (liveView as unknown as { length: number }).length) === n.n;
        const view = reuse ? liveView : new Type(buffer, n.o, n.n);
        claimed.add(view);
        made[id] = view;
        return view;
      }
      case 'a': {
        const isNew = !(usable(live) && Array.isArray(live));
        const array = isNew ? [] : (live as unknown[]);
        claimed.add(array);
        made[id] = array;
        const target = array as unknown as Record<number, unknown>;
        const liveLength = array.length;
        n.e.forEach((e, i) => assign(target, i, e, isNew || i >= liveLength, 'an array'));
        array.length = n.e.length;
        return array;
      }
      case 'm': {
        const map = usable(live) && live instanceof Map ? live : new Map();
        claimed.add(map);
        made[id] = map;
        const liveEntries = [...map];
        const entries = n.e.map(([k, v], i) => {
          const key = value(k, liveEntries[i]?.[0]);
          if (key === KEEP) throw new StateGraphError('a map keyed by a function cannot be made again from a snapshot');
          const restored = value(v, map.get(key) ?? liveEntries[i]?.[1]);
          if (restored === KEEP && !map.has(key)) throw new StateGraphError(`a map holds a function under ${String(key)}, which the machine loaded into has not: it cannot be made again from a snapshot`);
          return [key, restored === KEEP ? map.get(key) : restored] as const;
        });
        map.clear();
        for (const [k, v] of entries) map.set(k, v);
        return map;
      }
      case 's': {
        const set = usable(live) && live instanceof Set ? live : new Set();
        claimed.add(set);
        made[id] = set;
        const liveValues = [...set];
        const values = n.e.map((e, i) => value(e, liveValues[i]));
        if (values.includes(KEEP)) throw new StateGraphError('a set holds a function: it cannot be made again from a snapshot');
        set.clear();
        for (const v of values) set.add(v);
        return set;
      }
      case 'o': {
        let proto: object | null = Object.prototype;
        if (n.c !== null) {
          if (!prototypes.has(n.c)) throw new StateGraphError(`the snapshot holds a ${n.c}, which this machine does not have: was it saved by another version of minivisor?`);
          proto = prototypes.get(n.c)!;
        }
        const isNew = !(usable(live) && Object.getPrototypeOf(live) === proto && !ArrayBuffer.isView(live) && !Array.isArray(live));
        const obj = (isNew ? Object.create(proto) : live) as Record<string, unknown>;
        claimed.add(obj);
        made[id] = obj;
        for (const key of Object.keys(n.f)) assign(obj, key, n.f[key], isNew, `a ${n.c ?? 'plain object'}`);
        if (!isNew) {
          // Fields the object gained after the snapshot go (not its wiring, nor what is not state).
          const skip = transientFields(proto);
          for (const key of Object.keys(obj)) if (!(key in n.f) && !skip.has(key) && typeof obj[key] !== 'function') delete obj[key];
        }
        return obj;
      }
    }
  };
  object(0, root);
}

/** The live graph's classes by name, and the buffers with a declared extent and how much of each is used. */
function surveyLive(root: object, prototypes: Map<string, object | null>, liveExtents: Map<ArrayBufferLike, number>): void {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v) || staticNames.has(v)) continue;
    seen.add(v);
    if (v instanceof ArrayBuffer) {
      const extent = extents.get(v);
      if (extent !== undefined) liveExtents.set(v, extent());
    } else if (ArrayBuffer.isView(v)) {
      stack.push(v.buffer);
    } else if (Array.isArray(v) || v instanceof Set) {
      for (const e of v) stack.push(e);
    } else if (v instanceof Map) {
      for (const [k, e] of v) stack.push(k, e);
    } else {
      const proto = Object.getPrototypeOf(v) as object | null;
      if (proto !== null && proto !== Object.prototype) prototypes.set((proto.constructor as { name: string }).name, proto);
      const skip = transientFields(proto);
      for (const key of Object.keys(v)) if (!skip.has(key)) stack.push((v as Record<string, unknown>)[key]);
    }
  }
}
