/**
 * Shadow page tables: the guest's page-table edits take effect as the architecture says (after
 * INVLPG or a CR3 reload), its A/D bits tell the truth, its page faults reach it with the right
 * CR2 and error code, and the shadow-table cache hits and evicts as it should.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.ts';
import { assembleOrThrow, ENTER_FLAT_PM } from '../helpers/run-asm.ts';

/**
 * A flat protected-mode guest with paging: the page directory at 0x100000 and a page table at
 * 0x101000 mapping the first 4 MiB one to one (user, writable). A #PF handler records CR2 at
 * 0x600, the error code at 0x604 and the count at 0x608, then halts. `body` runs with paging on.
 */
function pagedGuest(body: string): string {
  return `${ENTER_FLAT_PM}
    mov eax, pf_handler
    mov [0x30000 + 14*8], ax
    mov word [0x30000 + 14*8 + 2], 0x08
    mov word [0x30000 + 14*8 + 4], 0x8e00
    shr eax, 16
    mov [0x30000 + 14*8 + 6], ax
    lidt [idt_desc]
    mov edi, 0x100000
    mov ecx, 2048
    xor eax, eax
    rep stosd
    mov dword [0x100000], 0x101007
    mov edi, 0x101000
    mov eax, 7
  .map:
    stosd
    add eax, 0x1000
    cmp edi, 0x102000
    jne .map
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ${body}
    cli
    hlt
  pf_handler:
    mov eax, cr2
    mov [0x600], eax
    pop eax
    mov [0x604], eax
    inc dword [0x608]
    cli
    hlt
  align 4
  idt_desc:
    dw 256*8-1
    dd 0x30000`;
}

function run(source: string, options: { mode?: 'shadow' | 'ept' | 'bare'; shadowCacheRoots?: number } = {}) {
  const bytes = assembleOrThrow(`org 0x7c00\n${source}`);
  const machine = new Machine({
    memoryBytes: 8 << 20, mode: options.mode ?? 'shadow', shadowCacheRoots: options.shadowCacheRoots,
    loads: [{ address: 0x7c00, bytes }], entry: { segment: 0, offset: 0x7c00 },
  });
  const outcome = machine.run(5_000_000);
  const p = machine.phys;
  return { machine, outcome, p, stats: machine.vcpu?.shadow?.mmu.stats };
}

describe('shadow paging', () => {
  it("the guest never reads the VMM's CR0.WP (MOV from CR0 and SMSW alike), nor does the register dump show it", () => {
    for (const mode of ['shadow', 'bare'] as const) {
      const r = run(pagedGuest(`
        mov eax, cr0
        mov [0x620], eax
        smsw ebx
        mov [0x624], ebx`), { mode });
      const wp = 1 << 16;
      expect(r.p.read(0x620, 4) & wp).toBe(0);
      expect(r.p.read(0x624, 4) & wp).toBe(0);
      expect(r.p.read(0x624, 4) >>> 31).toBe(1); // PG, which the guest set, it sees
      expect(r.machine.describeRegisters()).toContain('CR0=80000011');
    }
  });

  it('runs a paged guest: the CPU walks the shadow, the guest reads back its own CR3', () => {
    const r = run(pagedGuest(`
      mov dword [0x200000], 0x1234
      mov eax, cr3
      mov [0x610], eax
      mov eax, cr0
      mov [0x614], eax`));
    expect(r.outcome.kind).toBe('halted');
    expect(r.p.read(0x200000, 4)).toBe(0x1234);
    expect(r.p.read(0x610, 4)).toBe(0x100000); // the guest's CR3, not the shadow's
    expect(r.p.read(0x614, 4) >>> 31).toBe(1); // PG, as the guest set it
    expect(r.machine.cpu.st[58]).not.toBe(0x100000); // the real CR3 is the shadow root
    expect(r.stats!.filled).toBeGreaterThan(0);
    expect(r.p.read(0x608, 4)).toBe(0); // no page fault reached the guest
    // The translation API: the guest's walk (its tables, at guest-physical addresses), then the shadow's entry.
    const t = r.machine.translate(0x200010);
    expect(t.guestWalk.map((l) => l.address)).toEqual([0x100000, 0x101000 + 0x200 * 4]);
    expect(t.gpa).toBe(0x200010);
    const frame = r.p.hostMemory.frameOf(0x200000);
    expect(t.shadow).toEqual({ entry: r.machine.vcpu!.shadow!.mmu.entryFor(0x200000) >>> 0, hpa: frame + 0x10 });
    expect(t.hpa).toBe(frame + 0x10);
    expect(r.machine.translate(0x3ff000).stop).toMatch(/not in the shadow yet/);
  });

  it('a page-table edit takes effect after INVLPG, and after a CR3 reload', () => {
    const r = run(pagedGuest(`
      mov dword [0x300000], 0xaaaa      ; frame 0x300000: 0xAAAA, frame 0x301000: 0xBBBB
      mov dword [0x301000], 0xbbbb
      mov eax, [0x300000]               ; GVA 0x300000 → 0x300000 is in the shadow now
      mov [0x620], eax
      mov dword [0x101000 + 0x300*4], 0x301007   ; remap GVA 0x300000 → frame 0x301000
      invlpg [0x300000]
      mov eax, [0x300000]
      mov [0x624], eax
      mov dword [0x101000 + 0x300*4], 0x300007   ; and back, then a CR3 reload
      mov eax, cr3
      mov cr3, eax
      mov eax, [0x300000]
      mov [0x628], eax`));
    expect(r.outcome.kind).toBe('halted');
    expect(r.p.read(0x620, 4)).toBe(0xaaaa);
    expect(r.p.read(0x624, 4)).toBe(0xbbbb);
    expect(r.p.read(0x628, 4)).toBe(0xaaaa);
    expect(r.stats!.writeProtectTraps).toBeGreaterThanOrEqual(2); // the page table is write-protected in the shadow
  });

  it('an edit without INVLPG is seen or not, as the architecture allows (here: seen, the shadow is kept in sync)', () => {
    const r = run(pagedGuest(`
      mov dword [0x300000], 0xaaaa
      mov dword [0x301000], 0xbbbb
      mov eax, [0x300000]
      mov dword [0x101000 + 0x300*4], 0x301007
      mov eax, [0x300000]
      mov [0x620], eax`));
    expect([0xaaaa, 0xbbbb]).toContain(r.p.read(0x620, 4));
  });

  it('accessed and dirty bits in the guest\'s entries tell the truth', () => {
    const r = run(pagedGuest(`
      mov eax, [0x301000]               ; a read: A, not D
      mov eax, [0x101000 + 0x301*4]
      mov [0x620], eax
      mov dword [0x302000], 1           ; a write: A and D
      mov eax, [0x101000 + 0x302*4]
      mov [0x624], eax
      mov eax, [0x101000 + 0x303*4]     ; untouched: neither
      mov [0x628], eax`));
    expect(r.p.read(0x620, 4) & 0x60).toBe(0x20);
    expect(r.p.read(0x624, 4) & 0x60).toBe(0x60);
    expect(r.p.read(0x628, 4) & 0x60).toBe(0);
  });

  it('a write to a clean page maps it read-only first: the write traps, the guest\'s D bit is set, then it is writable', () => {
    const r = run(pagedGuest(`
      mov eax, [0x304000]               ; read first: mapped without write permission (D clear)
      mov dword [0x304000], 5           ; now the write
      mov eax, [0x101000 + 0x304*4]
      mov [0x620], eax`));
    expect(r.p.read(0x304000, 4)).toBe(5);
    expect(r.p.read(0x620, 4) & 0x40).toBe(0x40);
    expect(r.machine.vcpu!.shadow!.mmu.entryFor(0x304000) & 2).toBe(2);
  });

  it('the guest\'s own page faults reach it with CR2 and its error code: not present, and a user write to a supervisor page', () => {
    const notPresent = run(pagedGuest(`
      mov dword [0x800000], 1            ; nothing mapped at 8 MiB`));
    expect(notPresent.p.read(0x600, 4)).toBe(0x800000);
    expect(notPresent.p.read(0x604, 4)).toBe(2); // write, not present, supervisor
    expect(notPresent.stats!.injected).toBe(1);

    const readOnly = run(pagedGuest(`
      mov dword [0x101000 + 0x305*4], 0x305005   ; user, read-only
      invlpg [0x305000]
      mov dword [0x305000], 1            ; supervisor write, CR0.WP clear: allowed
      mov eax, cr0
      or eax, 1 << 16                     ; WP
      mov cr0, eax
      mov dword [0x305000], 2            ; now #PF: present, write
      `));
    expect(readOnly.p.read(0x305000, 4)).toBe(1);
    expect(readOnly.p.read(0x600, 4)).toBe(0x305000);
    expect(readOnly.p.read(0x604, 4)).toBe(3);
  });

  it('4 MiB pages (CR4.PSE) are shadowed with 4 KiB entries', () => {
    const r = run(pagedGuest(`
      mov eax, cr4
      or eax, 1 << 4
      mov cr4, eax
      mov dword [0x100000 + 2*4], 0x400087   ; GVA 8 MiB → GPA 4 MiB, a 4 MiB page
      mov dword [0x800010], 0x77
      mov dword [0x9ff000], 0x88              ; near the page's end: another 4 KiB shadow entry
      mov eax, [0x800010]
      mov [0x620], eax
      mov eax, cr4
      mov [0x624], eax`));
    expect(r.p.read(0x620, 4)).toBe(0x77);
    expect(r.p.read(0x400010, 4)).toBe(0x77);
    expect(r.p.read(0x5ff000, 4)).toBe(0x88);
    expect(r.p.read(0x624, 4) & 0x10).toBe(0x10); // the guest sees its PSE
    expect(r.machine.cpu.st[59] & 0x10).toBe(0); // the real CR4 has none
  });

  /** A guest that switches between page directories at 0x100000, 0x110000 and 0x120000 (copies of the first). */
  const switching = (sequence: number[], after = '') => pagedGuest(`
      mov esi, 0x100000
      mov edi, 0x110000
      mov ecx, 1024
      rep movsd
      mov esi, 0x100000
      mov edi, 0x120000
      mov ecx, 1024
      rep movsd
      ${sequence.map((cr3) => `mov eax, ${cr3}\n      mov cr3, eax\n      mov eax, [0x200000]`).join('\n      ')}
      ${after}`);

  it('a write to the table of a root not in use unshadows it instead of trapping; a flood of writes to one table does too', () => {
    const r = run(switching([0x110000, 0x100000], `
      mov dword [0x110000 + 0x200], 0        ; 0x110000's directory: cached, not current
      mov dword [0x110000 + 0x204], 0
      mov dword [0x110000 + 0x208], 0
      mov eax, [0x200000]`));
    const s = r.stats!;
    expect(s.unshadowed).toBe(1);
    expect(s.writeProtectTraps).toBe(0);
    expect(r.machine.vcpu!.shadow!.mmu.cachedRoots).toBe(2); // the identity shadow and 0x100000's: 0x110000's went
    const flood = run(pagedGuest(`
      mov dword [0x100000 + 1*4], 0x102007  ; a second page table (GVA 4-8 MiB), at 0x102000
      mov dword [0x102000], 0x300007
      mov dword [0x303000], 0x1234
      mov eax, [0x400000]                   ; shadowed now, so 0x102000 is write-protected
      mov edi, 0x102000 + 1*4               ; six stores in a row to it
      mov ecx, 6
      mov eax, 0x301007
    .fill:
      stosd
      add eax, 0x1000
      loop .fill
      mov eax, [0x402000]                   ; GVA 0x402000 → 0x302000 ... and 0x403000 → 0x303000
      mov eax, [0x403000]
      mov [0x620], eax`));
    expect(flood.stats!.writeProtectTraps).toBe(1 + 3); // the directory write, then three stores: then 0x102000 is no longer shadowed
    expect(flood.stats!.unshadowed).toBe(1);
    expect(flood.p.read(0x620, 4)).toBe(0x1234);
    expect(flood.outcome.kind).toBe('halted');
  });

  it('switching back to a CR3 used before hits the shadow-table cache', () => {
    const r = run(switching([0x110000, 0x100000, 0x110000, 0x100000]));
    expect(r.outcome.kind).toBe('halted');
    const s = r.stats!;
    expect(s.cacheHits).toBeGreaterThanOrEqual(3); // the reloads of 0x100000 and 0x110000 after the first of each
    expect(s.evictions).toBe(0);
  });

  it('past its bound the cache evicts the least recently used root; with a bound of 1 every switch misses', () => {
    const bounded = run(switching([0x110000, 0x120000, 0x100000]), { shadowCacheRoots: 2 });
    expect(bounded.outcome.kind).toBe('halted');
    expect(bounded.stats!.evictions).toBeGreaterThanOrEqual(2);
    expect(bounded.machine.vcpu!.shadow!.mmu.cachedRoots).toBeLessThanOrEqual(2);
    // The identity shadow (paging off), 0x100000 when paging goes on, then three switches: each a miss.
    const off = run(switching([0x110000, 0x100000, 0x110000]), { shadowCacheRoots: 1 });
    expect(off.stats!.cacheMisses).toBe(5);
    expect(off.stats!.evictions).toBe(4);
    expect(off.p.read(0x608, 4)).toBe(0);
  });

  it('a guest page fault it cannot take (no IDT) ends in a triple fault, as on the bare machine, not a hang', () => {
    const r = run(pagedGuest(`
      lidt [no_idt]
      mov dword [0x800000], 1            ; not mapped: #PF, injected; no gate: #GP, #DF, shutdown
    no_idt: dw 0
            dd 0`));
    expect(r.outcome.kind).toBe('shutdown');
    expect(r.stats!.injected).toBe(1);
  });

  it('ends in the same state as the bare machine', () => {
    const source = pagedGuest(`
      mov dword [0x300000], 0xaaaa
      mov dword [0x101000 + 0x300*4], 0x301007
      invlpg [0x300000]
      mov dword [0x300004], 0xcccc
      mov eax, [0x101000 + 0x300*4]
      mov [0x620], eax`);
    const bare = run(source, { mode: 'bare' });
    const shadow = run(source);
    expect([...shadow.p.dump(0, 0x400000)]).toEqual([...bare.p.dump(0, 0x400000)]);
    expect(shadow.machine.cpu.instructions).toBe(bare.machine.cpu.instructions);
  });
});
