/**
 * The APIC bus (on later CPUs, messages on the system bus): how the IOAPIC's interrupts and the
 * local APICs' IPIs find their destinations, and how a local APIC's EOI of a level-triggered
 * vector gets back to the IOAPIC. Destinations are physical (an APIC ID; FFh is everyone) or
 * logical (the LDR/DFR match of each local APIC). Lowest-priority delivery picks the matching
 * APIC with the lowest task priority, the lowest ID on a tie, so runs repeat exactly.
 */
import type { IoApic, InterruptMessageSink } from './io-apic.ts';
import { DELIVERY_FIXED, DELIVERY_INIT, DELIVERY_LOWEST, DELIVERY_STARTUP, type ApicBusPort, type LocalApic } from './local-apic.ts';

const DESTINATION_LOGICAL = 1 << 11, LEVEL_ASSERT = 1 << 14, TRIGGER_LEVEL = 1 << 15;
const SHORTHAND_SELF = 1, SHORTHAND_ALL = 2, SHORTHAND_OTHERS = 3;

/** What INIT and STARTUP IPIs do to the processor behind a local APIC (the machine's vCPUs). */
export interface ProcessorControl {
  init(apic: LocalApic): void;
  startup(apic: LocalApic, vector: number): void;
}

export class ApicBus implements ApicBusPort, InterruptMessageSink {
  readonly ioApics: IoApic[] = [];
  /** INIT and STARTUP go here; without it (one vCPU) they reach nobody. */
  processors: ProcessorControl | null = null;
  /** Interrupt messages with a delivery mode this machine does not carry (NMI, SMI, ExtINT through the IOAPIC), for reports. */
  dropped = 0;

  constructor(readonly localApics: LocalApic[]) {
    for (const apic of localApics) apic.bus = this;
  }

  /** The local APICs that `destination` names. */
  private targets(destination: number, logical: boolean): LocalApic[] {
    if (logical) return this.localApics.filter((a) => a.matchesLogical(destination));
    if (destination === 0xff) return this.localApics;
    return this.localApics.filter((a) => a.id === destination);
  }

  deliver(entryLow: number, destination: number): void {
    this.send(this.targets(destination, (entryLow & DESTINATION_LOGICAL) !== 0), entryLow);
  }

  sendIpi(source: LocalApic, icrLow: number, destination: number): void {
    const shorthand = (icrLow >> 18) & 3;
    const targets =
      shorthand === SHORTHAND_SELF ? [source]
        : shorthand === SHORTHAND_ALL ? this.localApics
          : shorthand === SHORTHAND_OTHERS ? this.localApics.filter((a) => a !== source)
            : this.targets(destination, (icrLow & DESTINATION_LOGICAL) !== 0);
    this.send(targets, icrLow);
  }

  endOfInterrupt(vector: number): void {
    for (const ioApic of this.ioApics) ioApic.endOfInterrupt(vector);
  }

  private send(targets: LocalApic[], message: number): void {
    const vector = message & 0xff;
    const level = (message & TRIGGER_LEVEL) !== 0;
    switch ((message >> 8) & 7) {
      case DELIVERY_FIXED:
        for (const apic of targets) apic.accept(vector, level);
        return;
      case DELIVERY_LOWEST: {
        const chosen = lowestPriority(targets);
        chosen?.accept(vector, level);
        return;
      }
      case DELIVERY_INIT:
        // A level de-assert (INIT with level 0, trigger level) only synchronises arbitration IDs.
        if (level && !(message & LEVEL_ASSERT)) return;
        for (const apic of targets) this.processors?.init(apic);
        return;
      case DELIVERY_STARTUP:
        for (const apic of targets) this.processors?.startup(apic, vector);
        return;
      default:
        this.dropped++;
    }
  }
}

function lowestPriority(targets: LocalApic[]): LocalApic | undefined {
  let best: LocalApic | undefined;
  for (const apic of targets) {
    if (best === undefined || apic.taskPriority < best.taskPriority || (apic.taskPriority === best.taskPriority && apic.id < best.id)) best = apic;
  }
  return best;
}
