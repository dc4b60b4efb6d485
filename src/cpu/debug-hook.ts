/**
 * What a debugger attached to the CPU sees (src/debugger implements it). The CPU only reports;
 * every decision to stop is taken in one place, `atBoundary`, which the run loop calls before
 * each block it runs (before each instruction, when the hook asks for single instructions).
 * With no debugger attached `Cpu.debugHook` is null and the run loop checks that once per block
 * (DESIGN §2, §9); the other calls are on paths that are slow anyway (event delivery, TLB
 * fills, the TLB's slow path).
 */
import type { DecodedBlock } from './block-cache.ts';
import type { Cpu } from './cpu.ts';
import type { EventKind } from './interrupts.ts';

/** `atBoundary`'s verdicts: run on as usual, run the next instruction alone (and ask again), or stop here. */
export const HOOK_RUN = 0, HOOK_SINGLE = 1, HOOK_STOP = 2;

export interface DebugHook {
  /**
   * At an instruction boundary, before the instruction at CS:EIP, with `Cpu.retired` exact.
   * `block` is the decoded block about to run from here (its first instruction is the next
   * one), or null when the next instruction runs alone anyway. Returns HOOK_RUN, HOOK_SINGLE
   * or HOOK_STOP.
   */
  atBoundary(cpu: Cpu, block: DecodedBlock | null): number;
  /** An event is being delivered through the IVT or IDT (each attempt, so a #DF after a #GP is a second call). */
  onEvent(cpu: Cpu, vector: number, kind: EventKind, errorCode: number): void;
  /** Whether a linear page must stay off the TLB's fast path: the hook watches accesses to it. */
  watchesPage(cpu: Cpu, linear: number): boolean;
  /**
   * An access on the TLB's slow path, once its translation succeeded and before it happens (a
   * page-crossing access is told byte by byte). To stop after the instruction, set ATTN_DEBUGGER.
   */
  onAccess(cpu: Cpu, linear: number, bytes: number, write: boolean): void;
  /**
   * Delivering an event ended in a triple fault (the chain is in `Cpu.faultChain`). True: the
   * CPU undoes the delivery and stops where the chain began (at the instruction that raised the
   * first exception), so the user sees the cause rather than the shutdown.
   */
  onTripleFault(cpu: Cpu): boolean;
}
