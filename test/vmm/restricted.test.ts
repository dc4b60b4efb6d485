/**
 * The VMM on a CPU without "unrestricted guest" (--unrestricted off, src/vmm/restricted-guest.ts):
 * real-mode code runs in virtual-8086 mode, where the IOPL-sensitive and privileged instructions
 * fault and the VMM emulates them; I/O exits as I/O; the switch to protected mode exits for the
 * CR0 write; paging-off code runs on the VMM's identity table, which grows on demand.
 */
import { describe, expect, it } from 'vitest';
import { ExitReason } from '../../src/cpu/sensitive.ts';
import { CS, IF, S_CR0, S_EFLAGS, S_SEG_SEL } from '../../src/cpu/state.ts';
import type { VmExit } from '../../src/vmm/exit-info.ts';
import { Field } from '../../src/vmm/vmcs.ts';
import { VmEntryError } from '../../src/vmm/vmentry.ts';
import { runUnderVmm } from '../helpers/run-vmm.ts';
import { ENTER_FLAT_PM, identityMap4M } from '../helpers/run-asm.ts';

/** Real mode: CLI, IN, LGDT, STI, reading and writing CR0 (into protected mode), a far jump, then a load 8 MiB up with paging off. */
const INTO_PROTECTED_MODE = `
      cli                          ; 7C00
      in al, 0x61                  ; 7C01
      lgdt [gdt_desc]              ; 7C03
      sti                          ; 7C08
      nop                          ; 7C09: in STI's shadow, emulated (a fault in V86 mode would lose the shadow)
      mov eax, cr0                 ; 7C0A
      or al, 1                     ; 7C0D
      mov cr0, eax                 ; 7C0F
      jmp 0x08:pm                  ; 7C12
bits 32
pm:   mov ax, 0x10
      mov ds, ax
      mov ss, ax
      mov eax, [0x800000]          ; a third 4 MiB of the identity table
      cli
      hlt
align 8
gdt:  dq 0
      dq 0x00cf9a000000ffff        ; 0x08: flat 32-bit code
      dq 0x00cf92000000ffff        ; 0x10: flat data
gdt_desc: dw 23
          dd gdt`;

/** An exit in a few words: its reason, and for an exception its vector; with the RIP it was at. */
function exitInWords(e: VmExit): string {
  const what = e.reason === ExitReason.EXCEPTION_OR_NMI ? `exception ${e.interruptionInfo & 0xff}` : e.reason === ExitReason.IO_INSTRUCTION ? `I/O port 0x${(e.qualification >>> 16).toString(16)}` : e.reason === ExitReason.CR_ACCESS ? `CR${e.qualification & 15} access` : e.reason === ExitReason.HLT ? 'HLT' : `reason ${e.reason}`;
  return `${what} at 0x${e.guestRip.toString(16)}`;
}

/** The exits that are about instructions, not about memory (EPT violations and #PFs on the identity table fill tables). */
const instructionExits = (exits: VmExit[]) => exits.filter((e) => e.reason !== ExitReason.EPT_VIOLATION && !(e.reason === ExitReason.EXCEPTION_OR_NMI && (e.interruptionInfo & 0xff) === 14)).map(exitInWords);

describe('--unrestricted off: real mode in virtual-8086 mode', () => {
  it.each(['ept', 'shadow'] as const)('%s: the first real-mode instructions exit one by one, and the switch to protected mode exits for the CR0 write', (mode) => {
    const run = runUnderVmm(INTO_PROTECTED_MODE, { mode, unrestrictedGuest: false });
    expect(run.outcome.kind).toBe('halted');
    expect(instructionExits(run.exits)).toEqual([
      'exception 13 at 0x7c00', // CLI faults at IOPL 0: the VMM emulates it
      'I/O port 0x61 at 0x7c01', // IN: the TSS's I/O bitmap lets it through to the I/O exit
      'exception 13 at 0x7c03', // LGDT: privileged, not for CPL 3
      'exception 13 at 0x7c08', // STI (the NOP after it is emulated too, without an exit of its own)
      'exception 13 at 0x7c0a', // MOV from CR0
      'exception 13 at 0x7c0f', // MOV to CR0: emulated, and then ...
      'CR0 access at 0x7c0f', // ... PE is the VMM's bit: the write exits, and the VMM stops using V86 mode
      'HLT at 0x7c25', // the far jump and what follows ran in protected mode, on the identity table
    ]);
    const m = run.machine;
    expect(m.cpu.st[S_SEG_SEL + CS]).toBe(0x08);
    expect(m.vcpu!.guestControlRegister(0) & 1).toBe(1);
    expect(m.cpu.st[S_EFLAGS] & IF).toBe(0); // the second CLI ran in protected mode (CPL 0 may)
    const stats = m.vcpu!.restricted!.stats;
    expect(stats.v86Runs).toBeGreaterThanOrEqual(6);
    expect(stats.emulated).toBe(6);
    expect(stats.identityRuns).toBeGreaterThan(0);
  });

  it('under EPT the identity directory starts empty and gains an entry per 4 MiB touched', () => {
    let before = '';
    const run = runUnderVmm(INTO_PROTECTED_MODE, { unrestrictedGuest: false, prepare: (m) => (before = m.vcpu!.restricted!.describeIdentityTable()) });
    const restricted = run.machine.vcpu!.restricted!;
    expect(before).toMatch(/: 0 of 1024 entries/);
    // 0-4 MiB (the code) and 8-12 MiB (the load). The V86 runs filled the 4 MiB of the VMM's own
    // TSS below 4 GiB too (the IN reads its I/O bitmap), which paging-off code must not reach: gone.
    expect(restricted.describeIdentityTable()).toMatch(/: 2 of 1024 entries/);
    for (const linear of [0x7c00, 0x800000]) expect(restricted.identityEntryFor(linear).entry & 0x81).toBe(0x81); // present, 4 MiB
    for (const linear of [0x400000, 0xfeffd000]) expect(restricted.identityEntryFor(linear).entry).toBe(0);
    expect(run.exits.filter((e) => e.reason === ExitReason.EXCEPTION_OR_NMI && (e.interruptionInfo & 0xff) === 14).map((e) => e.qualification >>> 22)).toEqual([0, 1019, 2]);
  });

  it('a state V86 mode cannot hold (a real-mode SS with RPL 3 just after the switch) is emulated until it can be entered', () => {
    const run = runUnderVmm(`
      cli
      mov ax, 3
      mov ss, ax
      lgdt [gdt_desc]
      mov eax, cr0
      or eax, 1
      mov cr0, eax
      cpuid                           ; protected mode with SS's RPL 3 and DPL 0: VM entry would refuse it
      mov byte [0x500], 1
      hlt
    gdt: dq 0
    gdt_desc: dw 7
              dd gdt`, { unrestrictedGuest: false });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read8(0x500)).toBe(1);
    expect(run.machine.vcpu!.restricted!.stats.emulated).toBeGreaterThanOrEqual(8);
  });

  it('the CPU itself refuses real mode without "unrestricted guest" when the VMM does not step in', () => {
    let error: unknown = null;
    try {
      // A VMM (the default one, which expects the CPU to run real mode) whose VMCS loses the control.
      runUnderVmm('cli\nhlt', { prepare: (m) => m.vcpu!.vmcs.setBits(Field.SECONDARY_VM_EXEC_CONTROL, 1 << 7, false) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VmEntryError);
    expect((error as Error).message).toMatch(/CR0\.PE and CR0\.PG must both be set unless "unrestricted guest" is on/);
  });

  it('a real-mode guest sees its own flags and CR0: PUSHF shows the IOPL it set (the VMM runs it at 0) and no VM bit; SMSW shows PE clear', () => {
    const run = runUnderVmm(`
      pushf
      pop ax
      or ax, 0x3000                ; IOPL 3
      push ax
      popf
      pushf
      pop ax
      mov [0x500], ax
      smsw bx
      mov [0x502], bx
      cli
      hlt`, { unrestrictedGuest: false });
    expect(run.outcome.kind).toBe('halted');
    const m = run.machine;
    const flags = m.phys.read8(0x500) | (m.phys.read8(0x501) << 8);
    expect(flags & 0x3000).toBe(0x3000); // IOPL as the guest set it, not the VMM's 0
    expect(flags & 0x20000).toBe(0); // no VM bit
    expect(m.phys.read8(0x502) & 1).toBe(0);
    expect(m.cpu.st[S_CR0] & 1).toBe(0); // between runs the CPU holds the guest's real-mode state
  });
});

describe('--unrestricted off: big real mode', () => {
  it.each(['ept', 'shadow'] as const)('%s: 4 GiB data limits back in real mode are emulated, and end as on the bare machine', (mode) => {
    // Protected mode for one load of DS with a 4 GiB limit, back to real mode, then a 32-bit
    // address above 1 MiB through DS (unreal mode: V86 mode has 64 KiB limits and cannot do it).
    const source = `
      cli
      lgdt [gdt_desc]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp 0x08:.pm16
.pm16:
      mov bx, 0x10
      mov ds, bx
      and al, 0xfe
      mov cr0, eax
      jmp 0:.real
.real:
      xor bx, bx
      mov ds, bx                   ; real mode: the selector changes, the 4 GiB limit stays
      mov esi, 0x200000
      mov dword [esi], 0x600dcafe  ; 2 MiB: past what a 16-bit segment can reach
      mov eax, [esi]
      mov [0x500], eax
      mov ax, 0x0000
      mov ss, ax
      hlt
align 8
gdt:  dq 0
      dq 0x00009a000000ffff        ; 0x08: 16-bit code, base 0
      dq 0x008f92000000ffff        ; 0x10: data, base 0, 4 GiB (G), 16-bit
gdt_desc: dw 23
          dd gdt`;
    const bare = runUnderVmm(source, { mode: 'bare' });
    const run = runUnderVmm(source, { mode, unrestrictedGuest: false });
    expect(bare.outcome.kind).toBe('halted');
    expect(bare.machine.phys.read(0x500, 4) >>> 0).toBe(0x600dcafe);
    expect(run.outcome).toEqual(bare.outcome);
    expect(run.machine.phys.read(0x500, 4) >>> 0).toBe(0x600dcafe);
    expect(run.machine.cpu.instructions).toBe(bare.machine.cpu.instructions);
    // From the return to real mode on, DS's limit keeps V86 mode out: each instruction is emulated.
    expect(run.machine.vcpu!.restricted!.stats.emulated).toBeGreaterThanOrEqual(8);
  });
});

describe('moves to CR0 that do not exit (SDM 25.3: the bits the VMM owns stay as they are)', () => {
  it.each(['ept', 'shadow'] as const)('%s, --unrestricted off: setting CR0.TS with paging off keeps the identity table in use, and the guest keeps its TS', (mode) => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov eax, cr0
      or eax, 8                     ; TS: PE and PG as the guest has them, so no exit
      mov cr0, eax
      mov dword [0x500], 0x5eed     ; still through the identity table
      mov eax, cr0
      mov [0x504], eax
      hlt`, { mode, unrestrictedGuest: false });
    expect(run.outcome.kind).toBe('halted');
    const m = run.machine;
    expect(m.phys.read(0x500, 4)).toBe(0x5eed);
    expect(m.phys.read(0x504, 4) & 0x80000009).toBe(9); // PE and TS, no PG: what the guest wrote
    expect(m.vcpu!.guestControlRegister(0) & 0x80000009).toBe(9);
  });

  it('shadow paging: a guest with CR0.WP clear that writes CR0 again leaves the real WP set (its page tables stay write-protected)', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      ${identityMap4M(3)}
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000            ; paging on, WP clear
      mov cr0, eax
      mov eax, cr0
      mov cr0, eax                  ; the same value again: no exit
      mov dword [0x21000 + 4 * 0x30], 0x30003 ; a write to the guest's page table: still trapped
      mov eax, [0x30000]
      hlt`, { mode: 'shadow' });
    expect(run.outcome.kind).toBe('halted');
    const m = run.machine;
    expect(m.cpu.st[S_CR0] & 0x10000).toBe(0x10000); // the real CR0: WP, the VMM's
    expect(m.vcpu!.guestControlRegister(0) & 0x10000).toBe(0); // the guest's: WP clear
    expect(m.vcpu!.shadow!.mmu.stats.writeProtectTraps).toBeGreaterThan(0);
  });
});

/** Runs a small real-mode guest on the bare machine and under ept and shadow without "unrestricted guest"; each must end the same. */
function expectSameAsBare(source: string, memory: [number, number]): void {
  const ends = (mode: 'bare' | 'ept' | 'shadow') => {
    const run = runUnderVmm(source, { mode, unrestrictedGuest: mode === 'bare' ? undefined : false, maxInstructions: 2_000_000 });
    return { mode, outcome: run.outcome.kind, instructions: run.machine.cpu.instructions, memory: Array.from(run.machine.phys.dump(memory[0], memory[1])) };
  };
  const bare = ends('bare');
  for (const mode of ['ept', 'shadow'] as const) expect(ends(mode)).toEqual({ ...bare, mode });
}

describe("--unrestricted off: the VMM's own pages (its identity directory, TSS and IDT at 0xFEFFC000) are not guest memory", () => {
  it('paging-off code that writes and reads them finds nothing there, as on the bare machine, and V86 mode still works after', () => {
    expectSameAsBare(`
      in al, 0x61                  ; a V86 run: it reads the VMM's TSS (its I/O bitmap)
      cli
      lgdt [gdt_desc]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp 0x08:pm
bits 32
pm:   mov ax, 0x10
      mov ds, ax
      mov ss, ax
      mov dword [0xfeffd066], 0    ; the VMM's TSS: its I/O map base
      mov dword [0xfeffc000], 0x12345678 ; its identity directory
      mov eax, [0xfeffd066]
      mov [0x500], eax
      mov eax, [0xfeffc000 + 1019 * 4]
      mov [0x504], eax
      mov esp, 0xfeffec00          ; a stack over the TSS's I/O bitmap
      push dword 0x5a5a5a5a
      pop dword [0x508]
      jmp 0x18:pm16
bits 16
pm16: mov ax, 0x20
      mov ds, ax
      mov ss, ax
      mov eax, cr0
      and al, 0xfe
      mov cr0, eax
      jmp 0:rm
rm:   xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7c00
      in al, 0x61                  ; V86 again: the VMM's TSS as it was
      mov [0x50c], al
      hlt
align 8
gdt:  dq 0
      dq 0x00cf9a000000ffff        ; 0x08: flat 32-bit code
      dq 0x00cf92000000ffff        ; 0x10: flat data
      dq 0x00009a000000ffff        ; 0x18: 16-bit code, 64 KiB
      dq 0x000092000000ffff        ; 0x20: 16-bit data, 64 KiB
gdt_desc: dw 39
          dd gdt`, [0x500, 16]);
  });
});

describe('--unrestricted off: what the CPU holds between instructions survives V86 mode', () => {
  it('the single-step trap after the POPF that clears TF is taken, as on the bare machine', () => {
    expectSameAsBare(`
      xor ax, ax
      mov ds, ax
      mov word [1 * 4], on_debug
      mov word [1 * 4 + 2], 0
      pushf
      pop ax
      or ax, 0x100
      push ax
      popf                         ; TF on: a trap after each instruction from the next
      nop
      nop
      pushf
      pop ax
      and ax, 0xfeff
      push ax
      popf                         ; TF off: this one still traps
      nop
      cli
      hlt
on_debug:
      inc word [0x500]
      iret`, [0x500, 2]);
  });

  it('an interrupt pending at STI; HLT is taken after the HLT, not before it (the STI shadow)', () => {
    expectSameAsBare(`
      cli
      xor ax, ax
      mov ds, ax
      mov word [8 * 4], on_timer
      mov word [8 * 4 + 2], 0
      mov al, 0x11                 ; the PIC: IRQ 0-7 at vectors 8-15, only IRQ 0 unmasked
      out 0x20, al
      mov al, 8
      out 0x21, al
      mov al, 4
      out 0x21, al
      mov al, 1
      out 0x21, al
      mov al, 0xfe
      out 0x21, al
      mov al, 0x30                 ; PIT channel 0, mode 0: one interrupt after 100 ticks
      out 0x43, al
      mov al, 100
      out 0x40, al
      xor al, al
      out 0x40, al
.wait:
      mov al, 0x0a                 ; read the IRR: wait until IRQ 0 is pending
      out 0x20, al
      in al, 0x20
      test al, 1
      jz .wait
      sti
      hlt                          ; the interrupt comes after this, and wakes it
      mov byte [0x504], 0x42
      cli
      hlt
on_timer:
      inc byte [0x500]
      mov al, 0x20
      out 0x20, al
      iret`, [0x500, 8]);
  });

  it("SIDT stores the guest's IDTR, not the VMM's", () => {
    expectSameAsBare(`
      sidt [0x500]
      cli
      hlt`, [0x500, 6]);
  });

  it('with the A20 gate closed, FFFF:0510 wraps to 0x500', () => {
    expectSameAsBare(`
      xor ax, ax
      mov ds, ax
      mov byte [0x500], 0x11
      in al, 0x92
      and al, 0xfd
      out 0x92, al                 ; A20 off
      mov ax, 0xffff
      mov es, ax
      mov byte [es:0x510], 0x77
      mov al, [0x500]
      mov [0x508], al
      cli
      hlt`, [0x500, 16]);
  });
});
