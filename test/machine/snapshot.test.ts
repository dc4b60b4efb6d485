/**
 * Snapshots (src/machine/snapshot.ts): a machine saved at instruction N and loaded into another
 * built the same way runs to the same end as the one never interrupted: the same COM1 output,
 * instruction count and complete state (every field the snapshot walks), in every memory mode,
 * with the translation cache on; and a file that is not a snapshot, is damaged or is of another
 * version is refused with a message that says so.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bios, guestImage } from '../firmware/harness.ts';
import { DiskImage } from '../../src/machine/disk-image.ts';
import { Machine, type MachineConfig } from '../../src/machine/machine.ts';
import { captureGraph, type GraphNode } from '../../src/cpu/state-graph.ts';
import { SnapshotError, configFromRecipe, decodeSnapshot, encodeSnapshot, loadSnapshot, takeSnapshot, type MachineSnapshot } from '../../src/machine/snapshot.ts';
import { architecturalState, expectSameMachine, ramDigest } from '../helpers/same-machine.ts';

const kernel = guestImage('kernel');

function kernelMachine(config: Partial<MachineConfig>, out: { text: string }): Machine {
  return new Machine({
    memoryBytes: 32 << 20,
    exitPort: 0xf4,
    bios: bios(),
    disks: new Map([[0, DiskImage.from(kernel.slice(), 'floppy', 'kernel.img')]]),
    serial: (b) => (out.text += String.fromCharCode(b)),
    ...config,
  });
}

/** The whole state as the snapshot sees it, for comparing two machines field by field. */
function stateOf(m: Machine): string {
  const { nodes, pages } = captureGraph(m);
  const hash = createHash('sha256').update(JSON.stringify(nodes));
  for (const p of pages) hash.update(p);
  return hash.digest('hex');
}

describe('a snapshot, loaded into a machine built the same way', () => {
  const cases: [string, Partial<MachineConfig>, number][] = [
    ['bare', { mode: 'bare' }, 5_000_000],
    ['ept', { mode: 'ept' }, 9_876_543],
    ['shadow', { mode: 'shadow' }, 3_000_001],
    ['pv', { mode: 'pv' }, 200_000],
    ['ept without unrestricted guest', { mode: 'ept', unrestrictedGuest: false }, 1_500_000],
    ['shadow with 2 processors', { mode: 'shadow', cpus: 2 }, 4_000_000],
  ];
  for (const [name, config, at] of cases) {
    it(`runs on to the same end as the uninterrupted run (${name}, saved at ${at})`, () => {
      const first = { text: '' };
      const a = kernelMachine(config, first);
      expect(a.run(at).kind).toBe('limit');
      const file = encodeSnapshot(takeSnapshot(a));
      const savedAt = a.instructions; // (past `at` when the guest halted through it, or a round of turns ended after it)
      const textAtSave = first.text;
      const endA = a.run(2e9);

      const second = { text: textAtSave };
      const b = kernelMachine(config, second);
      loadSnapshot(b, decodeSnapshot(file, 'kernel.snap').snapshot);
      expect(b.instructions).toBe(savedAt);
      const endB = b.run(2e9);
      expect(endB).toEqual(endA);
      expect(endA.kind).toBe('exit');
      expect(second.text).toBe(first.text);
      expectSameMachine(a, b);
      expect(stateOf(b)).toBe(stateOf(a));
    });
  }

  it('builds from the recipe the file carries, with no guest file at hand', () => {
    const first = { text: '' };
    const a = kernelMachine({ mode: 'ept' }, first);
    a.run(6_000_000);
    const { snapshot } = decodeSnapshot(encodeSnapshot(takeSnapshot(a)), 'k.snap');
    const textAtSave = first.text;
    a.run(2e9);
    let text = textAtSave;
    const b = new Machine(configFromRecipe(snapshot.recipe, { serial: (c) => (text += String.fromCharCode(c)) }));
    loadSnapshot(b, snapshot);
    expect(b.run(2e9)).toEqual({ kind: 'exit', status: 1 });
    expect(text).toBe(first.text);
    expect(stateOf(b)).toBe(stateOf(a));
  });

  it('loads into the machine it was taken from: back to where it was, as often as asked', () => {
    const out = { text: '' };
    const m = kernelMachine({ mode: 'shadow' }, out);
    m.run(4_000_000);
    const snap = takeSnapshot(m);
    const state = { st: architecturalState(m), ram: ramDigest(m), instructions: m.instructions };
    const textAtSave = out.text;
    m.run(2e9);
    const ended = { state: stateOf(m), text: out.text };
    for (let i = 0; i < 2; i++) {
      loadSnapshot(m, snap);
      expect({ st: architecturalState(m), ram: ramDigest(m), instructions: m.instructions }).toEqual(state);
      out.text = textAtSave;
      expect(m.run(2e9)).toEqual({ kind: 'exit', status: 1 });
      expect(out.text).toBe(ended.text);
      expect(stateOf(m)).toBe(ended.state);
    }
  });

  it('keeps memory compactly: only pages in use, compressed', () => {
    const m = kernelMachine({ mode: 'bare', memoryBytes: 512 << 20 }, { text: '' });
    m.run(5_000_000);
    const file = encodeSnapshot(takeSnapshot(m));
    expect(file.length).toBeLessThan(1 << 20);
  });
});

describe('a snapshot taken while typed keys are on their way', () => {
  const keyboard = guestImage('keyboard');
  const make = (mode: MachineConfig['mode'], out: { text: string }) =>
    new Machine({ memoryBytes: 32 << 20, mode, bios: bios(), disks: new Map([[0, DiskImage.from(keyboard.slice(), 'floppy', 'keyboard.img')]]), serial: (b) => (out.text += String.fromCharCode(b)) });

  for (const mode of ['bare', 'ept', 'shadow'] as const) {
    it(`carries them: the loaded machine reads the rest of the line, as the first did (${mode})`, () => {
      const first = { text: '' };
      const a = make(mode, first);
      a.run(3_000_000);
      a.typeText('hello, snapshot\r');
      a.run(4_000_000); // part-way through the line (a key every 5 ms of virtual time)
      expect(first.text).not.toContain('you typed');
      const snap = encodeSnapshot(takeSnapshot(a));
      const textAtSave = first.text;
      const endA = a.run(1e9);
      expect(first.text).toContain('you typed "hello, snapshot"');

      const second = { text: textAtSave };
      const b = make(mode, second);
      loadSnapshot(b, decodeSnapshot(snap, 'keys.snap').snapshot);
      expect(b.run(1e9)).toEqual(endA);
      expect(second.text).toBe(first.text);
      expectSameMachine(a, b);
    });
  }
});

describe('a snapshot that cannot be loaded', () => {
  const m = kernelMachine({ mode: 'bare' }, { text: '' });
  m.run(100_000);
  const file = encodeSnapshot(takeSnapshot(m));

  it('is refused when it is not a snapshot', () => {
    expect(() => decodeSnapshot(new TextEncoder().encode('hello'), 'notes.txt')).toThrow(/notes.txt is not a minivisor snapshot/);
  });

  it('is refused when it is of another format version', () => {
    const other = file.slice();
    const at = 'minivisor snapshot\n'.length;
    new DataView(other.buffer).setUint32(at, 99, true);
    expect(() => decodeSnapshot(other, 'old.snap')).toThrow(/old.snap is a snapshot of format 99, and this minivisor reads format 1/);
  });

  it('is refused when damaged', () => {
    const damaged = file.slice();
    damaged[damaged.length - 100] ^= 0x5a;
    expect(() => decodeSnapshot(damaged, 'bad.snap')).toThrow(SnapshotError);
    expect(() => decodeSnapshot(damaged, 'bad.snap')).toThrow(/bad.snap is damaged/);
    expect(() => decodeSnapshot(file.subarray(0, file.length >> 1), 'cut.snap')).toThrow(/cut.snap is damaged/);
  });

  it('is refused when what it describes is impossible, before anything is loaded (never a crash)', () => {
    const { snapshot } = decodeSnapshot(file, 'k.snap');
    const tampered = (change: (nodes: GraphNode[], s: MachineSnapshot) => void) => {
      const copy: MachineSnapshot = JSON.parse(JSON.stringify({ ...snapshot, graph: { nodes: snapshot.graph.nodes, pages: [] } }));
      copy.graph.pages = snapshot.graph.pages;
      change(copy.graph.nodes, copy);
      return () => decodeSnapshot(encodeSnapshot(copy), 'bad.snap');
    };
    const machineNode = snapshot.graph.nodes[0] as { f: Record<string, unknown> };
    const someField = Object.keys(machineNode.f)[0];
    expect(tampered((nodes) => ((nodes[0] as { f: Record<string, unknown> }).f[someField] = ['r', nodes.length + 5]))).toThrow(/bad\.snap is damaged \(a reference to an object it does not hold \(object 0\)\)/);
    // A field named __proto__ (JSON.parse makes it an own field): a load would change the machine's prototype.
    expect(tampered((nodes) => Object.defineProperty((nodes[0] as { f: object }).f, '__proto__', { value: 1, enumerable: true }))).toThrow(/a field named __proto__ \(object 0\)/);
    const buffer = snapshot.graph.nodes.findIndex((n) => n.k === 'ab' && n.p.length > 0);
    expect(tampered((nodes) => ((nodes[buffer] as { p: [number, number][] }).p[0][0] = 1e9))).toThrow(/a page outside its memory/);
    expect(tampered((nodes) => ((nodes[buffer] as { n: number }).n = 2 ** 40))).toThrow(/memory of an impossible size/);
    expect(tampered((_, s) => ((s.recipe as { disks: unknown }).disks = 'none'))).toThrow(/its disks are not disks/);
    expect(tampered((_, s) => (s.recipe.memoryBytes = 2 ** 40))).toThrow(/its memory size is impossible/);
  });

  it('is refused by a machine of another kind, saying what differs', () => {
    const other = kernelMachine({ mode: 'ept', memoryBytes: 64 << 20 }, { text: '' });
    expect(() => loadSnapshot(other, decodeSnapshot(file, 'k.snap').snapshot)).toThrow(/memory \(--mem\): the snapshot's is 33554432, this machine's 67108864\n {2}mode \(--mode\): the snapshot's is "bare", this machine's "ept"/);
  });
});
