/**
 * One processor of the machine: a CPU with its local APIC, the interrupt pins between them and
 * the 8259, and (under the VMM) its vCPU. Application processors start in wait-for-SIPI, as on a
 * PC: they run only after an INIT and a STARTUP IPI (MP spec B.4), at the real-mode page the
 * STARTUP's vector names. The machine's run loop gives each processor its slice in turn.
 */
import { Cpu, type StopReason } from '../cpu/cpu.ts';
import type { IoBus } from '../cpu/io-bus.ts';
import type { PhysicalMemory } from '../cpu/physical-memory.ts';
import { ATTR_REAL_MODE_CODE, CS, S_EIP } from '../cpu/state.ts';
import type { Vcpu } from '../vmm/vcpu.ts';
import type { PicPair } from './devices/pic8259.ts';
import { LAPIC_BASE, LocalApic } from './devices/local-apic.ts';
import { CpuInterruptPins } from './interrupt-routing.ts';

/** IA32_APIC_BASE: where the local APIC is, whether it is on, whether this is the bootstrap processor. */
export const IA32_APIC_BASE = 0x1b;
const APIC_BASE_ENABLE = 1 << 11, APIC_BASE_BSP = 1 << 8;

/** Why a processor's slice ended: the CPU's reasons, or the vCPU's exit to the machine. */
export type SliceEnd = StopReason | 'userspace';

export class Processor {
  readonly cpu: Cpu;
  readonly apic: LocalApic;
  readonly pins: CpuInterruptPins;
  /** Its vCPU under the VMM (set by the machine); null on the bare machine. */
  vcpu: Vcpu | null = null;
  /** An application processor after power-on or INIT: it runs nothing until a STARTUP IPI. */
  waitingForStartup: boolean;
  /** STARTUP IPIs taken (the MP spec sends two; the second finds the processor running and is ignored). */
  startups = 0;
  /** An INIT it sent itself, taken when its instruction ends (Machine.initProcessor). */
  initPending = false;

  constructor(
    readonly index: number,
    phys: PhysicalMemory,
    io: IoBus,
    pic: PicPair,
    now: () => number,
    /** Called when a device or timer may want the CPU to look again (the machine stops the running CPU). */
    stopForDevice: () => void,
  ) {
    const bootstrap = index === 0;
    this.cpu = new Cpu(phys, io);
    this.cpu.apicId = index;
    this.apic = new LocalApic(index, now, () => this.cpu.raiseInterruptLine(), bootstrap, stopForDevice);
    this.pins = new CpuInterruptPins(this.apic, pic, () => this.apicEnabled);
    this.cpu.interruptController = this.pins;
    this.setApicBase();
    this.waitingForStartup = !bootstrap;
  }

  get bootstrap(): boolean {
    return this.index === 0;
  }

  /** IA32_APIC_BASE's global enable: off, the APIC is out of the way and LINT0 is the CPU's INTR pin. */
  private get apicEnabled(): boolean {
    return ((this.cpu.msrs.get(IA32_APIC_BASE) ?? 0n) & BigInt(APIC_BASE_ENABLE)) !== 0n;
  }

  private setApicBase(): void {
    this.cpu.msrs.set(IA32_APIC_BASE, BigInt(LAPIC_BASE | APIC_BASE_ENABLE | (this.bootstrap ? APIC_BASE_BSP : 0)));
  }

  /**
   * INIT: the CPU and its APIC to their power-on state. An application processor then waits for
   * a STARTUP; the bootstrap processor starts again at the reset vector.
   */
  init(): void {
    this.cpu.reset();
    this.setApicBase();
    this.apic.reset();
    this.waitingForStartup = !this.bootstrap;
    this.vcpu?.resetGuestState();
    this.cpu.raiseInterruptLine(); // (it may be halted in a slice planned before: let it look again)
  }

  /** STARTUP with `vector`: a processor waiting for one starts in real mode at vector × 1000h (CS = vector × 100h, IP = 0). */
  startup(vector: number): void {
    if (!this.waitingForStartup) return;
    this.startups++;
    this.cpu.setRealModeSegment(CS, vector << 8, ATTR_REAL_MODE_CODE);
    this.cpu.st[S_EIP] = 0;
    this.cpu.halted = false;
    this.waitingForStartup = false;
    this.vcpu?.resetGuestState();
  }

  /** Runs up to `budget` instructions on the CPU, or under the VMM through the vCPU. */
  run(budget: number): SliceEnd {
    return this.vcpu === null ? this.cpu.run(budget) : this.vcpu.run(budget);
  }
}
