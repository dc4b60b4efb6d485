/** What --stats and --trace-exits print. */
import type { Machine } from '../machine/machine.ts';
import { EXIT_REASON_NAMES, type VmExit } from '../vmm/exit-info.ts';

const hex = (v: number) => '0x' + (v >>> 0).toString(16).toUpperCase();

/** One line per VM exit: reason (number and name), qualification, guest RIP, and what else the exit carries. */
export function formatExit(exit: VmExit): string {
  const name = EXIT_REASON_NAMES[exit.reason] ?? '?';
  let line = `exit ${exit.reason} (${name}) qualification ${hex(exit.qualification)} rip ${hex(exit.guestRip)}`;
  if (exit.instructionLength) line += ` length ${exit.instructionLength}`;
  if (exit.reason === 48) line += ` gpa ${hex(exit.guestPhysical)}${exit.qualification & 0x80 ? ` gla ${hex(exit.guestLinear)}` : ''}`;
  if (exit.reason === 49) line += ` gpa ${hex(exit.guestPhysical)}`;
  if (exit.interruptionInfo) line += ` interruption ${hex(exit.interruptionInfo)}`;
  return line;
}

const mib = (pages: number) => ((pages * 4096) / 1048576).toFixed(1);

export function formatStats(machine: Machine, seconds: number): string {
  const n = machine.cpu.instructions;
  const lines = [`minivisor: ${n} instructions in ${seconds.toFixed(3)} s, ${(n / seconds / 1e6).toFixed(1)} MIPS (mode ${machine.config.mode ?? 'bare'})`];
  const blocks = machine.cpu.blocks;
  lines.push(`minivisor: decoded blocks: ${blocks.built} built, ${blocks.dropped} dropped by writes to their code, ${blocks.flushes} cache flushes`);
  lines.push(
    machine.cpu.compiler !== null
      ? `minivisor: translation cache: ${blocks.compiledCount} blocks compiled to JavaScript (after ${machine.cpu.compileThreshold} runs each)`
      : 'minivisor: translation cache: off (--no-jit), the interpreter alone',
  );
  const vcpu = machine.vcpu;
  if (vcpu) {
    let total = 0;
    const rows: string[] = [];
    vcpu.exitCounts.forEach((count, reason) => {
      if (count === 0) return;
      total += count;
      rows.push(`  ${String(count).padStart(9)}  ${reason} ${EXIT_REASON_NAMES[reason] ?? ''}`);
    });
    lines.push(`minivisor: ${total} VM exits, ${(total / seconds).toFixed(0)} per second; ${vcpu.exitHandlingMs.toFixed(1)} ms handling them`);
    lines.push(...rows);
    const guestPages = machine.config.memoryBytes / 4096;
    const ept = vcpu.ept;
    if (ept !== null) {
      lines.push(`minivisor: EPT: ${vcpu.eptMappings} violations mapped a page; ${ept.mappedPages} of ${guestPages} guest pages mapped (${mib(ept.mappedPages)} of ${mib(guestPages)} MiB), ${ept.tableFrames} frames of EPT tables`);
    }
    const shadow = vcpu.shadow;
    if (shadow !== null) {
      const s = shadow.mmu.stats;
      const lookups = s.cacheHits + s.cacheMisses;
      lines.push(`minivisor: shadow: ${s.filled} faults filled, ${s.injected} injected into the guest, ${s.writeProtectTraps} writes to guest page tables trapped, ${s.unshadowed} table pages unshadowed on a write, ${s.emulated} MMIO/ROM accesses emulated, ${s.zapped} entries dropped`);
      lines.push(`minivisor: shadow cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (${lookups ? ((100 * s.cacheHits) / lookups).toFixed(1) : '0.0'}% hits), ${s.evictions} evictions; ${shadow.mmu.cachedRoots} of ${shadow.mmu.capacity} roots cached, ${shadow.mmu.tableFrames} frames of shadow tables`);
    }
  }
  const pv = vcpu?.pv ?? null;
  if (pv !== null) {
    const s = pv.mmu.stats;
    lines.push(`minivisor: paravirtual paging: ${s.pins} pins, ${s.unpins} unpins, ${s.updates} entries updated, ${s.baseLoads} CR3 loads, ${s.rejected} requests refused${vcpu!.lastRefusal ? ` (the last: ${vcpu!.lastRefusal})` : ''}; ${pv.refusedWrites} writes to pinned tables refused with paging off`);
  }
  const host = machine.phys.hostMemory;
  lines.push(`minivisor: host frames: ${host.framesInUse} in use (${mib(host.framesInUse)} MiB) for ${mib(machine.config.memoryBytes / 4096)} MiB of guest RAM; ${host.tableFrames} of them the VMM's tables`);
  return lines.join('\n') + '\n';
}
