/**
 * --trace-jit: each block the translation cache compiles, as it is compiled: where it is, the
 * guest instructions in it (disassembled) and the JavaScript function they became, as QEMU's
 * -d in_asm,out_asm shows a translation block and the host code made of it.
 */
import { S_EIP } from '../cpu/state.ts';
import type { Machine } from '../machine/machine.ts';

/** Wraps the machine's block compiler so that every compilation is written out. */
export async function traceTranslations(machine: Machine, write: (text: string) => void): Promise<void> {
  const cpu = machine.cpu;
  const compile = cpu.compiler;
  if (compile === null) return;
  // iced-x86 is loaded only for this (the disassembler is its own chunk).
  const { disassemble, formatDisassembly } = await import('../asm/disassembler.ts');
  const indent = (text: string) => text.replace(/\n$/, '').replace(/^/gm, '    ') + '\n';
  cpu.compiler = (insns, linear, code32, region) => {
    const compiled = compile(insns, linear, code32, region);
    // Blocks are compiled just before they first run as functions: CS:EIP is on the first instruction.
    // A region's other blocks are in the same page, at their distance from the first.
    const parts = region.length > 1 ? region : [{ insns, delta: 0 }];
    const guest = parts.map(({ insns: partInsns, delta }) => {
      const last = partInsns[partInsns.length - 1];
      const bytes = new Uint8Array(last.offset + last.length);
      // Its bytes are in the page the CPU just fetched from: the TLB has it, so peeking walks nothing.
      for (let i = 0; i < bytes.length; i++) bytes[i] = cpu.peekLinear8((linear + delta + i) | 0);
      return formatDisassembly(disassemble(bytes, { bits: code32 ? 32 : 16, org: (cpu.st[S_EIP] + delta) >>> 0 }));
    });
    const count = parts.reduce((sum, part) => sum + part.insns.length, 0);
    write(
      `jit: ${compiled.name}: ${count} instruction${count === 1 ? '' : 's'}${parts.length > 1 ? ` in ${parts.length} blocks` : ''} at ${cpu.location()} (linear 0x${(linear >>> 0).toString(16)}), after ${cpu.compileThreshold} runs\n` +
        guest.map(indent).join(parts.length > 1 ? '    --\n' : '') +
        indent(compiled.toString()),
    );
    return compiled;
  };
}
