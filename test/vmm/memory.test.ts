/**
 * Memory under the VMM: host frames on first touch, GVA → GPA → HVA → HPA, resource control
 * (Popek and Goldberg's second condition), slots that change while the guest runs.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { ExitReason } from '../../src/cpu/sensitive.ts';
import { ofReason, runUnderVmm } from '../helpers/run-vmm.ts';
import { assembleOrThrow, ENTER_FLAT_PM } from '../helpers/run-asm.ts';

const MiB = 1 << 20;

describe('host frames', () => {
  it('a guest with 1 GiB configured that touches 10 MiB holds about 10 MiB of frames', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov edi, 0x1000000              ; from 16 MiB
      mov ecx, 10 * 256               ; 10 MiB of pages, one byte each
    touch:
      mov byte [edi], 1
      add edi, 4096
      loop touch
      cli
      hlt`, { memoryBytes: 1 << 30 });
    expect(run.outcome.kind).toBe('halted');
    const host = run.machine.phys.hostMemory;
    const bytes = host.framesInUse * 4096;
    expect(bytes).toBeGreaterThanOrEqual(10 * MiB);
    expect(bytes).toBeLessThan(10 * MiB + 64 * 1024); // + the code page, a few EPT tables
    expect(host.frameCount * 4096).toBeGreaterThan(1 << 30); // what could have been used
    expect(run.machine.vcpu!.ept!.mappedPages).toBe(10 * 256 + 1); // the touched pages and the code page
  });

  it('the translation API shows every step, and HVA and HPA differ: frames come in touch order', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov dword [0x300000], 0x12345678   ; the first page touched after the code
      ; paging: one page table mapping 4 MiB at 0 identity, plus GVA 0x40000000 → GPA 0x300000
      mov edi, 0x100000
      mov ecx, 2048
      xor eax, eax
      rep stosd
      mov dword [0x100000], 0x101003            ; PDE 0 → the page table at 0x101000
      mov dword [0x100000 + 0x100*4], 0x102003  ; PDE 256 (GVA 0x40000000) → the page table at 0x102000
      mov ebx, 0x101000
      mov eax, 3
    identity:
      mov [ebx], eax
      add ebx, 4
      add eax, 0x1000
      cmp eax, 0x400003
      jne identity
      mov dword [0x102000], 0x300003
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov eax, [0x40000000]
      cli
      hlt`);
    expect(run.machine.cpu.reg[0]).toBe(0x12345678);
    const t = run.machine.translate(0x40000010);
    expect(t.guestWalk.map((l) => [l.level, l.address])).toEqual([['PDE', 0x100400], ['PTE', 0x102000]]);
    expect(t.gpa).toBe(0x300010);
    expect(t.slot?.label).toBe('extended RAM');
    expect(t.hva).toBe(0x300010); // RAM's slot starts at HVA 0
    const frame = run.machine.phys.hostMemory.frameOf(0x300000);
    expect(t.hostPageTable).toEqual({ hva: 0x300010, hpa: frame + 0x10 });
    expect(frame).toBeLessThan(16 * 4096); // frames come in touch order (the code page, EPT tables, ...), not at the HVA
    expect(t.eptWalk.map((l) => l.level)).toEqual(['PML4', 'PDPT', 'PD', 'PT']);
    expect(t.hpa).toBe(frame + 0x10);
    expect(run.machine.phys.host[t.hpa! - 0x10]).toBe(0x78); // the guest's bytes are in that frame
    expect(t.stop).toBeNull();
  });

  it('a page nothing touched has no frame yet, and the translation says so', () => {
    const run = runUnderVmm('cli\nhlt');
    const t = run.machine.translate(0x200000);
    expect(t.hostPageTable).toEqual({ hva: 0x200000, hpa: null });
    expect(t.hpa).toBeNull();
    expect(t.stop).toMatch(/no host frame yet/);
  });
});

describe('resource control', () => {
  it('a guest cannot reach memory outside its slots: writes to a hole vanish, reads see all ones, no frame is used', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov dword [0x20000000], 0x11111111   ; past the 4 MiB of RAM: no slot
      mov eax, [0x20000000]
      mov [0x500], eax
      cli
      hlt`);
    expect(run.machine.phys.read(0x500, 4) >>> 0).toBe(0xffffffff);
    expect(ofReason(run, ExitReason.EPT_VIOLATION).filter((e) => e.guestPhysical === 0x20000000)).toHaveLength(2); // MMIO: the machine's
    expect(run.machine.vcpu!.ept!.lookup(0x20000000)).toBeNull();
  });

  it('writes to the BIOS ROM and to a read-only slot never change them', () => {
    const rom = new Uint8Array(0x10000).fill(0xa5);
    const bytes = assembleOrThrow(`org 0x7c00\n${ENTER_FLAT_PM}
      mov dword [0xf0000], 0              ; the BIOS ROM
      mov dword [0xfffffff0], 0           ; its alias below 4 GiB
      mov dword [0x30000000], 0           ; a read-only slot
      mov eax, [0xf0000]
      mov ebx, [0x30000000]
      cli
      hlt`);
    const machine = new Machine({ memoryBytes: 4 * MiB, mode: 'ept', bios: rom, loads: [{ address: 0x7c00, bytes }], entry: { segment: 0, offset: 0x7c00 } });
    const hva = machine.phys.allocateHost(0x1000);
    machine.phys.setUserMemoryRegion({ slot: 40, guestPhysAddr: 0x30000000, size: 0x1000, userspaceAddr: hva, readOnly: true, label: 'read-only test slot' });
    machine.phys.load(0x30000000, Uint8Array.of(0x5a, 0x5a, 0x5a, 0x5a));
    expect(machine.run(1e6).kind).toBe('halted');
    expect(machine.cpu.reg[0] >>> 0).toBe(0xa5a5a5a5);
    expect(machine.cpu.reg[3] >>> 0).toBe(0x5a5a5a5a);
    expect(machine.phys.read(0xffffeff0 + 0x1000, 4) >>> 0).toBe(0xa5a5a5a5);
    expect([...machine.phys.dump(0xf0000, 4)]).toEqual([0xa5, 0xa5, 0xa5, 0xa5]);
  });

  it('two VMs run interleaved in one process: each sees only its own memory and devices', () => {
    const guest = (mark: string) => `${ENTER_FLAT_PM}
      mov ecx, 1000
    again:
      mov eax, [0x500]
      inc eax
      mov [0x500], eax                ; a counter at the same GPA in both
      mov al, '${mark}'
      out 0xe9, al
      loop again
      cli
      hlt`;
    const a = vm(guest('a'));
    const b = vm(guest('b'));
    for (let i = 0; i < 200 && (a.outcome === null || b.outcome === null); i++) {
      a.step();
      b.step();
    }
    expect(a.outcome).toBe('halted');
    expect(b.outcome).toBe('halted');
    expect(a.machine.phys.read(0x500, 4)).toBe(1000);
    expect(b.machine.phys.read(0x500, 4)).toBe(1000);
    expect(a.output).toBe('a'.repeat(1000));
    expect(b.output).toBe('b'.repeat(1000));
    expect(a.machine.vcpu!.vmcs).not.toBe(b.machine.vcpu!.vmcs);
  });
});

/** A VM that runs a slice at a time. */
function vm(source: string) {
  const bytes = assembleOrThrow(`org 0x7c00\n${source}`);
  const state = {
    output: '',
    outcome: null as string | null,
    machine: null as unknown as Machine,
    step() {
      if (state.outcome !== null) return;
      const o = state.machine.run(500);
      if (o.kind !== 'limit') state.outcome = o.kind;
    },
  };
  state.machine = new Machine({
    memoryBytes: 4 * MiB, mode: 'ept', loads: [{ address: 0x7c00, bytes }], entry: { segment: 0, offset: 0x7c00 },
    debugcons: [{ port: 0xe9, sink: (c) => (state.output += String.fromCharCode(c)) }],
  });
  return state;
}

describe('slots that change while the guest runs', () => {
  it('a slot added, then moved, then removed: the guest sees each change (the EPT entries go, the TLB is flushed)', () => {
    const run = vm(`${ENTER_FLAT_PM}
    absent:
      cmp dword [0x10000000], 0x11223344     ; until the slot appears
      jne absent
      mov byte [0x500], 1
    moving:
      cmp dword [0x10000000], 0xffffffff     ; until it has gone from there...
      jne moving
      cmp dword [0x18000000], 0x11223344     ; ...to here
      jne moving
      mov byte [0x501], 1
    removing:
      cmp dword [0x18000000], 0xffffffff
      jne removing
      cli
      hlt`);
    const m = run.machine;
    m.run(10_000);
    expect(m.phys.read8(0x500)).toBe(0);
    const hva = m.phys.allocateHost(0x1000);
    const slot = { slot: 50, guestPhysAddr: 0x10000000, size: 0x1000, userspaceAddr: hva, readOnly: false, label: 'hot-plugged' };
    m.phys.setUserMemoryRegion(slot);
    m.phys.write(0x10000000, 4, 0x11223344);
    m.run(10_000);
    expect(m.phys.read8(0x500)).toBe(1);
    expect(m.vcpu!.ept!.lookup(0x10000000)).not.toBeNull();
    m.phys.setUserMemoryRegion({ ...slot, guestPhysAddr: 0x18000000 }); // the same host memory, somewhere else
    expect(m.vcpu!.ept!.lookup(0x10000000)).toBeNull();
    m.run(10_000);
    expect(m.phys.read8(0x501)).toBe(1);
    m.phys.setUserMemoryRegion({ ...slot, size: 0 });
    expect(m.run(10_000).kind).toBe('halted');
  });
});
