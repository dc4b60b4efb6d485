/**
 * The run loop: executes instructions until the budget is spent or something stops the CPU.
 * Decoded blocks run without decoding (compiled to JavaScript once hot, src/jit); the loop
 * follows chains from block to block, and between blocks and chunks it services what set
 * `Cpu.attention` (interrupts, traps, stops).
 *
 * This is also the one place where a debugger decides (DESIGN §2): before each block the loop
 * asks `Cpu.debugHook`, when one is attached, whether to run it, run its first instruction
 * alone, or stop. With none attached that is one null check per block.
 */
import { ATTN_CODE_WRITTEN, ATTN_DEBUG, ATTN_DEBUGGER, ATTN_HALT, ATTN_INTERRUPT, ATTN_RECHECK_TF, ATTN_SHADOW, ATTN_STOP, ATTN_TABLE_WRITTEN, ATTN_TRAP, GUEST_FAULT, type Cpu, type StopReason } from './cpu.ts';
import { chainedBlock, decodedBlocksRun, type CompiledBlock, type DecodedBlock } from './block-cache.ts';
import { HOOK_SINGLE, HOOK_STOP } from './debug-hook.ts';
import { DR6, DR6_BS } from './debug.ts';
import { step } from './decoder.ts';
import type { Insn } from './insn.ts';
import { interpretBlocks, lastInterpreted } from './interpreter.ts';
import { deliverPendingEvent } from './interrupts.ts';
import { ExitReason } from './sensitive.ts';
import { CS, IF, RF, S_CODE32, S_EFLAGS, S_EIP, S_INSN_EIP, S_SEG_BASE, S_SEG_HIGH, TF } from './state.ts';

/**
 * Runs until `budget` instructions have retired or something stops the CPU.
 * Returns why it stopped; `stopReason` keeps that until the next run.
 */
export function runCpu(cpu: Cpu, budget: number): StopReason {
  cpu.stopReason = null;
  cpu.stopDetail = '';
  cpu.attention &= ~ATTN_STOP;
  if (cpu.interruptController !== null) cpu.attention |= ATTN_INTERRUPT;
  let left = budget;
  while (left > 0) {
    if (cpu.attention !== 0 && serviceAttention(cpu)) break;
    if (cpu.halted) {
      if (canWake(cpu)) cpu.stop('idle');
      else cpu.stop('halt', (cpu.st[S_EFLAGS] & IF) === 0 ? 'HLT with interrupts disabled' : 'HLT with no interrupt source');
      break;
    }
    const chunk = left < 65536 ? left : 65536;
    const done = runChunk(cpu, chunk);
    // The instruction an STI or MOV SS shields made a VM exit before it retired: it is still
    // shielded when it runs again (the exit reports the blocking, as the VMCS interruptibility state).
    if (cpu.shadowedBoundary && done === 0 && cpu.stopReason === 'vmexit') cpu.attention |= ATTN_SHADOW;
    cpu.shadowedBoundary = false;
    left -= done;
    cpu.instructions += done;
    cpu.retiredInChunk = 0;
  }
  // An instruction that made a VM exit did not complete: the single-step trap armed for it is
  // armed again when it runs again (else the VMM's retry would take the trap before it).
  if (cpu.stopReason === 'vmexit') cpu.attention &= ~ATTN_TRAP;
  return cpu.stopReason ?? 'budget';
}

/**
 * Executes up to `count` instructions; returns how many retired (a faulting one counts).
 * Decoded blocks run without decoding; where there is none (MMIO, the last bytes of a
 * page, a budget smaller than the block) one instruction is decoded and run at a time.
 */
function runChunk(cpu: Cpu, count: number): number {
  const st = cpu.st;
  let n = 0;
  let previous: DecodedBlock | null = null;
  // The block being executed and its first EIP, for the catch below (which finds the faulting
  // instruction's index where a compiled block or interpretBlocks leaves it: cpu.compiledFaultIndex).
  let running: readonly Insn[] | null = null;
  let base = 0;
  for (;;) {
    try {
      while (n < count) {
        let block = blockAtEip(cpu, previous);
        const hook = cpu.debugHook;
        // The debugger's one decision point (not while the machine completes an exit for the VMM).
        if (hook !== null && !cpu.passIntercepts) {
          st[S_INSN_EIP] = st[S_EIP];
          cpu.retiredInChunk = n;
          const verdict = hook.atBoundary(cpu, block);
          if (verdict === HOOK_STOP) {
            // Stopped on the instruction an STI or MOV SS shields: it stays shielded when resumed.
            if (n === 0 && cpu.shadowedBoundary) cpu.attention |= ATTN_SHADOW;
            // A single-step trap armed for this instruction (TF) is armed again when it runs, not delivered before it.
            cpu.attention &= ~ATTN_TRAP;
            cpu.stop('debug');
            return n;
          }
          if (verdict === HOOK_SINGLE) block = null;
        }
        // A block, compiled or interpreted, may leave dead flags unset between its instructions
        // (flagsLiveAfter), so it starts only with nothing pending: with single-step's trap armed,
        // say, its first instruction runs alone here.
        if (block === null || block.insns.length > count - n || cpu.attention !== 0) {
          st[S_INSN_EIP] = st[S_EIP];
          cpu.retiredInChunk = n;
          if (cpu.codeWatch) {
            // (Not when it resumes an instruction stopped part-way: it began at the breakpoint already.)
            if (!cpu.resumesHere()) cpu.checkInstructionBreakpoint();
            const resumeFlag = st[S_EFLAGS] & RF;
            step(cpu);
            if (resumeFlag) st[S_EFLAGS] &= ~RF; // RF covers one instruction
          } else {
            step(cpu);
          }
          previous = null;
          const retired = cpu.retiredNow();
          // An instruction that made a VM exit did not retire (the VMM emulates or reruns it).
          if (cpu.attention !== 0) return cpu.stopReason === 'vmexit' ? n : n + retired;
          n += retired;
          continue;
        }
        // Only the last instruction reads EIP (D_ENDS_BLOCK): the others run without it.
        running = block.insns;
        base = st[S_EIP];
        let compiled = block.compiled;
        if (compiled === null && cpu.compiler !== null && ++block.runs >= cpu.compileThreshold) {
          compiled = compile(cpu, block, (st[S_SEG_BASE + CS] + base) | 0);
        }
        if (compiled !== null) {
          // The same steps as interpretBlocks, in the block's own function (src/jit/translation-cache.ts).
          cpu.compiledEarlyStop = false;
          const ran = compiled(cpu, st, count - n, n);
          running = null;
          if (cpu.compiledEarlyStop) return n + ran;
          const retired = cpu.retiredNow();
          if (cpu.attention !== 0) return cpu.stopReason === 'vmexit' ? n + ran : n + ran + retired;
          n += ran + retired;
          previous = block;
          continue;
        }
        // In a function of its own, which follows the chain while it can (src/cpu/interpreter.ts;
        // a fault there sets every compiledFault* field the catch below reads).
        n = interpretBlocks(cpu, st, block, count, n);
        running = null;
        if (cpu.attention !== 0) return n;
        previous = lastInterpreted;
      }
      return n;
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      // The instruction that faulted, decoded (null when its decoding faulted): kept to resume as
      // it is if the fault became a VM exit, which the guest must not see (see Cpu.resumeInsn).
      let faulting = cpu.decodedInsn;
      cpu.decodedInsn = null;
      if (running !== null) {
        // A fault inside a block: the state is that of instruction i, which did not complete.
        // (In a region, of the block it says: src/jit/region.ts.)
        if (cpu.compiledFaultInsns !== null) {
          running = cpu.compiledFaultInsns;
          base = cpu.compiledFaultBase;
          cpu.compiledFaultInsns = null;
        }
        const i = cpu.compiledFaultIndex;
        n += cpu.compiledFaultRetired;
        st[S_INSN_EIP] = (base + running[i].offset) | 0;
        faulting = running[i];
        n += i;
        running = null;
      }
      previous = null;
      cpu.incompleteInstruction = false;
      if (cpu.attention & ATTN_STOP) {
        // A VM exit in the middle of an instruction (an EPT violation) leaves EIP on it, unretired.
        if (cpu.stopReason === 'vmexit') {
          st[S_EIP] = st[S_INSN_EIP];
          if (faulting !== null) cpu.holdInsn(faulting);
          return n;
        }
        return n + 1;
      }
      n++;
      st[S_EIP] = st[S_INSN_EIP];
      // A single-step trap follows only an instruction that completes (SDM Vol. 3, 17.3.1.4);
      // the fault handler is entered with TF clear.
      cpu.attention &= ~ATTN_TRAP;
      deliverPendingEvent(cpu, false, true);
      // A fault that became a VM exit has not retired: the VMM retries the instruction, or counts
      // it when it injects the exception into the guest (so virtual time matches the bare machine).
      // Nor has one whose triple fault the debugger undid, to stop before it.
      if (cpu.stopReason === 'vmexit' && faulting !== null) cpu.holdInsn(faulting);
      if (cpu.stopReason === 'vmexit' || cpu.stopReason === 'debug') return n - 1;
      if (cpu.attention !== 0) return n;
    }
  }
}

/** Compiles a block that has run often enough, with the rest of its region (BlockCache.regionFrom). */
function compile(cpu: Cpu, block: DecodedBlock, linear: number): CompiledBlock {
  const compiled = (block.compiled = cpu.compiler!(block.insns, linear, block.key & 1, cpu.blocks.regionFrom(block)));
  cpu.blocks.compiledCount++;
  return compiled;
}

/**
 * The decoded block at CS:EIP: the one the previous block chained to, else from the cache,
 * else decoded now. Null when the instruction must be single-stepped (see BlockCache.build).
 */
function blockAtEip(cpu: Cpu, previous: DecodedBlock | null): DecodedBlock | null {
  if (!decodedBlocksRun(cpu)) return null;
  const st = cpu.st;
  const eip = st[S_EIP];
  const generation = cpu.translationGeneration;
  if (previous !== null) {
    const chained = chainedBlock(previous, eip, generation);
    if (chained !== null) return chained;
  }
  const lin = (st[S_SEG_BASE + CS] + eip) | 0;
  const e = cpu.tlb[lin >>> 12];
  // A TLB miss is filled by the single-step fetch, where a fault has the right EIP.
  if ((e & cpu.readBit) === 0) return null;
  const limit = st[S_SEG_HIGH + CS] >>> 0;
  const host = (e & -4096) | (lin & 4095);
  const code32 = st[S_CODE32];
  let block = cpu.blocks.get(host * 2 + code32);
  if (block === undefined) {
    if ((eip >>> 0) > limit) return null;
    const built = cpu.blocks.build(cpu, host, code32, limit);
    if (built === null) return null;
    block = built;
    if ((cpu.phys.codePages[host >>> 12] & cpu.codeBit) === 0) cpu.protectCodePage(host >>> 12);
  }
  if ((eip >>> 0) + block.byteLength - 1 > limit) return null;
  if (previous !== null) {
    previous.nextEip1 = previous.nextEip0;
    previous.nextGen1 = previous.nextGen0;
    previous.next1 = previous.next0;
    previous.nextEip0 = eip;
    previous.nextGen0 = generation;
    previous.next0 = block;
  }
  return block;
}

/** Handles whatever set `attention`. Returns true when the run must stop. */
function serviceAttention(cpu: Cpu): boolean {
  if (cpu.attention & ATTN_STOP) return true;
  const st = cpu.st;
  if (cpu.attention & ATTN_DEBUGGER) {
    // A watchpoint was hit: the debugger decides here, before an interrupt could be taken.
    cpu.attention &= ~ATTN_DEBUGGER;
    const hook = cpu.debugHook;
    if (hook !== null && !cpu.passIntercepts) {
      st[S_INSN_EIP] = st[S_EIP];
      if (hook.atBoundary(cpu, null) === HOOK_STOP) {
        cpu.stop('debug');
        return true;
      }
    }
  }
  if (cpu.attention & ATTN_TABLE_WRITTEN) cpu.flushTlb(); // (only a TLB that snoops table writes: Cpu.snoopPagingStructureWrites)
  cpu.attention &= ~(ATTN_RECHECK_TF | ATTN_HALT | ATTN_CODE_WRITTEN | ATTN_TABLE_WRITTEN);
  if (cpu.attention & (ATTN_TRAP | ATTN_DEBUG)) {
    // #DB after an instruction: single-step (it ran with TF set), data breakpoints, or both.
    if (cpu.attention & ATTN_TRAP) st[DR6] |= DR6_BS;
    st[DR6] |= cpu.dataBreakHits;
    cpu.dataBreakHits = 0;
    cpu.attention &= ~(ATTN_TRAP | ATTN_DEBUG);
    cpu.pendingVector = 1;
    cpu.pendingErrorCode = -1;
    deliverPendingEvent(cpu);
    // Its delivery can end the run: a triple fault, or a VM exit (an EPT violation on the stack).
    if (cpu.stopReason !== null) return true;
  }
  if (cpu.attention & ATTN_SHADOW) {
    // Interrupts stay inhibited for the one instruction after STI / MOV SS / POP SS.
    cpu.attention &= ~ATTN_SHADOW;
    cpu.shadowedBoundary = true;
    return false;
  }
  if (cpu.attention & ATTN_INTERRUPT) {
    const pic = cpu.interruptController;
    const vmm = cpu.interceptor;
    if (vmm !== null) {
      // Non-root mode: the VMM decides. An interrupt window opens when IF is set (no shadow here).
      // (At an instruction boundary: no instruction to restart, and a pending "run natively" stays pending.)
      if (vmm.wantsInterruptWindow() && st[S_EFLAGS] & IF && !cpu.passIntercepts) {
        st[S_INSN_EIP] = st[S_EIP];
        if (vmm.intercept(cpu, ExitReason.INTERRUPT_WINDOW, 0)) {
          cpu.stop('vmexit', 'VM exit, interrupt window');
          return true;
        }
      }
      if (pic !== null && pic.hasInterrupt() && vmm.interceptExternalInterrupt(cpu)) {
        st[S_INSN_EIP] = st[S_EIP];
        cpu.stop('vmexit', 'VM exit, external interrupt');
        return true;
      }
      // Nothing more until the PIC raises a line or the guest sets IF (both raise the line
      // again), or the next entry (run() starts with it raised). Looking on every
      // instruction while IF is clear would run the guest at a quarter of its speed.
      if (!cpu.passIntercepts) cpu.attention &= ~ATTN_INTERRUPT;
    }
    if (vmm !== null) {
      // Injection is the VMM's business (at VM entry).
    } else if (pic === null) {
      cpu.attention &= ~ATTN_INTERRUPT;
    } else if (st[S_EFLAGS] & IF && pic.hasInterrupt()) {
      cpu.halted = false;
      st[S_INSN_EIP] = st[S_EIP]; // where the interrupt came, for the record of its delivery (Cpu.faultChain)
      cpu.pendingVector = pic.acknowledge();
      cpu.pendingErrorCode = -2; // external interrupt: no error code, not a software INT
      deliverPendingEvent(cpu);
      if (cpu.stopReason !== null) return true;
    } else {
      // None pending, or IF clear: STI, POPF, IRET and task switches raise the line again
      // when they set IF, so nothing is looked at per instruction while the guest runs with
      // interrupts off.
      cpu.attention &= ~ATTN_INTERRUPT;
    }
  }
  // An instruction that starts with TF set traps (#DB) when it completes.
  if (st[S_EFLAGS] & TF) cpu.attention |= ATTN_TRAP;
  return cpu.stopReason !== null;
}

/** Whether anything can ever end a HLT: an interrupt controller with IF set. */
function canWake(cpu: Cpu): boolean {
  return (cpu.st[S_EFLAGS] & IF) !== 0 && cpu.interruptController !== null;
}
