/**
 * Instructions and events that change many registers at once (interrupt delivery, far
 * transfers, IRET) must be precise: when they fault, or make a VM exit, part-way (on the new
 * stack, loading the new CS, past the new limit), the exception is delivered with the state as
 * it was before they began. Rather than order every check before every change, they run
 * `atomically`: the CPU's state is copied first and put back on a fault. One copy of a few
 * hundred bytes per far transfer or event: not the hot path.
 */
import { GUEST_FAULT, type Cpu } from './cpu.ts';

export function atomically(cpu: Cpu, body: () => void): void {
  cpu.saveStateForRollback();
  try {
    body();
  } catch (e) {
    if (e === GUEST_FAULT) cpu.rollBackState();
    throw e;
  }
}
