/**
 * What the grader watches while the student's guest runs: every event the CPU delivers (INT n,
 * exceptions, IRQs) with where it came from and the registers a check asks about. It is a
 * DebugHook that never stops the guest, so the run is the run the student would see.
 */
import type { Cpu } from '../cpu/cpu.ts';
import { HOOK_RUN, type DebugHook } from '../cpu/debug-hook.ts';
import type { EventKind } from '../cpu/interrupts.ts';
import { CS, S_CPL, S_CR2, S_INSN_EIP, S_SEG_BASE, S_SEG_SEL } from '../cpu/state.ts';

export interface RecordedEvent {
  vector: number;
  kind: 'exception' | 'software' | 'external';
  errorCode: number;
  cs: number;
  eip: number;
  /** Where the instruction that raised it is, CS's base + EIP (the BIOS's own INTs are at F0000-FFFFF). */
  linear: number;
  cpl: number;
  eax: number;
  cr2: number;
  /** Instructions retired when it came. */
  retired: number;
  /** CR3 as the guest reads it (under the VMM, not the shadow's or the VMM's own). */
  cr3: number;
}

/** Events kept: enough for any check, bounded for a guest that loops on a fault. */
const MAX_EVENTS = 100_000;

export class EventRecorder implements DebugHook {
  readonly events: RecordedEvent[] = [];

  /** @param guestCr3 CR3 as the guest reads it */
  constructor(private readonly guestCr3: () => number) {}

  /** Events past MAX_EVENTS, counted only. */
  dropped = 0;

  atBoundary(): number {
    return HOOK_RUN;
  }

  onEvent(cpu: Cpu, vector: number, kind: EventKind, errorCode: number): void {
    if (this.events.length >= MAX_EVENTS) {
      this.dropped++;
      return;
    }
    const st = cpu.st;
    // Under the VMM a delivery that made a VM exit (its stack page not yet mapped in the EPT or
    // the shadow tables) is made again after it: one event, told twice. A fault that really
    // happens again has the handler's instructions between the two.
    const last = this.events.at(-1);
    if (last !== undefined && last.vector === vector && last.retired === cpu.retired && last.eip === st[S_INSN_EIP] >>> 0) this.events.pop();
    this.events.push({
      vector,
      kind: (['exception', 'software', 'external'] as const)[kind],
      errorCode,
      cs: st[S_SEG_SEL + CS] & 0xffff,
      eip: st[S_INSN_EIP] >>> 0,
      linear: (st[S_SEG_BASE + CS] + st[S_INSN_EIP]) >>> 0,
      cpl: st[S_CPL],
      eax: cpu.reg[0] >>> 0,
      cr2: st[S_CR2] >>> 0,
      retired: cpu.retired, // exact (Cpu.instructions is brought up to date only between chunks)
      cr3: this.guestCr3() >>> 0,
    });
  }

  watchesPage(): boolean {
    return false;
  }

  onAccess(): void {}

  onTripleFault(): boolean {
    return false; // let it shut down: the grader reports the chain
  }
}
