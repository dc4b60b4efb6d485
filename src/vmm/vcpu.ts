/**
 * A virtual CPU: minivisor's CPU run in VMX non-root mode under a VMCS. The vCPU is the CPU's
 * SensitiveInterceptor: when the guest executes a sensitive instruction (or an exception or an
 * interrupt arrives) it decides from the VMCS controls whether that is a VM exit; `run` enters
 * the guest, and handles each exit with the handler table (exit-handlers.ts) until one has to
 * go to the machine (an I/O exit: KVM_EXIT_IO) or the guest stops.
 */
import { snapshotRules } from '../cpu/state-graph.ts';
import { GUEST_FAULT, type Cpu, type StopReason } from '../cpu/cpu.ts';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, PAGE_APIC_ACCESS, type GuestPhysicalTranslator } from '../cpu/guest-physical.ts';
import { PAGE_RAM, PAGE_ROM, type MmioHandler, type PhysicalMemory } from '../cpu/physical-memory.ts';
import {
  APIC_ACCESS_FETCH, APIC_ACCESS_GUEST_PHYSICAL, APIC_ACCESS_READ, APIC_ACCESS_WRITE, APIC_GUEST_PHYSICAL, ApicVirtualization, apicAccessPageOf, WRITE_DONE,
} from './apic-virtualization.ts';
import { EPT_EXECUTE, EPT_READ, EPT_WRITE, MISCONFIGURED, type Ept } from './ept.ts';
import { combinesIntoDoubleFault, deliverPendingEvent, type InterruptController } from '../cpu/interrupts.ts';
import { ExitReason, type SensitiveInterceptor } from '../cpu/sensitive.ts';
import { exceptionMnemonic } from '../cpu/exceptions.ts';
import { ESP, IF, S_CR0, S_CR2, S_CR3, S_CR4, S_EIP, S_INSN_EIP, TF } from '../cpu/state.ts';
import { DR6, DR6_BS } from '../cpu/debug.ts';
import { exitHandler } from './exit-handlers.ts';
import type { VmExit } from './exit-info.ts';
import { loadGuestState, storeGuestState } from './guest-state.ts';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, CPU_HLT_EXITING, CPU_INTERRUPT_WINDOW_EXITING,
  CPU_INVLPG_EXITING, CPU_MOV_DR_EXITING, CPU_RDTSC_EXITING, CPU_UNCONDITIONAL_IO_EXITING, CPU_USE_IO_BITMAPS, CPU_USE_TPR_SHADOW, CPU_USE_TSC_OFFSETTING,
  Field, INTERRUPTIBILITY_MOV_SS, INTERRUPTIBILITY_STI, INTR_INFO_DELIVER_ERROR_CODE, INTR_INFO_VALID, INTR_TYPE_EXTERNAL,
  INTR_TYPE_HARDWARE_EXCEPTION, PIN_EXTERNAL_INTERRUPT_EXITING, SECONDARY_DESCRIPTOR_TABLE_EXITING, SECONDARY_ENABLE_EPT,
  SECONDARY_APIC_REGISTER_VIRTUALIZATION, SECONDARY_UNRESTRICTED_GUEST, SECONDARY_VIRTUALIZE_APIC_ACCESSES, Vmcs,
} from './vmcs.ts';
import { checkVmEntry, VmEntryError } from './vmentry.ts';
import { RestrictedGuest } from './restricted-guest.ts';
import { ShadowPaging } from './shadow-paging.ts';
import { ShadowMmu } from './shadow.ts';
import { PvPaging, REFUSED } from './pv-paging.ts';

/** Why `Vcpu.run` returned: the CPU's own stop reasons, or an exit the machine must serve. */
export type VcpuStop = StopReason | 'userspace';

export interface VcpuHost {
  /** Bytes the guest wrote to the VMM's console (the console-write hypercall). */
  console(bytes: Uint8Array): void;
}

/**
 * The host-state area: what a VM exit loads, so that the host resumes in its own context. The
 * host here is minivisor's VMM, a flat 32-bit protected-mode program with paging (CS 0x08,
 * data 0x10, TR 0x18); where an exit "lands" is Vcpu.dispatchExit, so RIP and RSP stay 0, and
 * its page table is HostMemory's, which lives outside the frame pool (CR3 0). VM entry checks
 * these fields as VMLAUNCH does (vmentry.ts).
 */
function writeHostState(v: Vmcs): void {
  v.write(Field.HOST_CR0, 0x80010033); // PG WP NE ET MP PE
  v.write(Field.HOST_CR3, 0);
  v.write(Field.HOST_CR4, 0);
  v.write(Field.HOST_CS_SELECTOR, 0x08);
  for (const field of [Field.HOST_SS_SELECTOR, Field.HOST_DS_SELECTOR, Field.HOST_ES_SELECTOR, Field.HOST_FS_SELECTOR, Field.HOST_GS_SELECTOR]) v.write(field, 0x10);
  v.write(Field.HOST_TR_SELECTOR, 0x18);
}

/** VM exits in a row with no instruction retired after which a guest is stuck (see Vcpu.isStuck). */
const STUCK_EXITS = 100_000;

/** Intel's exit reasons go up to 65 on this family of CPUs. */
const EXIT_REASONS = 66;

export class Vcpu implements SensitiveInterceptor, GuestPhysicalTranslator {
  readonly vmcs = new Vmcs();
  /** I/O bitmaps A and B as one: a set bit makes that port exit (with CPU_USE_IO_BITMAPS). */
  readonly ioBitmap = new Uint8Array(0x10000 / 8);
  /** Exits taken, by reason. */
  readonly exitCounts = new Float64Array(EXIT_REASONS);
  /** Host time spent handling exits, in milliseconds. */
  exitHandlingMs = 0;
  /** Called with every exit, before it is handled (--trace-exits, the debugger's exit log). */
  readonly exitObservers: ((exit: VmExit) => void)[] = [];
  /** The exit being handled. */
  lastExit: VmExit = { reason: ExitReason.EXCEPTION_OR_NMI, qualification: 0, guestRip: 0, instructionLength: 0, interruptionInfo: 0, errorCode: 0, guestPhysical: 0, guestLinear: 0, idtVectoringInfo: 0, idtVectoringErrorCode: 0 };
  /**
   * True once the interrupt waiting at the PIC has made its external-interrupt exit: the VMM
   * now knows of it and injects it when the guest can take it. An interrupt that arrives while
   * the guest runs exits first, as on hardware with external-interrupt exiting.
   */
  private interruptExited = false;
  private launched = false;
  /**
   * Whether delivering the hardware exception injected at the next entry ends (retires) the
   * instruction that raised it — true for the VMM's own injections and a fault's re-delivery,
   * false for a trap after a retired instruction — and the same for the event an exit interrupted.
   */
  private injectionEndsInstruction = true;
  private vectoredEndsInstruction = true;
  /** For isStuck: the instruction count at the last exit, and the exits since it last changed. */
  private progressMark = -1;
  private exitsWithoutProgress = 0;
  /** While the machine completes an MMIO or ROM access, guest-physical misses go to its memory model instead of exiting. */
  private machineAccess = false;
  /** EPT violations handled by mapping a page (the rest went to the machine as MMIO). */
  eptMappings = 0;
  /** How guest memory is virtualized: EPT (two-dimensional walks) or shadow page tables; one of the two is set. */
  readonly ept: Ept | null;
  readonly shadow: ShadowPaging | null;
  /** Paravirtual (Xen-style direct) paging: the guest's tables hold machine frames; the VMM validates every change. */
  readonly pv: PvPaging | null;
  /** Why the last paravirtual request was refused (for --stats and people). */
  lastRefusal = '';
  /** Set by a shadow #PF exit that the next instruction must run on the guest's own tables (MMIO, ROM). */
  private emulateOnGuestTables = false;

  constructor(
    readonly cpu: Cpu,
    /** Where external interrupts come from (the machine's PIC, as KVM with a user-space PIC). */
    private readonly interrupts: InterruptController,
    private readonly host: VcpuHost,
    /** The VM's guest-physical memory: its slots say what each GPA is. */
    readonly memory: PhysicalMemory,
    paging: { ept: Ept } | { shadowCacheCapacity: number } | { shadowMmu: ShadowMmu; holder: number } | { pvRamBytes: number },
    /** Whether the CPU has "unrestricted guest" (SDM 25.6.2): without it, real mode runs in V86 mode and paging-off code on an identity table (restricted-guest.ts). */
    unrestricted = true,
  ) {
    cpu.interceptor = this;
    cpu.interruptController = interrupts;
    cpu.guestPhysical = this;
    const v = this.vmcs;
    // The controls KVM uses for a guest with an emulated PIC and emulated I/O.
    v.write(Field.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING);
    v.write(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_HLT_EXITING | CPU_UNCONDITIONAL_IO_EXITING | CPU_USE_TSC_OFFSETTING | CPU_ACTIVATE_SECONDARY_CONTROLS);
    writeHostState(v);
    storeGuestState(cpu, v);
    if ('ept' in paging) {
      this.ept = paging.ept;
      this.shadow = null;
      this.pv = null;
      v.write(Field.SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | (unrestricted ? SECONDARY_UNRESTRICTED_GUEST : 0));
      v.write(Field.EPT_POINTER, paging.ept.pointer);
    } else if ('pvRamBytes' in paging) {
      // Paravirtual paging: no EPT and no shadow; unpaged code runs pseudo-physically (as with
      // the identity shadow, "unrestricted guest" without EPT: see vmentry.ts).
      this.ept = null;
      this.shadow = null;
      v.write(Field.SECONDARY_VM_EXEC_CONTROL, SECONDARY_UNRESTRICTED_GUEST);
      this.pv = new PvPaging(cpu, memory, v, paging.pvRamBytes);
      this.pv.configure();
      memory.dmaAllowed = (hostPage) => !this.pv!.mmu.isPinned(hostPage);
    } else {
      // Shadow paging: no EPT. Unpaged guest code (real mode included) runs on the identity
      // shadow with "unrestricted guest" (see vmentry.ts for how that differs from hardware), or
      // without it as KVM ran it: in V86 mode, with paging on the identity shadow (restricted-guest.ts).
      this.ept = null;
      this.pv = null;
      v.write(Field.SECONDARY_VM_EXEC_CONTROL, unrestricted ? SECONDARY_UNRESTRICTED_GUEST : 0);
      // The VM's shadow MMU (shared by its vCPUs), or one of this vCPU's own.
      const mmu = 'shadowMmu' in paging ? paging.shadowMmu : new ShadowMmu(memory, memory.hostMemory, paging.shadowCacheCapacity, () => cpu.flushTlb());
      this.shadow = new ShadowPaging(cpu, v, mmu, 'holder' in paging ? paging.holder : 0);
      this.shadow.configure();
    }
    if (!unrestricted && this.pv !== null) throw new RangeError('a paravirtual guest runs with "unrestricted guest": --unrestricted off is for ept and shadow');
    this.restricted = unrestricted ? null : new RestrictedGuest(cpu, v, memory, this.shadow, this.ept);
  }

  /** Without "unrestricted guest": how the VMM runs real mode and paging-off code (null with it). */
  readonly restricted: RestrictedGuest | null;

  /** APICv (apic-virtualization.ts), once the machine gave the vCPU its local APIC; else null. */
  private apicv: ApicVirtualization | null = null;
  /** An APIC-write exit is due at the end of the instruction that wrote (see apicAccess). */
  private apicWriteExitDue = false;

  /**
   * The vCPU's local APIC is emulated by the VMM (KVM's in-kernel LAPIC): with EPT or shadow
   * paging, the guest's APIC page is virtualized (apic-virtualization.ts) — register reads make
   * no VM exit, most writes an APIC-write exit handled here.
   */
  attachLocalApic(apic: MmioHandler): void {
    if (this.pv !== null) return; // (a paravirtual guest's tables hold machine frames: no APIC-access page to map)
    const accessPage = apicAccessPageOf(this.memory);
    this.apicv = new ApicVirtualization(apic, accessPage);
    if (this.shadow !== null) this.shadow.mmu.apicAccessPage = accessPage;
    const v = this.vmcs;
    v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_USE_TPR_SHADOW, true);
    v.setBits(Field.SECONDARY_VM_EXEC_CONTROL, SECONDARY_VIRTUALIZE_APIC_ACCESSES | SECONDARY_APIC_REGISTER_VIRTUALIZATION, true);
    v.write(Field.APIC_ACCESS_ADDR, accessPage);
    v.write(Field.TPR_THRESHOLD, 0);
  }

  /** Whether `address` (host-physical, as the CPU's translation ends) is the APIC-access page, virtualized. */
  private isApicAccess(address: number): boolean {
    return this.apicv !== null && ((address & ~0xfff) >>> 0) === this.apicv.accessPage && this.secondary(SECONDARY_VIRTUALIZE_APIC_ACCESSES);
  }

  /** What pageEntry answers for the APIC-access page: an APIC-access exit for a page walk through it, else the page for apicAccess. */
  private apicAccessEntry(address: number, pageWalk: boolean, linear: number): number {
    if (pageWalk) this.apicAccessExit(address, APIC_ACCESS_GUEST_PHYSICAL, linear);
    return (address & ~0xfff) | PAGE_APIC_ACCESS;
  }

  apicAccess(address: number, bytes: 1 | 2 | 4, access: number, value: number, linear: number): number {
    const apicv = this.apicv!;
    const offset = address & 0xfff;
    if (access === ACCESS_READ) {
      const read = apicv.read(offset, bytes);
      if (read !== -1) return read;
      this.apicAccessExit(address, APIC_ACCESS_READ, linear);
    }
    if (access === ACCESS_WRITE) {
      const written = apicv.write(offset, bytes, value);
      if (written === WRITE_DONE) return 0;
      if (written !== false) {
        // Trap-like: the instruction completes, then the exit (RIP past it), unless another exit comes first.
        this.beginExit(ExitReason.APIC_WRITE, offset, 0, 0, 0);
        this.apicWriteExitDue = true;
        this.cpu.stop('vmexit-trap', 'VM exit, APIC write');
        return 0;
      }
      this.apicAccessExit(address, APIC_ACCESS_WRITE, linear);
    }
    return this.apicAccessExit(address, APIC_ACCESS_FETCH, linear);
  }

  /** An APIC-access exit (fault-like: the instruction has not happened). */
  private apicAccessExit(address: number, kind: number, linear: number): never {
    this.beginExit(ExitReason.APIC_ACCESS, (address & 0xfff) | (kind << 12), 0, 0, 0);
    this.lastExit.guestLinear = linear === -1 ? 0 : linear >>> 0;
    this.cpu.stop('vmexit', 'VM exit, APIC access');
    throw GUEST_FAULT;
  }

  /** The APIC-write exit's handler (KVM's handle_apic_write): the write takes effect in the local APIC. */
  completeApicWrite(exit: VmExit): void {
    // The write happened inside the instruction, before it retired: the APIC acts at that moment
    // of virtual time (a timer started then), as the bare machine's does, so runs stay equal.
    this.cpu.instructions--;
    try {
      this.apicv!.completeWrite(exit.qualification);
    } finally {
      this.cpu.instructions++;
    }
  }

  /** An APIC-access exit is completed as MMIO by the machine's model of the APIC (under shadow paging, on the guest's tables). */
  handleApicAccess(): 'userspace' {
    this.emulateOnGuestTables = this.shadow !== null;
    return 'userspace';
  }

  /**
   * The machine set the CPU's registers from outside the guest (an INIT or STARTUP IPI, as KVM
   * does for KVM_MP_STATE and KVM_SET_REGS): the guest state is the CPU's as it is now, and
   * nothing waits to be injected.
   */
  resetGuestState(): void {
    storeGuestState(this.cpu, this.vmcs);
    this.vmcs.write(Field.VM_ENTRY_INTR_INFO_FIELD, 0);
    this.interruptExited = false;
    this.shadow?.configure();
  }

  // ---------------------------------------------------------------- the exit decisions

  private control(bits: number): boolean {
    return this.vmcs.has(Field.CPU_BASED_VM_EXEC_CONTROL, bits);
  }
  private secondary(bits: number): boolean {
    return this.control(CPU_ACTIVATE_SECONDARY_CONTROLS) && this.vmcs.has(Field.SECONDARY_VM_EXEC_CONTROL, bits);
  }

  /** Whether a sensitive instruction exits, by the controls (SDM Vol. 3, 26.1). */
  private exits(reason: ExitReason, qualification: number): boolean {
    switch (reason) {
      case ExitReason.CPUID:
      case ExitReason.VMCALL:
      case ExitReason.INVD:
      case ExitReason.RDMSR:
      case ExitReason.WRMSR:
      case ExitReason.WBINVD:
        return true; // always (no MSR bitmaps here)
      case ExitReason.HLT:
        return this.control(CPU_HLT_EXITING);
      case ExitReason.INTERRUPT_WINDOW:
        return this.control(CPU_INTERRUPT_WINDOW_EXITING);
      case ExitReason.INVLPG:
        return this.control(CPU_INVLPG_EXITING);
      case ExitReason.RDTSC:
        return this.control(CPU_RDTSC_EXITING);
      case ExitReason.DR_ACCESS:
        return this.control(CPU_MOV_DR_EXITING);
      case ExitReason.GDTR_IDTR_ACCESS:
      case ExitReason.LDTR_TR_ACCESS:
        return this.secondary(SECONDARY_DESCRIPTOR_TABLE_EXITING);
      case ExitReason.IO_INSTRUCTION: {
        if (this.control(CPU_USE_IO_BITMAPS)) {
          const port = qualification >>> 16;
          const bytes = (qualification & 7) + 1;
          for (let p = port; p < port + bytes; p++) if (this.ioBitmap[(p & 0xffff) >> 3] & (1 << (p & 7))) return true;
          return false;
        }
        return this.control(CPU_UNCONDITIONAL_IO_EXITING);
      }
      case ExitReason.CR_ACCESS:
        return this.crAccessExits(qualification);
      default:
        return false;
    }
  }

  /** CR3 moves exit by their controls; CR0/CR4 writes when they would change a host-owned bit from its shadow. */
  private crAccessExits(qualification: number): boolean {
    const cr = qualification & 15;
    const accessType = (qualification >> 4) & 3;
    if (cr === 3) return this.control(accessType === 0 ? CPU_CR3_LOAD_EXITING : CPU_CR3_STORE_EXITING);
    if (accessType === 1) return false; // MOV from CR0/CR4: served from the shadows without an exit
    const mask = this.vmcs.read(cr === 4 ? Field.CR4_GUEST_HOST_MASK : Field.CR0_GUEST_HOST_MASK);
    const shadow = this.vmcs.read(cr === 4 ? Field.CR4_READ_SHADOW : Field.CR0_READ_SHADOW);
    if (accessType === 2) return (mask & 8) !== 0 && (shadow & 8) !== 0; // CLTS: TS owned and set in the shadow
    if (accessType === 3) {
      // LMSW (SDM 26.1.3): MP, EM or TS owned and different from the shadow, or PE owned, set by the source and clear in the shadow (LMSW cannot clear PE).
      const source = qualification >>> 16;
      return ((source ^ shadow) & mask & 0xe) !== 0 || ((mask & 1) !== 0 && (source & 1) !== 0 && (shadow & 1) === 0);
    }
    const value = this.cpu.reg[(qualification >> 8) & 15];
    return ((value ^ shadow) & mask) !== 0;
  }

  // ---------------------------------------------------------------- SensitiveInterceptor

  intercept(cpu: Cpu, reason: ExitReason, qualification: number): boolean {
    if (!this.exits(reason, qualification)) return false;
    const st = cpu.st;
    this.beginExit(reason, qualification, (st[S_EIP] - st[S_INSN_EIP]) | 0, 0, 0);
    if (reason === ExitReason.INVLPG) this.lastExit.guestLinear = qualification;
    return true;
  }

  interceptException(cpu: Cpu, vector: number, errorCode: number): boolean {
    if (!(this.vmcs.read(Field.EXCEPTION_BITMAP) & (1 << vector))) return false;
    const info = vector | INTR_TYPE_HARDWARE_EXCEPTION | INTR_INFO_VALID | (errorCode >= 0 ? INTR_INFO_DELIVER_ERROR_CODE : 0);
    // #PF's qualification is the faulting linear address; CR2 is not written on this exit.
    this.beginExit(ExitReason.EXCEPTION_OR_NMI, vector === 14 ? cpu.st[S_CR2] : 0, 0, info, errorCode);
    if (vector === 14) cpu.st[S_CR2] = cpu.cr2BeforeFault;
    cpu.st[S_EIP] = cpu.st[S_INSN_EIP];
    return true;
  }

  eventDeliveryInterrupted(vector: number, external: boolean, errorCode: number, endsInstruction: boolean | null): void {
    this.vectoredEndsInstruction = endsInstruction ?? this.injectionEndsInstruction;
    const e = this.lastExit;
    e.idtVectoringInfo = (vector | (external ? INTR_TYPE_EXTERNAL : INTR_TYPE_HARDWARE_EXCEPTION) | INTR_INFO_VALID | (errorCode >= 0 ? INTR_INFO_DELIVER_ERROR_CODE : 0)) >>> 0;
    e.idtVectoringErrorCode = errorCode >= 0 ? errorCode : 0;
  }

  interceptExternalInterrupt(_cpu: Cpu): boolean {
    // Once the VMM knows of the interrupt (waiting for a window, or injecting it), no more exits for it.
    if (this.interruptExited || !this.vmcs.has(Field.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING)) return false;
    this.interruptExited = true;
    this.beginExit(ExitReason.EXTERNAL_INTERRUPT, 0, 0, 0, 0);
    return true;
  }

  wantsInterruptWindow(): boolean {
    return this.control(CPU_INTERRUPT_WINDOW_EXITING);
  }

  a20Changed(): void {
    this.shadow?.a20Changed();
  }

  hostOwnedControlBits(cr: 0 | 4): number {
    return this.vmcs.read(cr === 4 ? Field.CR4_GUEST_HOST_MASK : Field.CR0_GUEST_HOST_MASK);
  }

  shadowControlRegister(_cpu: Cpu, cr: number, value: number): number {
    const mask = this.vmcs.read(cr === 4 ? Field.CR4_GUEST_HOST_MASK : Field.CR0_GUEST_HOST_MASK);
    const shadow = this.vmcs.read(cr === 4 ? Field.CR4_READ_SHADOW : Field.CR0_READ_SHADOW);
    return (value & ~mask) | (shadow & mask);
  }

  // ---------------------------------------------------------------- EPT (GuestPhysicalTranslator)

  pageEntry(gpa: number, access: number, linear: number, pageWalk: boolean): number {
    if (this.pv !== null) {
      const entry = this.pv.pageEntry(gpa, access, this.memory);
      // A write to a pinned page table with the guest's paging off: refused, as #GP(0) in the guest.
      if (entry === REFUSED) this.cpu.fault(13, 0);
      return entry;
    }
    if (this.machineAccess && !this.cpu.hostPaging) {
      // Completing an exit on guest-physical addresses (under EPT, or on the guest's own tables
      // under shadow paging): what the EPT or the shadow lacks goes to the machine's memory model,
      // and so does the APIC page (its EPT entry leads to the APIC-access page, which is no memory).
      // (While the CPU walks a shadow, its addresses are host-physical: the shadow answers below.)
      if (this.ept === null || this.ept.lookup(gpa) === null || (this.apicv !== null && ((gpa & ~0xfff) >>> 0) === APIC_GUEST_PHYSICAL)) return this.memory.backedEntry(gpa);
    }
    if (this.shadow !== null) {
      if (this.shadow.guestPagingOn && this.isApicAccess(gpa)) return this.apicAccessEntry(gpa, pageWalk, linear);
      const entry = this.shadow.pageEntry(gpa, access);
      if (entry !== -1) return entry;
      // An identity-shadow miss (the guest's paging is off): a #PF exit, as on the shadow proper.
      const errorCode = this.shadow.identityMissErrorCode(access);
      this.beginExit(ExitReason.EXCEPTION_OR_NMI, gpa >>> 0, 0, 14 | INTR_TYPE_HARDWARE_EXCEPTION | INTR_INFO_VALID | INTR_INFO_DELIVER_ERROR_CODE, errorCode);
      this.lastExit.guestLinear = linear === -1 ? gpa >>> 0 : linear >>> 0;
      this.cpu.stop('vmexit', 'VM exit, identity-shadow miss');
      throw GUEST_FAULT;
    }
    const ept = this.ept!;
    const found = ept.find(gpa);
    if (found === MISCONFIGURED) {
      // The VMM's own tables are malformed: an EPT misconfiguration (no qualification; the GPA).
      this.beginExit(ExitReason.EPT_MISCONFIG, 0, 0, 0, 0);
      this.lastExit.guestPhysical = gpa >>> 0;
      this.cpu.stop('vmexit', 'VM exit, EPT misconfiguration');
      throw GUEST_FAULT;
    }
    const leaf = found;
    const needed = access === ACCESS_WRITE ? EPT_WRITE : access === ACCESS_FETCH ? EPT_EXECUTE : EPT_READ;
    if (leaf !== null && (leaf.permissions & needed) !== 0) {
      if (leaf.hpa === this.apicv?.accessPage && this.isApicAccess(leaf.hpa)) return this.apicAccessEntry(leaf.hpa | (gpa & 0xfff), pageWalk, linear);
      return leaf.hpa | (leaf.permissions & EPT_WRITE ? PAGE_RAM : PAGE_ROM);
    }
    if (this.machineAccess) return this.memory.backedEntry(gpa);
    // An EPT violation (SDM Vol. 3, Table 28-7): what the access was, what the entry allowed, and
    // whether it was the guest's page walk (bit 8 clear) or the final address (bit 8 set).
    const qualification = (access === ACCESS_WRITE ? 2 : access === ACCESS_FETCH ? 4 : 1) |
      ((leaf?.permissions ?? 0) << 3) | (linear !== -1 ? 1 << 7 : 0) | (linear !== -1 && !pageWalk ? 1 << 8 : 0);
    this.beginExit(ExitReason.EPT_VIOLATION, qualification, 0, 0, 0);
    this.lastExit.guestPhysical = gpa >>> 0;
    this.lastExit.guestLinear = linear === -1 ? 0 : linear >>> 0;
    this.cpu.stop('vmexit', 'VM exit, EPT violation');
    throw GUEST_FAULT;
  }

  /**
   * KVM's handle_ept_violation → __direct_map: a GPA in a memory slot gets its host page mapped
   * (read-only slots without write permission) and the guest retries; a GPA with no slot is
   * MMIO, and a write to a read-only slot is the machine's to drop: both go to userspace.
   */
  handleEptViolation(exit: VmExit): 'resume' | 'userspace' {
    const gpa = exit.guestPhysical;
    const slot = this.memory.slotAt(gpa);
    const write = (exit.qualification & 2) !== 0;
    if (this.apicv !== null && ((gpa & ~0xfff) >>> 0) === APIC_GUEST_PHYSICAL) {
      // The guest's APIC page leads to the APIC-access page (as KVM maps it through a private memslot).
      this.ept!.map(APIC_GUEST_PHYSICAL, this.apicv.accessPage, EPT_READ | EPT_WRITE | EPT_EXECUTE);
      return 'resume';
    }
    if (slot === undefined || (slot.readOnly && write)) return 'userspace';
    // GPA → HVA through the slot, HVA → HPA through the host's page table (a frame on first touch).
    const hva = slot.userspaceAddr + (gpa - slot.guestPhysAddr);
    const hpa = this.memory.hostMemory.touch(hva);
    this.ept!.map(gpa, hpa, slot.readOnly ? EPT_READ | EPT_EXECUTE : EPT_READ | EPT_WRITE | EPT_EXECUTE);
    this.eptMappings++;
    return 'resume';
  }

  /**
   * A #PF exit under shadow paging: fill the shadow, inject the guest's own fault, or run the
   * instruction on the guest's tables — in the VMM for a write to a guest page table (then the
   * shadows built from what changed are dropped), in the machine for MMIO and ROM.
   */
  handleShadowPageFault(exit: VmExit): 'resume' | 'userspace' | 'shutdown' {
    const shadow = this.shadow!;
    const outcome = shadow.pageFault(exit.qualification, exit.errorCode);
    if (outcome.action === 'resume') return 'resume';
    if (outcome.action === 'inject') return this.injectException(14, outcome.errorCode);
    if (outcome.tablePage === -1) {
      this.emulateOnGuestTables = true;
      return 'userspace';
    }
    const before = shadow.mmu.snapshot(outcome.tablePage);
    this.cpu.passIntercepts = true;
    this.machineAccess = true;
    let reason: VcpuStop;
    try {
      reason = this.runOneInstruction(shadow.guestPagingOn);
    } finally {
      this.machineAccess = false;
      this.cpu.passIntercepts = false;
    }
    shadow.mmu.syncTablePage(outcome.tablePage, before);
    if (reason === 'shutdown') return 'shutdown';
    // Another exit in the middle of the emulated instruction (an event delivery): handle it now.
    if (reason === 'vmexit') return this.dispatchExit();
    return 'resume';
  }

  /**
   * Completes an exit by running the instruction once (with intercepts passed and accesses going
   * to the machine's memory model, which the caller has set up): no new interrupt is injected
   * first — the instruction finishes before the guest takes one, as when KVM completes an exit —
   * and when the exit interrupted an event's delivery, completing it is delivering that event
   * (no instruction runs after it). `onGuestTables`: under shadow
   * paging, on the guest's own tables.
   */
  private runOneInstruction(onGuestTables: boolean): VcpuStop {
    const v = this.vmcs;
    // (Without "unrestricted guest" the state may be real mode: completing an exit is the VMM's emulation, not an entry.)
    if (this.restricted === null) checkVmEntry(v, this.ept === null);
    else this.restricted.completingExit();
    loadGuestState(this.cpu, v);
    // An exit during an event's delivery is completed by delivering it: no instruction runs after.
    const delivering = (v.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID) !== 0;
    const reason = onGuestTables ? this.shadow!.runOnGuestTables(() => this.completeOne(delivering)) : this.completeOne(delivering);
    storeGuestState(this.cpu, v);
    return reason;
  }

  /** The event being delivered, else the instruction: once. */
  private completeOne(delivering: boolean): VcpuStop {
    return this.deliverInjectedEvent() ?? (delivering ? 'budget' : this.cpu.run(1));
  }

  /**
   * Injects a hardware exception at the next entry (`errorCode` -1: none). When the exit
   * interrupted the delivery of another exception (IDT-vectoring information), the two combine as
   * they would on the bare machine (KVM's kvm_multiple_exception): into #DF where Table 6-5 says
   * so, a triple fault ('shutdown') during #DF; otherwise the new exception is delivered.
   */
  injectException(vector: number, errorCode: number): 'resume' | 'shutdown' {
    const vectoring = this.lastExit.idtVectoringInfo;
    // An exception raised while delivering a trap does not end another instruction.
    this.injectionEndsInstruction = !(vectoring & INTR_INFO_VALID) || this.vectoredEndsInstruction;
    if (vectoring & INTR_INFO_VALID && (vectoring & (7 << 8)) === INTR_TYPE_HARDWARE_EXCEPTION) {
      const first = vectoring & 0xff;
      if (first === 8) {
        if (this.injectionEndsInstruction) this.cpu.instructions++; // the instruction that began the chain ends here, as on the bare machine
        this.cpu.clearStop(); // the exit's own stop: the run ends as a shutdown, with the bare machine's words
        this.cpu.stop('shutdown', `triple fault: ${exceptionMnemonic(vector)} while delivering a double fault`);
        return 'shutdown';
      }
      if (combinesIntoDoubleFault(first, vector)) {
        vector = 8;
        errorCode = 0;
      }
    }
    const v = this.vmcs;
    v.write(Field.VM_ENTRY_INTR_INFO_FIELD, vector | INTR_TYPE_HARDWARE_EXCEPTION | INTR_INFO_VALID | (errorCode >= 0 ? INTR_INFO_DELIVER_ERROR_CODE : 0));
    v.write(Field.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode >= 0 ? errorCode : 0);
    return 'resume';
  }

  /** INVEPT: after slots change, drop every guest translation the CPU cached. */
  invalidateEpt(): void {
    this.cpu.flushTlb();
  }

  /**
   * Completes a userspace exit the way the machine serves it: the instruction runs once, with
   * its port I/O reaching the machine's devices and its MMIO and ROM accesses the machine's
   * memory model, then the guest goes on. Returns the CPU's stop reason for that instruction.
   */
  completeInMachine(): VcpuStop {
    this.cpu.passIntercepts = true;
    this.machineAccess = true;
    try {
      const onGuestTables = this.emulateOnGuestTables && this.shadow !== null && this.shadow.guestPagingOn;
      this.emulateOnGuestTables = false;
      const reason = this.runOneInstruction(onGuestTables);
      if (reason !== 'vmexit') return reason;
      const action = this.dispatchExit();
      return action === 'resume' ? 'budget' : action;
    } finally {
      this.machineAccess = false;
      this.cpu.passIntercepts = false;
    }
  }

  private beginExit(reason: ExitReason, qualification: number, length: number, interruptionInfo: number, errorCode: number): void {
    if (this.apicWriteExitDue) {
      // An exit before the end of the instruction: APIC-write emulation does not happen (SDM 29.4.3.2).
      this.apicWriteExitDue = false;
      if (this.cpu.stopReason === 'vmexit-trap') this.cpu.clearStop();
    }
    const e = this.lastExit;
    e.reason = reason;
    e.qualification = qualification >>> 0;
    e.instructionLength = length;
    e.interruptionInfo = interruptionInfo >>> 0;
    e.errorCode = errorCode;
    e.guestPhysical = 0;
    e.guestLinear = 0;
    e.idtVectoringInfo = 0;
    e.idtVectoringErrorCode = 0;
  }

  // ---------------------------------------------------------------- running

  /**
   * VM entry: check the guest state, load it, inject a pending event. Throws VmEntryError
   * (as VMLAUNCH/VMRESUME fail) when the VMCS holds a state the guest cannot be in. Returns
   * 'vmexit' when delivering the injected event made a VM exit (an EPT violation on the guest's
   * stack or IDT: that exit is to be handled before the guest runs), 'shutdown' when it
   * triple-faulted, else null.
   */
  private enter(): 'vmexit' | 'shutdown' | null {
    const v = this.vmcs;
    this.shadow?.beforeEntry();
    this.injectPendingInterrupt();
    const restricted = this.restricted;
    if (restricted !== null) return this.enterRestricted(restricted);
    checkVmEntry(v, this.ept === null);
    loadGuestState(this.cpu, v);
    this.launched = true;
    return this.deliverInjectedEvent();
  }

  /**
   * VM entry without "unrestricted guest": the run's state is V86 mode or paging on the identity
   * table (RestrictedGuest.wrap), or the VMM emulates one instruction when the CPU could not
   * enter the guest's state. An event injected into real-mode code is delivered by the VMM,
   * through the guest's IVT (in V86 mode the CPU would take the IDT), before the V86 run.
   */
  private enterRestricted(restricted: RestrictedGuest): 'vmexit' | 'shutdown' | null {
    const v = this.vmcs;
    const cpu = this.cpu;
    let plan = restricted.plan();
    if (plan === 'v86' && v.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID) {
      loadGuestState(cpu, v);
      const delivered = this.deliverInjectedEvent();
      storeGuestState(cpu, v);
      if (delivered !== null) {
        restricted.wrap('emulate');
        return delivered;
      }
      plan = restricted.plan();
    }
    restricted.wrap(plan);
    if (plan !== 'emulate') {
      try {
        checkVmEntry(v, false);
      } catch (e) {
        if (!(e instanceof VmEntryError)) throw e;
        // A state the CPU cannot enter (a real-mode SS just after the switch to protected mode): emulated until it can.
        restricted.unwrap();
        restricted.wrap('emulate');
      }
    }
    loadGuestState(cpu, v);
    this.launched = true;
    return this.deliverInjectedEvent();
  }

  /** At an exit: the guest state goes to the VMCS, and a restricted run's own state makes way for the guest's. */
  private storeAtExit(): void {
    const cpu = this.cpu;
    storeGuestState(cpu, this.vmcs);
    const restricted = this.restricted;
    if (restricted !== null && (restricted.lastRun === 'v86' || restricted.lastRun === 'paging-off')) {
      restricted.unwrap();
      loadGuestState(cpu, this.vmcs);
    }
  }

  /** Delivers the event in the VM-entry interruption-information field, if any: 'vmexit' or 'shutdown' when it did not reach the guest. */
  private deliverInjectedEvent(): 'vmexit' | 'shutdown' | null {
    const v = this.vmcs;
    const info = v.read(Field.VM_ENTRY_INTR_INFO_FIELD);
    if (info & INTR_INFO_VALID) {
      // Deliver the injected event before the guest's first instruction, as VM entry does.
      v.write(Field.VM_ENTRY_INTR_INFO_FIELD, info & ~INTR_INFO_VALID);
      const cpu = this.cpu;
      const isExternal = (info & (7 << 8)) === INTR_TYPE_EXTERNAL;
      cpu.pendingVector = info & 0xff;
      cpu.pendingErrorCode = isExternal ? -2 : info & INTR_INFO_DELIVER_ERROR_CODE ? v.read(Field.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1;
      cpu.st[S_INSN_EIP] = cpu.st[S_EIP];
      cpu.clearStop();
      deliverPendingEvent(cpu, true);
      // (An exit during the delivery took the flag with the IDT-vectoring information.)
      const endsInstruction = this.injectionEndsInstruction;
      this.injectionEndsInstruction = true;
      if (cpu.stopReason === 'vmexit') return 'vmexit';
      // An exception injected is the end of the instruction that raised it: it retires now, as
      // on the bare machine (where a faulting instruction counts once, with its delivery, even
      // when that ends in a triple fault).
      if ((info & (7 << 8)) === INTR_TYPE_HARDWARE_EXCEPTION && endsInstruction) cpu.instructions++;
      if (cpu.stopReason === 'shutdown') return 'shutdown';
    }
    return null;
  }

  /**
   * KVM's inject_pending_event: an interrupt waiting at the PIC is injected at this entry when
   * the guest can take it (IF set, no STI/MOV SS blocking); otherwise the VMM asks for an exit
   * when it can (interrupt-window exiting).
   */
  private injectPendingInterrupt(): void {
    const v = this.vmcs;
    if (v.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID) return;
    if (!this.interrupts.hasInterrupt()) {
      this.interruptExited = false;
      v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_INTERRUPT_WINDOW_EXITING, false);
      return;
    }
    // Not yet seen by the VMM: the guest runs, and the interrupt makes its exit at the first boundary.
    if (!this.interruptExited && v.has(Field.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING)) return;
    const interruptible = (v.read(Field.GUEST_RFLAGS) & IF) !== 0 && (v.read(Field.GUEST_INTERRUPTIBILITY_INFO) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) === 0;
    if (interruptible) {
      v.write(Field.VM_ENTRY_INTR_INFO_FIELD, this.interrupts.acknowledge() | INTR_TYPE_EXTERNAL | INTR_INFO_VALID);
      this.injectionEndsInstruction = false; // an exception while delivering it ends no instruction
      this.interruptExited = false;
      v.write(Field.GUEST_ACTIVITY_STATE, 0); // an interrupt wakes a halted vCPU
      v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_INTERRUPT_WINDOW_EXITING, false);
    } else {
      v.setBits(Field.CPU_BASED_VM_EXEC_CONTROL, CPU_INTERRUPT_WINDOW_EXITING, true);
      this.cpu.raiseInterruptLine(); // so the CPU looks for the window at instruction boundaries
    }
  }

  /**
   * Runs the guest for up to `budget` instructions, handling exits, until one must go to the
   * machine ('userspace': complete it with runInstructionNatively and call run again) or the
   * guest stops ('halt', 'shutdown', ...).
   */
  run(budget: number): VcpuStop {
    const cpu = this.cpu;
    const end = cpu.instructions + budget;
    for (;;) {
      // A stop the guest's run made, to return once the APIC-write exit due with it is handled.
      let stopAfterExit: VcpuStop | null = null;
      const entry = this.enter();
      if (entry === 'shutdown') {
        this.storeAtExit();
        return 'shutdown'; // the injected event triple-faulted
      }
      if (entry !== 'vmexit') {
        // The VMM emulates one instruction at a time (without "unrestricted guest", a state the CPU cannot enter).
        const emulating = this.restricted?.lastRun === 'emulate';
        this.restricted?.countRun();
        const reason = cpu.run(emulating ? Math.min(1, end - cpu.instructions) : end - cpu.instructions);
        this.storeAtExit();
        const apicWrite = this.apicWriteExitDue;
        this.apicWriteExitDue = false;
        if (apicWrite) {
          // The APIC-write exit of the run's last instruction, whose stop another may have taken (the budget, a device).
          if (reason !== 'budget' && reason !== 'vmexit-trap') stopAfterExit = reason;
        } else {
          if (reason === 'budget' && emulating && cpu.instructions < end) continue;
          if (reason !== 'vmexit' && reason !== 'vmexit-trap') return reason;
        }
      } else {
        this.storeAtExit();
      }
      cpu.clearStop(); // (the exit's own stop: a stop asked for from here on is the handler's)
      const action = this.dispatchExit();
      if (action !== 'resume') return action;
      if (cpu.stopReason === 'device' || stopAfterExit !== null) {
        // The handler moved a device that wants the machine to look (a timer reprogrammed by an
        // APIC write), or the run had stopped for another reason as well.
        loadGuestState(cpu, this.vmcs);
        return cpu.stopReason === 'device' ? 'device' : stopAfterExit!;
      }
      const stuck = this.isStuck();
      if (stuck || cpu.instructions >= end) {
        // The guest as the exit's handler left it (RIP past an emulated instruction, ESP), for
        // whoever looks before the next entry: a debugger's step, the end of a run.
        loadGuestState(cpu, this.vmcs);
        return stuck ? 'vmexit' : 'budget';
      }
    }
  }

  /**
   * A guest the VMM cannot move on (the same exit again and again with no instruction retired: a
   * bug in the VMM, never in the guest) ends its run as a reported failure instead of hanging
   * the host. One instruction can take a few thousand exits at most (a REP string instruction
   * over a few MiB, one EPT violation or shadow fill per page).
   */
  private isStuck(): boolean {
    const cpu = this.cpu;
    if (cpu.instructions !== this.progressMark) {
      this.progressMark = cpu.instructions;
      this.exitsWithoutProgress = 0;
      return false;
    }
    if (++this.exitsWithoutProgress < STUCK_EXITS) return false;
    const e = this.lastExit;
    cpu.clearStop(); // (the last exit's own stop)
    cpu.stop('vmexit', `the VMM is stuck: ${STUCK_EXITS} VM exits with no instruction retired, the last exit reason ${e.reason} at ${cpu.location()} (a bug in minivisor's VMM: please report it)`);
    this.exitsWithoutProgress = 0;
    return true;
  }

  /** Handles the exit that just happened with the handler table; says what the vCPU does next. */
  private dispatchExit(): 'resume' | 'userspace' | 'shutdown' {
    const cpu = this.cpu;
    const started = performance.now();
    const exit = this.lastExit;
    exit.guestRip = cpu.st[S_EIP] >>> 0;
    this.writeExitInformation(exit);
    this.exitCounts[exit.reason]++;
    for (const observe of this.exitObservers) observe(exit);
    const handler = exitHandler(exit.reason);
    // An event whose delivery the exit interrupted is delivered again at the next entry (as KVM's
    // vmx_complete_interrupts re-queues it) — queued before the handler runs, so that a handler
    // that completes the exit by running the guest delivers it first, and one that injects an
    // exception replaces it (injectException combines the two as the bare machine would).
    if (exit.idtVectoringInfo & INTR_INFO_VALID && !(this.vmcs.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID)) {
      this.injectionEndsInstruction = this.vectoredEndsInstruction;
      this.vmcs.write(Field.VM_ENTRY_INTR_INFO_FIELD, exit.idtVectoringInfo);
      this.vmcs.write(Field.VM_ENTRY_EXCEPTION_ERROR_CODE, exit.idtVectoringErrorCode);
    }
    const action = handler ? handler(this, exit) : 'shutdown';
    this.exitHandlingMs += performance.now() - started;
    if (action === 'shutdown' && cpu.stopReason !== 'shutdown') {
      cpu.clearStop(); // (the exit's own stop)
      cpu.stop('shutdown', handler ? 'the guest triple-faulted' : `no handler for VM exit reason ${exit.reason}`);
    }
    return action;
  }

  /** The exit-information fields of the VMCS, for handlers and tools that read them there. */
  private writeExitInformation(exit: VmExit): void {
    const v = this.vmcs;
    v.write(Field.VM_EXIT_REASON, exit.reason);
    v.write(Field.EXIT_QUALIFICATION, exit.qualification);
    v.write(Field.VM_EXIT_INSTRUCTION_LEN, exit.instructionLength);
    v.write(Field.VM_EXIT_INTR_INFO, exit.interruptionInfo);
    v.write(Field.VM_EXIT_INTR_ERROR_CODE, exit.errorCode >>> 0);
    v.write(Field.GUEST_LINEAR_ADDRESS, exit.guestLinear >>> 0);
    v.write(Field.GUEST_PHYSICAL_ADDRESS, exit.guestPhysical >>> 0);
    v.write(Field.IDT_VECTORING_INFO_FIELD, exit.idtVectoringInfo);
    v.write(Field.IDT_VECTORING_ERROR_CODE, exit.idtVectoringErrorCode >>> 0);
  }

  // ---------------------------------------------------------------- for handlers

  /** The VMM has carried out the instruction that exited: RIP moves past it, and it counts as retired. */
  skipInstruction(exit: VmExit): void {
    const v = this.vmcs;
    v.write(Field.GUEST_RIP, (exit.guestRip + exit.instructionLength) >>> 0);
    this.cpu.instructions++;
    // The instruction an STI or MOV SS shielded is done: the shield goes with it (KVM's skip_emulated_instruction).
    v.write(Field.GUEST_INTERRUPTIBILITY_INFO, 0);
    // An instruction that began with TF set traps when it completes, emulated or not (KVM's
    // kvm_skip_emulated_instruction): #DB with DR6.BS, delivered at the next entry (which also
    // wakes a HLT, as the trap does on the bare machine).
    if (v.read(Field.GUEST_RFLAGS) & TF && !(v.read(Field.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID)) {
      this.cpu.st[DR6] |= DR6_BS;
      v.write(Field.VM_ENTRY_INTR_INFO_FIELD, 1 | INTR_TYPE_HARDWARE_EXCEPTION | INTR_INFO_VALID);
      this.injectionEndsInstruction = false; // the instruction has retired
    }
  }

  /**
   * Writes a general register for the guest, as an exit handler emulating an instruction does.
   * Between an exit and the next entry ESP lives in the VMCS (GUEST_RSP), as RIP does, and the
   * others in the CPU's registers.
   */
  writeGuestRegister(index: number, value: number): void {
    this.cpu.reg[index] = value;
    if (index === ESP) this.vmcs.write(Field.GUEST_RSP, value >>> 0);
  }

  /** Completes an exit by letting the instruction run once without exiting (the machine serving an I/O exit). */
  runInstructionNatively(): void {
    this.cpu.runNextNatively = true;
  }

  /** Writes guest memory at a linear address through the guest's translation (supervisor rights); false when a page is not mapped writable. */
  writeGuestLinear(address: number, bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) if (!this.cpu.pokeLinear8((address + i) | 0, bytes[i])) return false;
    return true;
  }

  /** Guest memory at a linear address, through the guest's translation, or null when it is not mapped. */
  readGuestLinear(address: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const byte = this.cpu.peekLinear8((address + i) | 0);
      if (byte < 0) return null;
      out[i] = byte;
    }
    return out;
  }

  /** CR0, CR3 or CR4 as the guest reads it (host-owned bits from the read shadows; under shadow paging, its own CR3). */
  guestControlRegister(cr: 0 | 3 | 4): number {
    const st = this.cpu.st;
    if (cr === 3) {
      if (this.shadow !== null) return this.shadow.guestCr3 >>> 0;
      // A paravirtual guest's CR3 is the machine address of the directory it loaded by hypercall.
      if (this.pv !== null) return Math.max(this.pv.mmu.baseMachineAddress, 0) >>> 0;
      return st[S_CR3] >>> 0;
    }
    const real = cr === 0 ? st[S_CR0] : st[S_CR4];
    return this.shadowControlRegister(this.cpu, cr, real) >>> 0;
  }

  console(bytes: Uint8Array): void {
    this.host.console(bytes);
  }

  get hasLaunched(): boolean {
    return this.launched;
  }
}


// Observers are the debugger's and the CLI's (--trace-exits), not the VM's; host time spent in handlers is a measurement of the host.
snapshotRules(Vcpu, { transient: ['exitObservers', 'exitHandlingMs'] });
