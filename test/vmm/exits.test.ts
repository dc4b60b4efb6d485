/** One test per exit reason: the reason, and the qualification's fields as Intel lays them out. */
import { describe, expect, it } from 'vitest';
import { ExitReason } from '../../src/cpu/sensitive.ts';
import {
  CPU_CR3_LOAD_EXITING, CPU_INVLPG_EXITING, CPU_RDTSC_EXITING, CPU_UNCONDITIONAL_IO_EXITING, CPU_USE_IO_BITMAPS, Field, PIN_EXTERNAL_INTERRUPT_EXITING,
} from '../../src/vmm/vmcs.ts';
import { ofReason, runUnderVmm } from '../helpers/run-vmm.ts';
import { Machine } from '../../src/machine/machine.ts';
import { EPT_WRITE } from '../../src/vmm/ept.ts';
import type { VmExit } from '../../src/vmm/exit-info.ts';
import { assembleOrThrow, ENTER_FLAT_PM, startTimer } from '../helpers/run-asm.ts';
import { RING3_ENV } from '../helpers/rings-env.ts';

describe('a run that ends on an exit the VMM emulated', () => {
  it.each(['ept', 'shadow'] as const)('shows the guest past the instruction, as the bare machine does, under %s', (mode) => {
    const bytes = assembleOrThrow('org 0x1000\nbits 16\nmov esp, 0x1234\ncpuid\nmov esp, cr3\nnop\nhlt');
    const machines = (['bare', mode] as const).map((m) => new Machine({ memoryBytes: 1 << 20, mode: m, entry: { segment: 0, offset: 0x1000 } }));
    for (const m of machines) m.phys.load(0x1000, bytes);
    for (const budget of [2, 1]) {
      for (const m of machines) m.run(budget); // ends on CPUID, then on MOV ESP, CR3 (an exit under shadow)
      const [bare, vmm] = machines;
      expect(vmm.cpu.instructions).toBe(bare.cpu.instructions);
      expect(vmm.cpu.st[8]).toBe(bare.cpu.st[8]); // EIP
      expect(vmm.cpu.reg[4]).toBe(bare.cpu.reg[4]); // ESP
    }
    machines[1].run(2);
    expect(machines[1].cpu.reg[4]).toBe(0); // CR3 stayed in ESP after the next entry
  });
});

describe('VM exits', () => {
  it('CPUID (10): always exits; the guest sees the hypervisor bit and the signature leaf 0x40000000', () => {
    const run = runUnderVmm(`
      mov eax, 1
      cpuid
      mov [0x500], ecx
      mov eax, 0x40000000
      cpuid
      mov [0x504], ebx
      mov [0x508], ecx
      mov [0x50c], edx
      cli
      hlt`);
    expect(ofReason(run, ExitReason.CPUID)).toHaveLength(2);
    expect(ofReason(run, ExitReason.CPUID)[0].instructionLength).toBe(2);
    const p = run.machine.phys;
    expect(p.read(0x500, 4) >>> 31).toBe(1);
    expect(String.fromCharCode(...p.dump(0x504, 12))).toBe('MinivisorVMM');
  });

  it('HLT (12): exits with HLT exiting; the vCPU halts', () => {
    const run = runUnderVmm('cli\nhlt');
    expect(ofReason(run, ExitReason.HLT)).toHaveLength(1);
    expect(run.outcome.kind).toBe('halted');
  });

  it('INVLPG (14): with INVLPG exiting, the qualification is the linear address', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      invlpg [0x12345]
      cli
      hlt`, { prepare: (m) => m.vcpu!.vmcs.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_INVLPG_EXITING, true) });
    const exits = ofReason(run, ExitReason.INVLPG);
    expect(exits).toHaveLength(1);
    expect(exits[0].qualification).toBe(0x12345);
  });

  it('RDTSC (16): with RDTSC exiting; the VMM adds the TSC offset', () => {
    const run = runUnderVmm(`rdtsc
      mov [0x500], eax
      mov [0x504], edx
      cli
      hlt`, {
      prepare: (m) => {
        m.vcpu!.vmcs.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_RDTSC_EXITING, true);
        m.vcpu!.vmcs.write(Field.TSC_OFFSET, 0x100000000);
      },
    });
    expect(ofReason(run, ExitReason.RDTSC)).toHaveLength(1);
    expect(run.machine.phys.read(0x504, 4)).toBe(1); // the offset's high dword
  });

  it('VMCALL (18): the version hypercall, a console write, an unknown call', () => {
    const run = runUnderVmm(`
      xor eax, eax
      vmcall
      mov [0x500], eax
      mov eax, 1
      mov ebx, message
      mov ecx, 5
      vmcall
      mov [0x504], eax
      mov eax, 77
      vmcall
      mov [0x508], eax
      cli
      hlt
    message: db 'hello'`);
    const p = run.machine.phys;
    expect(ofReason(run, ExitReason.VMCALL)).toHaveLength(3);
    expect(p.read(0x500, 4)).toBe(1);
    expect(p.read(0x504, 4)).toBe(5);
    expect(run.output).toBe('hello');
    expect(p.read(0x508, 4) | 0).toBe(-38);
  });

  it('VMCALL (18) from ring 3 is refused: -1 (EPERM), and nothing is done', () => {
    const run = runUnderVmm(`${RING3_ENV}
      jmp enter_user
    syscall:
    gate_target:
      cli
      hlt
    user:
      mov eax, 1                   ; console write of 5 bytes
      mov ebx, message
      mov ecx, 5
      vmcall
      mov [0x800], eax
      int 0x80
    message: db 'hello'`);
    expect(ofReason(run, ExitReason.VMCALL)).toHaveLength(1);
    expect(run.machine.phys.read(0x800, 4) | 0).toBe(-1);
    expect(run.output).toBe('');
  });

  it('CR access (28): a CR3 load exits with the CR number, access type 0 and the register', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov ebx, 0x20000
      mov cr3, ebx
      cli
      hlt`, { prepare: (m) => m.vcpu!.vmcs.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_CR3_LOAD_EXITING, true) });
    const exits = ofReason(run, ExitReason.CR_ACCESS);
    expect(exits).toHaveLength(1);
    expect(exits[0].qualification).toBe(3 | (0 << 4) | (3 << 8)); // CR3, MOV to CR, EBX
    expect(run.machine.cpu.st[58]).toBe(0x20000); // the load happened (CR3)
  });

  it('CR access (28): a write to a host-owned CR0 bit exits; reads of it see the read shadow', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov eax, cr0
      or eax, 1 << 3               ; TS: owned by the host here
      mov cr0, eax
      mov eax, cr0
      mov [0x500], eax
      cli
      hlt`, {
      prepare: (m) => {
        m.vcpu!.vmcs.write(Field.CR0_GUEST_HOST_MASK, 1 << 3);
        m.vcpu!.vmcs.write(Field.CR0_READ_SHADOW, 0);
      },
    });
    const exits = ofReason(run, ExitReason.CR_ACCESS);
    expect(exits).toHaveLength(1);
    expect(exits[0].qualification & 0xff).toBe(0); // CR0, MOV to CR
    expect(run.machine.phys.read(0x500, 4) & 8).toBe(8); // the guest reads what it wrote (the shadow)
    expect(run.machine.cpu.st[56] & 8).toBe(0); // the real CR0.TS stays the host's
  });

  it('I/O (30): size, direction, string, REP, operand encoding and port in the qualification', () => {
    const run = runUnderVmm(`
      mov al, 'x'
      out 0xe9, al                 ; 1 byte, OUT, immediate
      mov dx, 0x61
      in ax, dx                    ; 2 bytes, IN, DX
      mov di, 0x600
      mov cx, 3
      mov dx, 0x510
      rep insb                     ; string, REP
      cli
      hlt`);
    const io = ofReason(run, ExitReason.IO_INSTRUCTION).map((e) => e.qualification);
    expect(io[0]).toBe(0 | (1 << 6) | (0xe9 << 16));
    expect(io[1]).toBe(1 | (1 << 3) | (0x61 << 16));
    expect(io[2]).toBe(0 | (1 << 3) | (1 << 4) | (1 << 5) | (0x510 << 16));
    expect(run.output).toBe('x');
  });

  it('I/O (30) with I/O bitmaps: only ports whose bit is set exit, and a word access exits if either of its ports does', () => {
    const run = runUnderVmm(`
      mov al, 'a'
      out 0xe9, al                 ; bit set: exits (and the machine serves it)
      out 0x80, al                 ; bit clear: runs without an exit (POST code port, nothing there)
      mov dx, 0x7f
      out dx, ax                   ; ports 0x7F and 0x80: neither set, no exit
      mov dx, 0xe8
      mov ah, 'b'
      out dx, ax                   ; ports 0xE8 and 0xE9: 0xE9 is set, exits; AH reaches the console at 0xE9
      cli
      hlt`, {
      prepare: (m) => {
        const vcpu = m.vcpu!;
        vcpu.vmcs.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_UNCONDITIONAL_IO_EXITING, false);
        vcpu.vmcs.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_USE_IO_BITMAPS, true);
        vcpu.ioBitmap[0xe9 >> 3] |= 1 << (0xe9 & 7);
      },
    });
    const ports = ofReason(run, ExitReason.IO_INSTRUCTION).map((e) => e.qualification >>> 16);
    expect(ports).toEqual([0xe9, 0xe8]);
    expect(run.output).toBe('ab');
  });

  it('RDMSR (31) and WRMSR (32)', () => {
    const run = runUnderVmm(`${ENTER_FLAT_PM}
      mov ecx, 0x10
      rdmsr
      mov ecx, 0x174
      xor edx, edx
      mov eax, 0x1234
      wrmsr
      cli
      hlt`);
    expect(ofReason(run, ExitReason.RDMSR)).toHaveLength(1);
    expect(ofReason(run, ExitReason.WRMSR)).toHaveLength(1);
    expect(run.machine.cpu.msrs.get(0x174)).toBe(0x1234n);
  });

  it('EPT violation (48): read, write and fetch bits, the GPA and the guest linear address', () => {
    const run = runUnderVmm(`
      mov ax, [0x3000]           ; a read of a page not yet mapped
      mov byte [0x5002], 1       ; a write
      cli
      hlt`);
    const ept = ofReason(run, ExitReason.EPT_VIOLATION);
    const read = ept.find((e) => e.guestPhysical === 0x3000)!;
    const write = ept.find((e) => e.guestPhysical === 0x5002)!;
    expect(read.qualification & 7).toBe(1); // data read
    expect(write.qualification & 7).toBe(2); // data write
    expect(read.qualification & 0x180).toBe(0x180); // linear address valid, the access's own address
    expect(read.guestLinear).toBe(0x3000);
    expect(ept[0].qualification & 7).toBe(1); // the very first: fetching the code page (read)
    // Mapped to the frame the page's HVA got on that first touch (RAM's slot starts at HVA 0).
    expect(run.machine.vcpu!.ept!.lookup(0x5000)).toEqual({ hpa: run.machine.phys.hostMemory.frameOf(0x5000), permissions: 7 });
  });

  it('EPT misconfiguration (49): a write-only leaf exits with the GPA; the VMM repairs it and the guest goes on', () => {
    const bytes = assembleOrThrow(`org 0x7c00
      mov byte [0x5000], 7           ; maps the page (an EPT violation)
    wait:
      cmp byte [0x502], 0            ; until the test has corrupted the leaf
      je wait
      mov al, [0x5000]
      mov [0x501], al
      cli
      hlt`);
    const m = new Machine({ memoryBytes: 4 << 20, mode: 'ept', loads: [{ address: 0x7c00, bytes }], entry: { segment: 0, offset: 0x7c00 } });
    const exits: VmExit[] = [];
    const vcpu = m.vcpu!;
    vcpu.exitObservers.push((exit) => exits.push({ ...exit }));
    m.run(10_000);
    const leaf = vcpu.ept!.lookup(0x5000)!;
    vcpu.ept!.map(0x5000, leaf.hpa, EPT_WRITE); // W without R: malformed
    vcpu.invalidateEpt();
    m.phys.write8(0x502, 1);
    expect(m.run(10_000).kind).toBe('halted');
    const misconfig = exits.filter((e) => e.reason === ExitReason.EPT_MISCONFIG);
    expect(misconfig).toHaveLength(1);
    expect(misconfig[0].guestPhysical).toBe(0x5000);
    expect(m.phys.read8(0x501)).toBe(7);
    expect(vcpu.ept!.lookup(0x5000)?.permissions).toBe(7); // mapped afresh
  });

  it('exception (0): an exception in the bitmap exits with its vector, type and error code, then is reflected', () => {
    const run = runUnderVmm(`
      xor ax, ax
      mov ds, ax
      mov word [6*4], ud_handler
      mov word [6*4+2], 0
      ud2
    ud_handler:
      mov byte [0x500], 1
      cli
      hlt`, { prepare: (m) => m.vcpu!.vmcs.write(Field.EXCEPTION_BITMAP, 1 << 6) });
    const exits = ofReason(run, ExitReason.EXCEPTION_OR_NMI);
    expect(exits).toHaveLength(1);
    expect(exits[0].interruptionInfo & 0xff).toBe(6);
    expect((exits[0].interruptionInfo >> 8) & 7).toBe(3); // hardware exception
    expect(run.machine.phys.read8(0x500)).toBe(1); // reflected: the guest's handler ran
  });

  it('external interrupt (1) and interrupt window (7): an IRQ while IF is clear waits for STI, then is injected', () => {
    const run = runUnderVmm(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [0x08*4], irq0          ; IRQ 0 at vector 8 (the PIC's power-on base is 0: program it)
      mov word [0x08*4+2], 0
      ${startTimer(0x08, 100)}         ; only IRQ 0; divisor 100: an IRQ within the wait loop
      mov cx, 20000
    wait: loop wait                    ; IF clear: the IRQ waits
      sti
      inc byte [0x501]                 ; the one instruction after STI runs first, and once
    spin: jmp spin
    irq0:
      mov byte [0x500], 1
      cli
      hlt`, { maxInstructions: 2_000_000 });
    const external = ofReason(run, ExitReason.EXTERNAL_INTERRUPT);
    const window = ofReason(run, ExitReason.INTERRUPT_WINDOW);
    expect(external.length).toBeGreaterThanOrEqual(1);
    expect(window).toHaveLength(1);
    expect(run.machine.phys.read8(0x501)).toBe(1);
    expect(run.machine.phys.read8(0x500)).toBe(1); // injected and delivered
    expect(run.machine.vcpu!.vmcs.has(Field.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING)).toBe(true);
  });
});
