/**
 * Paravirtual paging (--mode pv): the guest's tables hold machine frames, and the VMM checks every
 * change. One test per validation rule (the VMM refuses, and nothing changes), and a guest that
 * builds its tables, pins them, loads CR3 through the hypercall and runs paged.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { EBUSY, EINVAL, EPERM, isRefusal, type PvMmu } from '../../src/vmm/pv-mmu.ts';
import { assembleOrThrow, ENTER_FLAT_PM } from '../helpers/run-asm.ts';

const MiB = 1 << 20;

function pvMachine(source = 'cli\nhlt') {
  const bytes = assembleOrThrow(`org 0x7c00\n${source}`);
  return new Machine({ memoryBytes: 8 * MiB, mode: 'pv', loads: [{ address: 0x7c00, bytes }], entry: { segment: 0, offset: 0x7c00 } });
}

/** A machine, its PV MMU, and helpers to write a frame's entries and read them back (pseudo-physical frame numbers in, machine frames used). */
function setup() {
  const machine = pvMachine();
  const mmu: PvMmu = machine.vcpu!.pv!.mmu;
  const mfn = (pfn: number) => mmu.p2m[pfn];
  const setEntry = (pfn: number, index: number, value: number) => machine.phys.write(pfn * 4096 + index * 4, 4, value);
  const entry = (pfn: number, index: number) => machine.phys.read(pfn * 4096 + index * 4, 4) | 0;
  return { machine, mmu, mfn, setEntry, entry };
}

const refusal = (result: unknown) => (isRefusal(result) ? result.error : result);

describe('paravirtual paging: the VMM refuses what would let the guest out, and changes nothing', () => {
  it('the P2M gives every RAM frame a machine frame of the guest\'s own, and none to the holes', () => {
    const { mmu, machine } = setup();
    expect(mmu.p2m[0x10]).toBe(machine.phys.hostMemory.frameOf(0x10000) >>> 12);
    expect(mmu.p2m[0xb8]).toBe(-1); // VGA
    expect(mmu.p2m[0xf0]).toBe(-1); // no BIOS here, but not RAM either
    expect(mmu.owns(mmu.p2m[0x123])).toBe(true);
    expect(new Set(mmu.p2m.filter((m) => m !== -1)).size).toBe(mmu.ramFrames); // one machine frame each
  });

  it('an L1 entry may map only the guest\'s own frames (EPERM), and pinning checks every entry first', () => {
    const { mmu, mfn, setEntry, entry } = setup();
    setEntry(0x200, 5, (mfn(0x300) << 12) | 3);
    setEntry(0x200, 6, (0xfffff << 12) | 1); // not the guest's
    expect(refusal(mmu.pin(mfn(0x200), false))).toBe(EPERM);
    expect(mmu.isPinned(mfn(0x200))).toBe(false);
    setEntry(0x200, 6, 0);
    expect(mmu.pin(mfn(0x200), false)).toBe(0);
    expect(refusal(mmu.update([{ ptr: mfn(0x200) * 4096 + 7 * 4, val: (0xfffff << 12) | 3 }]))).toBe(EPERM);
    expect(entry(0x200, 7)).toBe(0);
  });

  it('a pinned table may only be mapped read-only (EPERM), and a table mapped writable cannot be pinned (EPERM)', () => {
    const { mmu, mfn, setEntry, entry } = setup();
    expect(mmu.pin(mfn(0x200), false)).toBe(0);
    expect(mmu.pin(mfn(0x201), false)).toBe(0);
    // Map the pinned 0x201 through 0x200: read-only is fine, writable is not.
    expect(mmu.update([{ ptr: mfn(0x200) * 4096, val: (mfn(0x201) << 12) | 1 }])).toBe(1);
    expect(refusal(mmu.update([{ ptr: mfn(0x200) * 4096 + 4, val: (mfn(0x201) << 12) | 3 }]))).toBe(EPERM);
    expect(entry(0x200, 1)).toBe(0);
    // 0x202 is mapped writable by a pinned table: it cannot become a table until that goes.
    expect(mmu.update([{ ptr: mfn(0x200) * 4096 + 8, val: (mfn(0x202) << 12) | 3 }])).toBe(1);
    expect(refusal(mmu.pin(mfn(0x202), false))).toBe(EPERM);
    expect(mmu.update([{ ptr: mfn(0x200) * 4096 + 8, val: (mfn(0x202) << 12) | 1 }])).toBe(1);
    expect(mmu.pin(mfn(0x202), false)).toBe(0);
    // And a table may not map itself writable.
    setEntry(0x203, 0, (mfn(0x203) << 12) | 3);
    expect(refusal(mmu.pin(mfn(0x203), false))).toBe(EPERM);
  });

  it('a directory entry must point to a pinned L1 (EINVAL) and may not be a 4 MiB page (EINVAL)', () => {
    const { mmu, mfn, entry } = setup();
    expect(mmu.pin(mfn(0x210), true)).toBe(0);
    expect(refusal(mmu.update([{ ptr: mfn(0x210) * 4096, val: (mfn(0x211) << 12) | 3 }]))).toBe(EINVAL); // 0x211 not pinned
    expect(refusal(mmu.update([{ ptr: mfn(0x210) * 4096, val: (mfn(0x211) << 12) | 0x83 }]))).toBe(EINVAL); // large page
    expect(mmu.pin(mfn(0x211), false)).toBe(0);
    expect(mmu.update([{ ptr: mfn(0x210) * 4096, val: (mfn(0x211) << 12) | 3 }])).toBe(1);
    expect(entry(0x210, 0) >>> 12).toBe(mfn(0x211));
    // An L1 used by a directory cannot be unpinned (EBUSY).
    expect(refusal(mmu.unpin(mfn(0x211)))).toBe(EBUSY);
  });

  it('updates go only to pinned tables (EINVAL), aligned (EINVAL); a batch with one bad request applies none', () => {
    const { mmu, mfn, entry } = setup();
    expect(refusal(mmu.update([{ ptr: mfn(0x220) * 4096, val: 0 }]))).toBe(EINVAL); // not pinned
    expect(mmu.pin(mfn(0x220), false)).toBe(0);
    expect(refusal(mmu.update([{ ptr: mfn(0x220) * 4096 + 2, val: 0 }]))).toBe(EINVAL);
    const result = mmu.update([
      { ptr: mfn(0x220) * 4096, val: (mfn(0x300) << 12) | 3 },
      { ptr: mfn(0x220) * 4096 + 4, val: (0xfffff << 12) | 3 },
    ]);
    expect(isRefusal(result) && result.index).toBe(1);
    expect(entry(0x220, 0)).toBe(0); // the good one was not applied either
    expect(mmu.stats.updates).toBe(0);
  });

  it('CR3 is a pinned directory only (EINVAL); the current one cannot be unpinned (EBUSY); foreign frames cannot be pinned (EPERM)', () => {
    const { mmu, mfn } = setup();
    expect(refusal(mmu.newBase(mfn(0x230) * 4096))).toBe(EINVAL);
    expect(mmu.pin(mfn(0x230), false)).toBe(0);
    expect(refusal(mmu.newBase(mfn(0x230) * 4096))).toBe(EINVAL); // an L1, not a directory
    expect(mmu.pin(mfn(0x231), true)).toBe(0);
    expect(mmu.newBase(mfn(0x231) * 4096)).toBe(0);
    expect(refusal(mmu.unpin(mfn(0x231)))).toBe(EBUSY);
    expect(refusal(mmu.pin(0xfffff, false))).toBe(EPERM);
  });
});

/**
 * A PV guest: flat protected mode, the P2M at 0x200000, an identity map of the first 4 MiB
 * built at 0x101000 (the L1) under the directory at 0x100000, both tables mapped read-only in
 * it, pinned, loaded as CR3 by hypercall, then paging on. EDI holds the P2M's address.
 * `body` runs paged; its results go at 0x600.
 */
function pvGuest(body: string): string {
  return `${ENTER_FLAT_PM}
    mov eax, 2                  ; P2M
    mov ebx, 0x200000
    mov ecx, 0x800
    vmcall
    mov edi, 0x101000           ; the L1: PFN i → MFN(i), writable, except the two tables
    xor esi, esi
  .map:
    mov eax, [0x200000 + esi*4]
    cmp eax, 0xffffffff
    je .hole
    shl eax, 12
    or eax, 3
    cmp esi, 0x100
    je .ro
    cmp esi, 0x101
    jne .store
  .ro:
    and eax, ~2
    jmp .store
  .hole:
    xor eax, eax
  .store:
    mov [edi + esi*4], eax
    inc esi
    cmp esi, 1024
    jne .map
    mov eax, [0x200000 + 0x101*4]      ; the directory's entry 0 → the L1's machine frame
    shl eax, 12
    or eax, 3
    mov [0x100000], eax
    mov eax, 4                  ; pin the L1
    mov ebx, [0x200000 + 0x101*4]
    shl ebx, 12
    vmcall
    mov [0x600], eax
    mov eax, 5                  ; pin the directory
    mov ebx, [0x200000 + 0x100*4]
    shl ebx, 12
    vmcall
    mov [0x604], eax
    mov eax, 7                  ; new base pointer
    mov ebx, [0x200000 + 0x100*4]
    shl ebx, 12
    vmcall
    mov [0x608], eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ${body}
    cli
    hlt`;
}

describe('a paravirtual guest', () => {
  it('pins its tables, loads CR3 by hypercall and runs paged on machine frames; a direct write to a pinned table is #PF', () => {
    const m = pvMachine(pvGuest(`
      mov dword [0x300000], 0x5a5a       ; paged: through the identity map
      mov eax, cr3
      mov [0x60c], eax                   ; the machine address of the directory
      mov eax, 14                        ; a #PF handler that records the error code, then halts
      mov dword [0x30000 + 14*8], pf_handler
      mov word [0x30000 + 14*8 + 2], 0x08
      mov word [0x30000 + 14*8 + 4], 0x8e00
      mov word [0x30000 + 14*8 + 6], 0
      lidt [idt]
      mov dword [0x101000 + 0x300*4], 0  ; the L1 is read-only to the guest: #PF
      mov dword [0x610], 1               ; not reached
      cli
      hlt
    pf_handler:
      pop eax
      mov [0x614], eax
      mov eax, cr2
      mov [0x618], eax
      cli
      hlt
    idt: dw 256*8-1
         dd 0x30000`));
    expect(m.run(5_000_000).kind).toBe('halted');
    const p = m.phys;
    const mmu = m.vcpu!.pv!.mmu;
    expect([p.read(0x600, 4), p.read(0x604, 4), p.read(0x608, 4)]).toEqual([0, 0, 0]);
    expect(p.read(0x300000, 4)).toBe(0x5a5a);
    expect(p.read(0x60c, 4)).toBe(mmu.p2m[0x100] * 4096);
    expect(m.cpu.st[58]).toBe(mmu.p2m[0x100] * 4096); // the CPU walks the guest's own directory
    expect(p.read(0x610, 4)).toBe(0);
    expect(p.read(0x614, 4)).toBe(3); // present, write, supervisor (CR0.WP is on for real)
    expect(p.read(0x618, 4)).toBe(0x101000 + 0x300 * 4);
    expect(p.read(0x101000 + 0x300 * 4, 4)).not.toBe(0);
  });

  it('MOV to CR3 is #GP(0): the guest must use the hypercall', () => {
    const m = pvMachine(pvGuest(`
      mov dword [0x30000 + 13*8], gp_handler
      mov word [0x30000 + 13*8 + 2], 0x08
      mov word [0x30000 + 13*8 + 4], 0x8e00
      mov word [0x30000 + 13*8 + 6], 0
      lidt [idt]
      mov eax, 0x100000
      mov cr3, eax
      mov dword [0x620], 1
      cli
      hlt
    gp_handler:
      pop eax
      mov [0x624], eax
      mov dword [0x628], 1
      cli
      hlt
    idt: dw 256*8-1
         dd 0x30000`));
    expect(m.run(5_000_000).kind).toBe('halted');
    expect(m.phys.read(0x628, 4)).toBe(1);
    expect(m.phys.read(0x620, 4)).toBe(0);
    expect(m.cpu.st[58]).toBe(m.vcpu!.pv!.mmu.p2m[0x100] * 4096); // unchanged
  });

  it('a hypercall that maps a foreign frame is refused: EAX = EPERM, EDX = the request, and the entry is unchanged', () => {
    const m = pvMachine(pvGuest(`
      mov eax, [0x200000 + 0x101*4]      ; request 0: L1 entry 0x300 → its own frame (fine)
      shl eax, 12
      add eax, 0x300*4
      mov [0x700], eax
      mov eax, [0x200000 + 0x300*4]
      shl eax, 12
      or eax, 1
      mov [0x704], eax
      mov eax, [0x700]                   ; request 1: entry 0x301 → machine frame 0xFFFFF
      add eax, 4
      mov [0x708], eax
      mov dword [0x70c], 0xfffff003
      mov eax, 3
      mov ebx, 0x700
      mov ecx, 2
      vmcall
      mov [0x630], eax
      mov [0x634], edx`));
    expect(m.run(5_000_000).kind).toBe('halted');
    expect(m.phys.read(0x630, 4) | 0).toBe(EPERM);
    expect(m.phys.read(0x634, 4)).toBe(1);
    expect(m.vcpu!.lastRefusal).toMatch(/not the guest's/);
    const l1 = m.vcpu!.pv!.mmu.p2m[0x101];
    expect(m.phys.hostMemory.view.getInt32(l1 * 4096 + 0x300 * 4, true) & 2).toBe(2); // request 0 not applied: still writable
  });

  it('with its paging off, a write to a pinned table is #GP(0), and a device cannot DMA into one', () => {
    const m = pvMachine(pvGuest(`
      mov eax, cr0
      and eax, 0x7fffffff
      mov cr0, eax                        ; paging off again
      mov dword [0x30000 + 13*8], gp_handler
      mov word [0x30000 + 13*8 + 2], 0x08
      mov word [0x30000 + 13*8 + 4], 0x8e00
      mov word [0x30000 + 13*8 + 6], 0
      lidt [idt]
      mov dword [0x101000], 0            ; pseudo-physically into the pinned L1
      mov dword [0x640], 1
      cli
      hlt
    gp_handler:
      mov dword [0x644], 1
      cli
      hlt
    idt: dw 256*8-1
         dd 0x30000`));
    expect(m.run(5_000_000).kind).toBe('halted');
    expect(m.phys.read(0x644, 4)).toBe(1);
    expect(m.phys.read(0x640, 4)).toBe(0);
    expect(m.phys.read(0x101000, 4)).not.toBe(0);
    expect(m.phys.dmaWrite(0x101000, new Uint8Array(16))).toBe(0);
    expect(m.phys.read(0x101000, 4)).not.toBe(0);
  });
});
