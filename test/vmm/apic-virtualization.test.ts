/**
 * APICv (src/vmm/apic-virtualization.ts): under EPT and shadow paging the guest's APIC page is
 * virtualized — register reads make no VM exit, writes the SDM lists make a trap-like APIC-write
 * exit (reason 56) after the instruction, and what is not virtualized (the timer's current count)
 * an APIC-access exit (reason 44) — and the guest sees what it sees on the bare machine.
 */
import { describe, expect, it } from 'vitest';
import { ENTER_FLAT_PM, identityMap4M, runAsm } from '../helpers/run-asm.ts';
import type { VmExit } from '../../src/vmm/exit-info.ts';
import { describeExit } from '../../src/vmm/exit-info.ts';
import { TLB_APIC, TLB_MMIO_READ, TLB_READ } from '../../src/cpu/cpu.ts';

/** Paging on (the first 4 MiB and the APIC page mapped), then APIC reads and writes; results at 0x7000. */
const GUEST = `
${ENTER_FLAT_PM}
${identityMap4M(3)}
  mov dword [0x20000 + 0x3fb * 4], 0x32003
  mov dword [0x32000 + 0x200 * 4], 0xfee00013
  mov eax, 0x20000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  mov ebx, 0xfee00000
  mov dword [ebx + 0xf0], 0x1ff         ; SVR: the APIC on (an APIC-write exit)
after_svr:
  mov dword [0x7020], after_svr
  mov ecx, 1000
.read:
  mov eax, [ebx + 0x20]                 ; the APIC ID, a thousand times: no exit
  loop .read
  mov [0x7000], eax
  mov eax, [ebx + 0x30]
  mov [0x7004], eax
  mov eax, [ebx + 0xf0]
  mov [0x7008], eax
  mov al, [ebx + 0x32]                  ; a byte of the version register (virtualized too)
  mov [0x7018], al
  mov dword [ebx + 0x3e0], 0xb          ; divide by 1
  mov dword [ebx + 0x380], 1000000      ; the timer's initial count
  mov eax, [ebx + 0x390]                ; its current count: an APIC-access exit
  mov [0x700c], eax
  mov dword [ebx + 0x380], 0xffffffff   ; every bit set (an MMIO write like any other)
  mov eax, [ebx + 0x380]
  mov [0x7010], eax
  mov dword [ebx + 0x380], 0
  mov byte [ebx + 0x80], 0x20           ; a byte of the TPR: an APIC-access exit, then as on the bare machine
  mov eax, [ebx + 0x80]
  mov [0x7014], eax
  mov dword [ebx + 0x80], 0             ; the whole TPR: no exit at all
  mov al, 0
  out 0xf4, al
`;

function run(mode: 'bare' | 'ept' | 'shadow') {
  const exits: VmExit[] = [];
  const r = runAsm(GUEST, { mode, prepare: (m) => m.vcpu?.exitObservers.push((e) => exits.push({ ...e })) });
  expect(r.outcome).toEqual({ kind: 'exit', status: 1 });
  const p = r.machine.phys;
  const seen = [0x7000, 0x7004, 0x7008, 0x700c, 0x7010, 0x7014].map((a) => p.read(a, 4) >>> 0);
  const apicPage = r.machine.cpu.tlbEntries().find((e) => e.page === 0xfee00)?.entry ?? 0;
  return { seen, byte: p.read(0x7018, 1), afterSvr: p.read(0x7020, 4), exits, instructions: r.machine.instructions, apicPage };
}

describe('APIC virtualization', () => {
  const bare = run('bare');

  it('the guest reads and writes its APIC as on the bare machine', () => {
    const [id, version, svr, current, initial, tpr] = bare.seen;
    expect([id, version, svr, initial, tpr]).toEqual([0, 0x00050014, 0x1ff, 0xffffffff, 0x20]);
    expect(current).toBeGreaterThan(0);
    expect(current).toBeLessThan(1000000);
    expect(bare.byte).toBe(0x05);
    // The TLB keeps the device's page (physical, every access on the slow path to the device, no walk).
    expect((bare.apicPage & ~0xfff) >>> 0).toBe(0xfee00000);
    expect(bare.apicPage & TLB_MMIO_READ).not.toBe(0);
    expect(bare.apicPage & TLB_READ).toBe(0);
  });

  for (const mode of ['ept', 'shadow'] as const) {
    it(`${mode}: reads make no exit, writes an APIC-write exit after the instruction, the current count an APIC-access exit`, () => {
      const r = run(mode);
      expect(r.seen).toEqual(bare.seen);
      expect(r.byte).toBe(bare.byte);
      expect(r.instructions).toBe(bare.instructions);
      const apic = r.exits.filter((e) => e.reason === 44 || e.reason === 56);
      expect(apic.map((e) => [e.reason, e.qualification & 0xfff])).toEqual([
        [56, 0xf0], [56, 0x3e0], [56, 0x380], [44, 0x390], [56, 0x380], [56, 0x380], [44, 0x80],
      ]);
      expect(describeExit(apic[6])).toContain('write at APIC offset 0x080 (TPR)');
      // Trap-like: the SVR write's exit is reported at the next instruction.
      expect(apic[0].guestRip).toBe(r.afterSvr);
      expect(describeExit(apic[0])).toContain('APIC write');
      expect(describeExit(apic[3])).toContain('read at APIC offset 0x390 (timer current count)');
      // A thousand reads of the ID and more: no other exit touches the APIC page after its first mapping.
      expect(r.exits.length).toBeLessThan(30);
      expect(r.apicPage & (TLB_APIC | TLB_MMIO_READ)).toBe(TLB_APIC | TLB_MMIO_READ);
    });
  }
});
