/**
 * Popek and Goldberg's equivalence under random code (test/helpers/vmm-fuzz.ts): a seeded random
 * guest — real mode, flat protected mode, or paging with random entries — ends in the same machine
 * (outcome, instructions retired, registers, control registers as the guest reads them, RAM) on
 * the bare interpreter and under bare compiled, EPT, shadow paging and pv, with the translation
 * cache on and off, and EPT and shadow without "unrestricted guest". `npm run fuzz` runs as many
 * seeds as you like; these are a fast sample, and the seeds that once showed a bug.
 */
import { describe, expect, it } from 'vitest';
import { checkGuest, difference, fuzzGuest, MODES, modeName, REFERENCE, resultOf, runGuest, type GuestVerdict } from '../helpers/vmm-fuzz.ts';
import { ENTER_FLAT_PM, identityMap4M, runAsm } from '../helpers/run-asm.ts';
import { runUnderVmm } from '../helpers/run-vmm.ts';

function problems(v: GuestVerdict): string[] {
  return [...v.hostFailures, ...v.divergences.map((d) => `seed ${v.seed} (${v.kind}) ${modeName(d.mode)}: ${d.what}`)];
}

describe('fuzz: random guests end identically in every mode', () => {
  it.each([
    [6, 'shadow paging re-injected a #PF on an unmapped stack forever (the host hung); ept triple-faulted an instruction early'],
    [1001, 'a single-step trap armed for an instruction that made an EPT violation was taken before the retry'],
    [1011, 're-delivering a #DB trap an exit interrupted counted its instruction twice'],
    [1133, 'under shadow paging a #PF while delivering a trap reported the wrong RIP'],
    [1101, 'pv refused a write to an address with nothing behind it (#GP) where bare drops it'],
    [2109, 'a REP over 4 G iterations of unbacked memory ran whole inside one completed exit'],
    [2897, 'completing an MMIO exit that interrupted a #GP delivery also ran the handler\'s first instruction'],
    [2302, 'a HLT the VMM emulated with TF set lost its single-step trap'],
    [2661, 'a null segment\'s base, set by a real-mode load, was lost across an exit'],
    [3244, 'a task switch that set TF did not single-step the next instruction unless a run began there'],
    [1211, '--unrestricted off: a CR0 move during a run on the identity table was undone at the exit'],
    [1230, '--unrestricted off: a CR3 load kept aside under EPT was not masked as the CPU masks it'],
    [12534, 'shadow paging walked the guest\'s tables around a closed A20 gate'],
    [73303, 'a REP under single-step ran a chunk of 4096 iterations per #DB, and its chunks ended where exits split it'],
    [15335, 'a REP that overwrote its own bytes was fetched again after each chunk and exit'],
    [76512, 'an instruction whose page walk set a dirty bit in its own bytes was decoded again after the shadow fill'],
    [37291, 'an event delivery restarted after an exit on its stack read a TSS its first pushes had overwritten'],
    [89239, 'ENTER restarted after an exit copied frame pointers its first pushes had overwritten'],
    [61033, 'XADD wrote memory at an address computed from the register it had just loaded'],
    [42305, 'MOV ESP, CR3 emulated by the VMM lost ESP at the next entry, and a run ending on the exit showed EIP before it'],
    [34689, 'a fetch outside the decoded blocks walked the tables again where the TLB held the code page (a PTE changed without INVLPG took effect at a budget\'s end)'],
    [35433, '--unrestricted off: paging-off code with its stack at 0xFEFFEBBF wrote the VMM\'s own TSS'],
  ])('seed %i, where %s', (seed) => {
    expect(problems(checkGuest(seed))).toEqual([]);
  });

  it('seed 38071: shadow paging differs from bare only as a TLB may, and equals the bare machine whose TLB drops such translations', () => {
    // A REP writing the page directory without INVLPG (SDM Vol. 3, 4.10.4): the bare machine
    // and EPT keep the translations they cached, shadow paging's write protection drops them.
    const verdict = checkGuest(38071);
    expect(problems(verdict)).toEqual([]);
    expect(verdict.staleTlb).toBeGreaterThan(0);
  });

  it('a sample of 12 seeds: no host exception, no write outside RAM, no divergence', () => {
    const found: string[] = [];
    for (let seed = 5000; seed < 5012; seed++) found.push(...problems(checkGuest(seed)));
    expect(found).toEqual([]);
  }, 120_000);
});

describe('the instruction budget is exact in every mode', () => {
  it('a guest run in slices of 7 instructions ends as when run in one call, and as on bare', () => {
    // A paged guest with exits on the way (EPT violations, shadow fills, injected faults).
    const guest = fuzzGuest(1002);
    const budget = 600;
    expect(guest.kind).toBe('paged');
    const whole = runGuest(guest, { mode: 'bare', jit: false }, budget);
    expect(whole.outcome).toBe('limit');
    for (const mode of [REFERENCE, ...MODES.filter((m) => m.mode !== 'pv')]) {
      const machine = guest.build(mode);
      let outcome = '';
      for (let left = budget; left > 0; left -= 7) outcome = machine.run(Math.min(7, left)).kind;
      expect(difference(whole, resultOf(machine, outcome)), `${modeName(mode)} in slices`).toBe('');
      expect(difference(whole, runGuest(guest, mode, budget)), `${modeName(mode)} whole`).toBe('');
    }
  });
});

describe('control registers as the guest reads them', () => {
  it.each(['bare', 'ept', 'shadow', 'pv'] as const)('MOV CR0 drops reserved bits and keeps ET under %s', (mode) => {
    // Bit 19 is reserved (dropped), ET (bit 4) reads 1 whatever was written, as on a 486.
    const run = runAsm('mov esp, 0x90000\nmov cr0, esp\nmov eax, cr0\nhlt', { mode });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.cpu.reg[0] >>> 0).toBe(0x10010);
    const cr0 = run.machine.vcpu === null ? run.machine.cpu.st[56] : run.machine.vcpu.guestControlRegister(0);
    expect(cr0 >>> 0).toBe(0x10010);
  });

  it.each(['bare', 'ept', 'shadow', 'pv'] as const)('MOV CR0 with PG and without PE is #GP(0) under %s', (mode) => {
    // The IVT's #GP vector points at a HLT; CR0 stays as it was.
    const run = runAsm('mov word [13*4], gp\nmov word [13*4+2], 0\nmov eax, 0x80000000\nmov cr0, eax\nhlt\ngp: mov ebx, cr0\nhlt', { mode });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.cpu.reg[3] >>> 0).toBe(0x10);
  });
});

describe('an exception whose delivery writes a guest page table', () => {
  it.each(['bare', 'ept', 'shadow'] as const)('is delivered once, before any other instruction, under %s', (mode) => {
    // The stack is the page table itself: under shadow paging the #UD's pushes exit (a write to a
    // write-protected guest table), and completing that exit must be the delivery, nothing else.
    const source = `${ENTER_FLAT_PM}
${identityMap4M(7)}
  mov eax, 0x20000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  lidt [idt_desc]
  mov esp, 0x21800
  ud2
  hlt
ud_handler:
  inc esi
  mov edi, esp
  add dword [esp], 2
  iretd
idt_desc:
  dw 7 * 8 - 1
  dd idt
idt:
  times 6 dq 0
  dw ud_handler, 0x08, 0x8e00, 0
`;
    const run = runAsm(source, { mode });
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.cpu.reg[6]).toBe(1); // ESI: the handler ran once
    expect(run.machine.cpu.reg[7] >>> 0).toBe(0x217f4); // EDI: with EIP, CS and EFLAGS pushed, once
    expect(run.machine.cpu.reg[4] >>> 0).toBe(0x21800);
  });
});

describe('a vCPU the VMM cannot move on', () => {
  it('ends its run as a reported failure after 100,000 exits with no instruction retired, not a host hang', () => {
    // A VMM bug made on purpose: EPT violations that map nothing, so the guest's first fetch
    // exits again and again.
    const run = runUnderVmm('hlt', {
      prepare: (m) => {
        m.vcpu!.ept!.map = () => {};
      },
    });
    expect(run.outcome.kind).toBe('vmexit');
    expect(run.outcome.kind === 'vmexit' && run.outcome.detail).toMatch(/the VMM is stuck: 100000 VM exits with no instruction retired, the last exit reason 48 at 0000:7C00/);
    expect(run.machine.cpu.instructions).toBe(0);
  });
});
