/**
 * The machine's statistics as text: instructions (and speed, when the time is known), decoded
 * and compiled blocks, VM exits by reason, EPT, shadow and paravirtual paging work, host frames.
 * For `minivisor run --stats` and the debugger's `stats`.
 */
import type { Machine } from './machine.ts';
import { EXIT_REASON_NAMES } from '../vmm/exit-info.ts';

const mib = (pages: number) => ((pages * 4096) / 1048576).toFixed(1);

/** `seconds`: how long the run took, for the speed; null when unknown (the debugger's stops). */
export function formatStats(machine: Machine, seconds: number | null): string {
  const n = machine.instructions;
  const lines = [
    seconds === null
      ? `minivisor: ${n} instructions (mode ${machine.config.mode ?? 'bare'})`
      : `minivisor: ${n} instructions in ${seconds.toFixed(3)} s, ${(n / seconds / 1e6).toFixed(1)} MIPS (mode ${machine.config.mode ?? 'bare'})`,
  ];
  const processors = machine.processors;
  if (processors.length > 1) {
    lines.push(`minivisor: ${processors.length} processors: ${processors.map((p) => `cpu ${p.index} ${p.cpu.instructions}`).join(', ')} instructions (idle time included)`);
    const yields = processors.map((p) => p.cpu.spinYields);
    if (yields.some((n) => n > 0)) lines.push(`minivisor: turns given up spinning on a held lock: ${processors.map((p) => `cpu ${p.index} ${p.cpu.spinYields}`).join(', ')}`);
  }
  // Each processor has its own block cache and (under the VMM) its own vCPU: the counts are their sums.
  const sum = (f: (p: (typeof processors)[number]) => number) => processors.reduce((n, p) => n + f(p), 0);
  const cpu = machine.cpu;
  lines.push(`minivisor: decoded blocks: ${sum((p) => p.cpu.blocks.built)} built, ${sum((p) => p.cpu.blocks.dropped)} dropped by writes to their code, ${sum((p) => p.cpu.blocks.flushes)} cache flushes`);
  lines.push(
    cpu.compiler !== null
      ? `minivisor: translation cache: ${sum((p) => p.cpu.blocks.compiledCount)} blocks compiled to JavaScript (after ${cpu.compileThreshold} runs each)`
      : 'minivisor: translation cache: off (--no-jit), the interpreter alone',
  );
  const vcpu = machine.vcpu;
  if (vcpu) {
    let total = 0;
    const rows: string[] = [];
    vcpu.exitCounts.forEach((_, reason) => {
      const count = sum((p) => p.vcpu?.exitCounts[reason] ?? 0);
      if (count === 0) return;
      total += count;
      rows.push(`  ${String(count).padStart(9)}  ${reason} ${EXIT_REASON_NAMES[reason] ?? ''}`);
    });
    lines.push(`minivisor: ${total} VM exits${seconds === null ? '' : `, ${(total / seconds).toFixed(0)} per second`}; ${sum((p) => p.vcpu?.exitHandlingMs ?? 0).toFixed(1)} ms handling them`);
    lines.push(...rows);
    const guestPages = machine.config.memoryBytes / 4096;
    const ept = vcpu.ept;
    if (ept !== null) {
      lines.push(`minivisor: EPT: ${sum((p) => p.vcpu?.eptMappings ?? 0)} violations mapped a page; ${ept.mappedPages} of ${guestPages} guest pages mapped (${mib(ept.mappedPages)} of ${mib(guestPages)} MiB), ${ept.tableFrames} frames of EPT tables`);
    }
    const shadow = vcpu.shadow;
    if (shadow !== null) {
      const s = shadow.mmu.stats;
      const lookups = s.cacheHits + s.cacheMisses;
      lines.push(`minivisor: shadow: ${s.filled} faults filled, ${s.injected} injected into the guest, ${s.writeProtectTraps} writes to guest page tables trapped, ${s.unshadowed} table pages unshadowed on a write, ${s.emulated} MMIO/ROM accesses emulated, ${s.zapped} entries dropped`);
      lines.push(`minivisor: shadow cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (${lookups ? ((100 * s.cacheHits) / lookups).toFixed(1) : '0.0'}% hits), ${s.evictions} evictions; ${shadow.mmu.cachedRoots} of ${shadow.mmu.capacity} roots cached, ${shadow.mmu.tableFrames} frames of shadow tables`);
    }
    const restricted = vcpu.restricted;
    if (restricted !== null) {
      const r = restricted.stats;
      lines.push(`minivisor: no "unrestricted guest": ${r.v86Runs} runs in virtual-8086 mode, ${r.identityRuns} runs with the guest's paging off, ${r.emulated} instructions emulated; ${restricted.describeIdentityTable()}`);
    }
  }
  const pv = vcpu?.pv ?? null;
  if (pv !== null) {
    const s = pv.mmu.stats;
    lines.push(`minivisor: paravirtual paging: ${s.pins} pins, ${s.unpins} unpins, ${s.updates} entries updated, ${s.baseLoads} CR3 loads, ${s.rejected} requests refused${vcpu!.lastRefusal ? ` (the last: ${vcpu!.lastRefusal})` : ''}; ${pv.refusedWrites} writes to pinned tables refused with paging off; ${pv.refusedInstructions} instructions refused${pv.lastRefusedInstruction ? ` (the last: ${pv.lastRefusedInstruction})` : ''}`);
  }
  const host = machine.phys.hostMemory;
  lines.push(`minivisor: host frames: ${host.framesInUse} in use (${mib(host.framesInUse)} MiB) for ${mib(machine.config.memoryBytes / 4096)} MiB of guest RAM; ${host.tableFrames} of them the VMM's tables`);
  return lines.join('\n') + '\n';
}
