/**
 * How interrupts get from devices to the CPU on a PC with APICs. Each ISA IRQ line goes both to
 * the 8259 pair and to an IOAPIC pin (IRQ 0 on pin 2, the others on their own number, as the MP
 * table says); the operating system decides which path it uses by masking the other. The CPU
 * takes its interrupts from its local APIC first, and from the 8259 when LINT0 lets it through
 * as ExtINT (virtual-wire mode, how a PC boots) or when the APIC is disabled in IA32_APIC_BASE.
 */
import type { InterruptController } from '../cpu/interrupts.ts';
import type { IrqLine } from './clock.ts';
import type { PicPair } from './devices/pic8259.ts';
import type { IoApic } from './devices/io-apic.ts';
import type { LocalApic } from './devices/local-apic.ts';

/** The IOAPIC pin of ISA IRQ `irq`: the timer's IRQ 0 is on pin 2 (pin 0 is the 8259's INTR). */
export function ioApicPinOfIrq(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** The interrupt controller one CPU sees: its local APIC, with the 8259 behind LINT0. */
export class CpuInterruptPins implements InterruptController {
  constructor(
    private readonly apic: LocalApic,
    private readonly pic: PicPair,
    /** IA32_APIC_BASE's global enable bit: off, the APIC is out of the way and the 8259 drives INTR. */
    private readonly apicEnabled: () => boolean,
  ) {}

  /** Whether the 8259's requests reach this CPU. */
  picReachesCpu(): boolean {
    return !this.apicEnabled() || this.apic.passesPic;
  }

  hasInterrupt(): boolean {
    if (this.apicEnabled() && this.apic.pendingVector() >= 0) return true;
    return this.picReachesCpu() && this.pic.hasInterrupt();
  }

  acknowledge(): number {
    if (this.apicEnabled() && this.apic.pendingVector() >= 0) return this.apic.acknowledge();
    return this.pic.acknowledge();
  }
}

/** The ISA IRQ lines, each wired to the 8259 pair and to the IOAPIC. */
export class IsaInterrupts {
  constructor(
    private readonly pic: PicPair,
    private readonly ioApic: IoApic,
    private readonly cpu: CpuInterruptPins,
  ) {}

  /** The line a device on ISA IRQ `irq` holds (make it once, when wiring the machine). */
  line(irq: number): IrqLine {
    const pin = ioApicPinOfIrq(irq);
    return (level) => {
      this.pic.setIrq(irq, level);
      this.ioApic.setInput(pin, level);
    };
  }

  /** Whether a request on `irq` can reach the CPU by either path (can it wake a halted CPU?). */
  canInterrupt(irq: number): boolean {
    return (this.cpu.picReachesCpu() && !this.pic.isMasked(irq)) || this.ioApic.isUnmasked(ioApicPinOfIrq(irq));
  }
}
