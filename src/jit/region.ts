/**
 * Regions: a hot block compiled together with the blocks of its page on a loop back to it
 * (RegionPart, BlockCache.regionFrom), as one function, so that a loop over several blocks (a
 * loop with an `if` inside) runs without going back to the run loop between its blocks, with the
 * guest's registers in locals throughout. It is what v86 compiles per page and what QEMU's direct
 * block chaining gives: between two blocks of a region there is a compare and a jump, not a
 * return, a lookup and a call.
 *
 * The function runs its first block, then, while the next EIP is the start of one of the blocks
 * the last one may go to (its fixed successors) and nothing says stop, that block: a `switch` on
 * the block's number inside a loop. Each block keeps the contract of src/jit/translation-cache.ts,
 * block by block, as a block that does not loop: the records of its deferred flags are made by
 * its end (on the way to the next block, only those it may see), its last instruction sets EIP
 * (a closing Jcc or JMP only if the region is left).
 *
 * Between two blocks it goes on only where the run loop would have run the next block the same
 * way, without asking anything first: nothing needs attention, the last instruction completed,
 * the TLB was not flushed (the next block's page is the first one's while the translation
 * generation holds), no debugger is attached (the run loop asks it before every block) and no
 * instruction breakpoint is armed, the next block fits the budget and CS's limit. Else it
 * returns as a block returns after its last instruction, with the registers written back.
 *
 * A fault leaves, besides what a block's does, `cpu.compiledFaultInsns` and
 * `cpu.compiledFaultBase`: the faulting block's instructions and EIP (the run loop only knows the first).
 */
import type { RegionPart } from '../cpu/block-cache.ts';
import { flagsLiveAfter } from '../cpu/emit.ts';
import type { Insn } from '../cpu/insn.ts';
import { execJcc, execJmpRel } from '../cpu/ops/control.ts';
import { ARITH_FLAGS, CS, S_EIP, S_FLAT_SEGMENTS, S_INSN_EIP, S_SEG_HIGH } from '../cpu/state.ts';
import { blockSteps, fusedCondition, registersIn, registersInArray, stopAndFaultLines, writeBack, type Step } from './steps.ts';

/** The JavaScript source of a region's function; `I` and `F` hold each part's instructions and semantics. */
export function regionSource(parts: readonly RegionPart[], name: string): string {
  const inArray = registersInArray(parts.flatMap((p) => p.insns));
  // Instructions are numbered through the whole region (k, and the names of their variables).
  const starts: number[] = [];
  const steps: Step[] = [];
  for (const part of parts) {
    starts.push(steps.length);
    // (Its blocks run round and round, as a loop's: an instruction that may fault is deferred too.)
    steps.push(...blockSteps(part.insns, flagsLiveAfter(part.insns).live, inArray, true, steps.length));
  }
  let named = 0, written = 0;
  for (const step of steps) {
    named |= step.registers.reads | step.registers.writes;
    written |= step.registers.writes;
  }
  const reload = registersIn(named).map((n) => `r${n} = r[${n}]; `).join('') + `flat = st[${S_FLAT_SEGMENTS}]; `;
  const statements = (step: Step) => (step.call ? `${writeBack(written)}${step.js} ${reload}` : step.js);
  const temps = steps.flatMap((step, k) => (step.flags === 'deferred' ? [`p${k}_0 = 0`, `p${k}_1 = 0`] : []));
  // Each block makes the records deferred in it by its end: at the next instruction that reads or
  // writes the flags in the state array, else as its last instruction has run.
  const blockEnd = (k: number) => {
    let j = parts.length - 1;
    while (starts[j] > k) j--;
    return starts[j] + parts[j].insns.length;
  };
  const nextMaking = steps.map((_, k) => {
    const end = blockEnd(k);
    for (let s = k + 1; s < end; s++) if (steps[s].flags === 'sync') return s;
    return end;
  });
  const lines: string[] = [];
  const bindings = parts.flatMap((part, j) => part.insns.map((_, i) => `x${starts[j] + i} = I[${j}][${i}], f${starts[j] + i} = F[${j}][${i}]`));
  lines.push(`const START = [${starts.join(', ')}], ${bindings.join(', ')};`);
  lines.push(`return function ${name}(cpu, st, budget, retiredBefore) {`);
  lines.push(`  const base0 = st[${S_EIP}], r = cpu.reg, generation = cpu.translationGeneration, limit = st[${S_SEG_HIGH + CS}] >>> 0;`);
  lines.push(`  let j = 0, base = 0, k = 0, done = 0, flat = st[${S_FLAT_SEGMENTS}]${registersIn(named).map((n) => `, r${n} = r[${n}]`).join('')}${temps.map((t) => `, ${t}`).join('')};`);
  lines.push('  let stopAt = -1, stopEip = 0;');
  // (The run loop asks the debugger before every block: with one attached, the region runs one block.)
  lines.push('  const chain = cpu.debugHook === null;');
  // Which blocks lie inside CS's limit where this run of the region found them.
  lines.push(`  const ${parts.map((p, t) => `fits${t} = ((base0 + ${p.delta}) >>> 0) + ${p.byteLength - 1} <= limit`).join(', ')};`);
  lines.push('  try {');
  lines.push('    body: for (;;) {');
  lines.push('      switch (j) {');
  // The flags each block may show or read before it sets them: a record deferred in the block
  // before is made on the way there only when it sets one of them.
  const liveAtStart = parts.map((part) => flagsLiveAfter(part.insns).liveAtStart);
  const indexAt = (delta: number) => parts.findIndex((p) => p.delta === delta);
  // Whether anything in the region may read the time (an access to memory, a call; not a branch).
  const timed = parts.some((part, j) => part.insns.some((d, i) => !steps[starts[j] + i].quiet && d.execute !== execJcc && d.execute !== execJmpRel));
  parts.forEach((part, j) => {
    const insns = part.insns;
    const last = insns.length - 1;
    const own = steps.slice(starts[j], starts[j] + insns.length);
    const pad = '          ';
    lines.push(`        case ${j}: {`);
    lines.push(`${pad}base = ${j === 0 ? 'base0' : `(base0 + ${part.delta}) | 0`};`);
    let pending: { record: string; writes: number }[] = [];
    const recordsFor = (live: number) => pending.filter((p) => (p.writes & live) !== 0).map((p) => `${p.record} `).join('');
    const make = () => {
      const js = recordsFor(ARITH_FLAGS);
      pending = [];
      return js;
    };
    const defer = (step: Step, d: Insn) => {
      if (step.flags === 'deferred') pending.push({ record: step.record, writes: d.form!.flags(d).writes });
    };
    for (let i = 0; i < last; i++) {
      const d = insns[i];
      const g = starts[j] + i;
      const step = steps[g];
      const before = step.flags === 'sync' ? make() : '';
      lines.push(step.quiet ? `${pad}${before}${step.js}` : `${pad}k = ${g}; ${before}${statements(step)}`);
      defer(step, d);
      if (!step.quiet) lines.push(`${pad}if (cpu.attention !== 0) { stopAt = ${g}; stopEip = (base + ${d.offset + d.length}) | 0; done += ${i + 1}; break body; }`);
    }
    const d = insns[last];
    const g = starts[j] + last;
    const step = steps[g];
    const branch = d.o32 !== 0 && (d.execute === execJcc || d.execute === execJmpRel);
    // Where the run loop would run block t next without asking anything first: an access to
    // memory may have flushed the TLB (filling it when full; a near branch makes none), a call
    // armed an instruction breakpoint or left an instruction part-way. (Each of them looked at
    // cpu.attention.)
    const calls = own.some((x) => x.call);
    const accesses = own.some((x, i) => !x.quiet && !(i === last && branch));
    const goesOn = (t: number) =>
      `chain && ${accesses || calls ? 'cpu.translationGeneration === generation && ' : ''}${calls ? '!cpu.incompleteInstruction && !cpu.codeWatch && ' : ''}` +
      `done + ${insns.length + parts[t].insns.length} <= budget && fits${t}`;
    // (Virtual time, `cpu.retired`, as the run loop leaves it between blocks: a read of the local
    // APIC's timer in the next block sees it.)
    // (Where the block's last instruction ran as it is written out, `leave` set it already.)
    const enter = (t: number, left = false) => `${recordsFor(liveAtStart[t])}${timed && !left ? `cpu.retiredInChunk = retiredBefore + done + ${last}; ` : ''}done += ${insns.length}; j = ${t}; continue body;`;
    const leave = `st[${S_INSN_EIP}] = (base + ${d.offset}) | 0; st[${S_EIP}] = (base + ${d.offset + d.length}) | 0; cpu.retiredInChunk = retiredBefore + done + ${last};`;
    if (branch) {
      // A near branch of 32-bit code: taken or not, decided here, and EIP written only if the
      // region is left (then the branch runs as it is written out, records made first).
      const jump = d.execute === execJmpRel;
      const fused = jump ? 'true' : fusedCondition(insns, own, last);
      lines.push(`${pad}${fused === null ? make() : ''}const taken = ${fused ?? `testCondition(st, ${d.opcode & 15})`};`);
      const target = indexAt(part.delta + d.offset + d.length + d.imm);
      const fallThrough = jump ? -1 : indexAt(part.delta + part.byteLength);
      if (target >= 0) lines.push(`${pad}if (taken && ${goesOn(target)}) { ${enter(target)} }`);
      if (fallThrough >= 0) lines.push(`${pad}if (!taken && ${goesOn(fallThrough)}) { ${enter(fallThrough)} }`);
      lines.push(`${pad}k = ${g}; ${make()}${leave}`);
      lines.push(`${pad}${statements(step)}`);
      lines.push(`${pad}${writeBack(written)}return done + ${last};`);
    } else {
      const before = step.flags === 'sync' ? make() : '';
      lines.push(`${pad}k = ${g}; ${before}${leave}`);
      lines.push(`${pad}${statements(step)}`);
      defer(step, d);
      lines.push(`${pad}${make()}`);
      // On to the next block where the last instruction went to the start of one.
      const successors = [...new Set(part.next)].map(indexAt).filter((t) => t >= 0);
      if (successors.length > 0) lines.push(`${pad}const next = st[${S_EIP}];`);
      for (const t of successors) lines.push(`${pad}if (next === ((base0 + ${parts[t].delta}) | 0) && cpu.attention === 0 && ${goesOn(t)}) { ${enter(t, true)} }`);
      lines.push(`${pad}${writeBack(written)}return done + ${last};`);
    }
    lines.push('        }');
  });
  lines.push('      }');
  lines.push('    }');
  lines.push(...stopAndFaultLines(steps, nextMaking, written, 'done', 'cpu.compiledFaultIndex = k - START[j]; cpu.compiledFaultRetired = done; cpu.compiledFaultInsns = I[j]; cpu.compiledFaultBase = base;'));
  return lines.join('\n');
}
