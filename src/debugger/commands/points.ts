/** Breakpoints, watchpoints, catchpoints: break, tbreak, watch, rwatch, awatch, catch, delete, disable, enable. */
import { hex } from '../../cpu/physical-memory.ts';
import { vectorOfMnemonic } from '../../cpu/exceptions.ts';
import { exitReasonFamilies, parseExitReasons } from '../../vmm/exit-info.ts';
import { CommandError } from '../command-error.ts';
import { exitReasonKeywords } from '../debugger.ts';
import { CATCH_KINDS, type Breakpoint, type CatchKind, type Catchpoint, type WatchAccess, type Watchpoint } from '../points.ts';
import type { DebugSession } from '../session.ts';
import { shortPath } from '../symbols.ts';
import { words, type DebugCommand } from './command.ts';

const ADDRESS_FORMS = `ADDR is a linear address (0x10000, an expression: esp+8), p:ADDR a guest-physical one,
SEG:OFF a real-mode segment or a selector (0000:7c00, 0x1b:0x40000000, cs:eip), a symbol
(print, print.loop, bios.int13_handler, kernel_entry+4), or FILE.asm:LINE.`;

function addBreakpoint(session: DebugSession, args: string, temporary: boolean): string {
  // gdb's `break *ADDR` names the instruction at ADDR, as `break ADDR` does here (not the dword there).
  const m = /^(.*?)(?:\s+if\s+(.+))?$/s.exec(args.trim().replace(/^\*\s*/, ''));
  const spec = m?.[1] ?? '';
  if (spec === '' || /^if(\s|$)/.test(spec)) throw new CommandError(`where? ${temporary ? 'tbreak' : 'break'} ADDR [if EXPR]\n${ADDRESS_FORMS}`);
  const condition = m?.[2]?.trim() ?? null;
  if (condition !== null) session.evaluate(condition); // a condition that cannot even be parsed is refused now
  const target = session.resolveAddress(spec);
  const where = target.physical ? '' : session.symbols.describe(target.address);
  const b = session.debugger.points.add<Breakpoint>({
    type: 'break', enabled: true, temporary, address: target.address, physical: target.physical, condition, spec: `${spec}${where && where !== `<${spec}>` ? ` ${where}` : ''}`,
  });
  const span = target.physical ? undefined : session.symbols.spanAt(target.address);
  const line = span?.location;
  const made = `${temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${b.id} at ${target.physical ? 'p:' : ''}${hex(target.address)}${where ? ` ${where}` : ''}${line ? ` (${shortPath(line.file)}:${line.line})` : ''}${condition ? `, if ${condition}` : ''}`;
  // A breakpoint stops where an instruction starts: one inside the bytes of a line is likely a mistake.
  if (span !== undefined && span.start !== target.address) {
    return `${made}\n  note: that is ${target.address - span.start} byte${target.address - span.start === 1 ? '' : 's'} into what ${shortPath(line!.file)}:${line!.line} assembled (from ${hex(span.start)}); it is hit only if code runs from there`;
  }
  return made;
}

function addWatchpoint(session: DebugSession, args: string, access: WatchAccess, name: string): string {
  // gdb's `watch *ADDR` names the memory at ADDR, as `watch ADDR` does here.
  const parts = words(args.trim().replace(/^\*\s*/, ''));
  if (parts.length === 0 || parts.length > 2) throw new CommandError(`write ${name} ADDR [LEN]: LEN bytes (1, 2 or 4; default 4) at a linear address, or p:ADDR for a physical one`);
  const target = session.resolveAddress(parts[0]);
  const length = parts.length === 2 ? session.evaluate(parts[1]) : 4;
  if (length < 1 || length > 4096) throw new CommandError(`a watchpoint covers 1 to 4096 bytes, not ${length}`);
  const where = target.physical ? '' : session.symbols.describe(target.address);
  const w = session.debugger.points.add<Watchpoint>({
    type: 'watch', enabled: true, access, address: target.address, length, physical: target.physical,
    spec: `${length === 1 ? 'byte' : length === 2 ? 'word' : length === 4 ? 'dword' : `${length} bytes`} [${target.physical ? 'p:' : ''}${hex(target.address)}]${where ? ` ${where}` : ''}`,
  });
  const what = access === 'write' ? 'written (and changed)' : access === 'read' ? 'read' : 'read or written';
  return `Watchpoint ${w.id}: ${w.spec}, stops when it is ${what}`;
}

function addCatchpoint(session: DebugSession, args: string): string {
  const [what, ...rest] = words(args);
  if (what === undefined || !(CATCH_KINDS as readonly string[]).includes(what)) {
    throw new CommandError(`catch what? ${CATCH_KINDS.join(', ')} (help catch)`);
  }
  const kind = what as CatchKind;
  let filter: number[] | null = null;
  if (rest.length > 0) {
    if (kind === 'exit') {
      // A reason by number or keyword, or a family (cr, msr, ept, apic...), as --trace-exits takes them.
      filter = rest.flatMap((r) => {
        const reasons = parseExitReasons(r);
        if (reasons === undefined) throw new CommandError(`'${r}' is no exit reason: give a number or one of ${exitReasonKeywords()}; or a family: ${exitReasonFamilies()}`);
        return reasons;
      });
    } else if (kind === 'exception' || kind === 'interrupt') {
      filter = rest.map((r) => {
        // An exception by its name (pf, #GP) or a vector number; a name is not taken for a flag (pf is not PF).
        const named = vectorOfMnemonic(r);
        if (named !== undefined) return named;
        if (!/^[0-9]/.test(r)) throw new CommandError(`'${r}' is no vector: give a number (14, 0x80) or an exception's name (pf, #GP, de, ud...)`);
        const vector = session.evaluate(r);
        if (vector > 255) throw new CommandError(`vector ${r} is past 255`);
        return vector;
      });
    } else {
      throw new CommandError(`catch ${kind} takes nothing more`);
    }
  }
  if (kind === 'exit' && session.processor.vcpu === null) throw new CommandError('there is no VMM to exit to in --mode bare: run under ept, shadow or pv to catch VM exits');
  const spec = `${kind}${filter ? ` ${rest.join(' ')}` : ''}`;
  const c = session.debugger.points.add<Catchpoint>({ type: 'catch', enabled: true, what: kind, filter, spec });
  return `Catchpoint ${c.id} (${spec})`;
}

/** Point numbers from the arguments, ranges included (2-4); none: all. */
function ids(session: DebugSession, args: string): number[] {
  return words(args).flatMap((w) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(w);
    if (!m) throw new CommandError(`'${w}' is not a breakpoint number or a range of them (2, 2-4; info break lists them)`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    if (to < from) throw new CommandError(`'${w}': the range goes backwards`);
    const range = Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((n) => session.debugger.points.get(n) !== undefined);
    if (range.length === 0) throw new CommandError(`there is no breakpoint, watchpoint or catchpoint ${w}`);
    return range;
  });
}

export const pointCommands: DebugCommand[] = [
  {
    name: 'break',
    aliases: ['b', 'br'],
    usage: 'break ADDR [if EXPR]',
    summary: 'stop before the instruction at ADDR runs (when EXPR is non-zero)',
    help: `${ADDRESS_FORMS}\nThe condition is an expression (help print): break print if eax == 0x41.\nA breakpoint stops at its instruction whether the code runs compiled or interpreted.`,
    run: (session, args) => addBreakpoint(session, args, false),
  },
  {
    name: 'tbreak',
    aliases: ['tb'],
    usage: 'tbreak ADDR [if EXPR]',
    summary: 'a breakpoint that is deleted when it is hit',
    run: (session, args) => addBreakpoint(session, args, true),
  },
  {
    name: 'watch',
    aliases: ['wa'],
    usage: 'watch ADDR [LEN]',
    summary: 'stop after an instruction changes LEN bytes at ADDR (default 4)',
    help: "Shows the old and the new value and the instruction that wrote them. ADDR is linear, or p:ADDR\nphysical. While a watchpoint is set the guest runs one instruction at a time (slower).",
    run: (session, args) => addWatchpoint(session, args, 'write', 'watch'),
  },
  {
    name: 'rwatch',
    usage: 'rwatch ADDR [LEN]',
    summary: 'stop after an instruction reads LEN bytes at ADDR',
    run: (session, args) => addWatchpoint(session, args, 'read', 'rwatch'),
  },
  {
    name: 'awatch',
    usage: 'awatch ADDR [LEN]',
    summary: 'stop after an instruction reads or writes LEN bytes at ADDR',
    run: (session, args) => addWatchpoint(session, args, 'access', 'awatch'),
  },
  {
    name: 'catch',
    usage: 'catch exit|exception|interrupt|ring|cr3|mode [WHICH...]',
    summary: 'stop on a VM exit, an exception, an interrupt, a ring change, a CR3 load, a mode switch',
    help:
      `catch exit [REASON...]        a VM exit, by Intel's reason number or name: ${exitReasonKeywords()}\n` +
      '                              (stops once the VMM has handled it; exits shows the log)\n' +
      'catch exception [VECTOR...]   an exception delivered (14 for #PF, 13 for #GP...), at its handler\n' +
      'catch interrupt [VECTOR...]   an interrupt: INT n, or an IRQ from the PIC, at its handler\n' +
      'catch ring                    any change of CPL (ring 3 to 0 on an int 0x80, back on IRET)\n' +
      'catch cr3                     any CR3 load (a new address space, or the same one flushed)\n' +
      'catch mode                    real, protected or virtual-8086 mode entered',
    run: (session, args) => addCatchpoint(session, args),
  },
  {
    name: 'delete',
    aliases: ['d', 'del'],
    usage: 'delete [N|N-M...]',
    summary: 'delete breakpoints, watchpoints and catchpoints (all, without N)',
    run(session, args) {
      const gone = session.debugger.points.delete(ids(session, args));
      return gone.length === 0 ? 'Nothing to delete.' : `Deleted ${gone.length === 1 ? `number ${gone[0]}` : `numbers ${gone.join(', ')}`}.`;
    },
  },
  {
    name: 'disable',
    aliases: ['dis'],
    usage: 'disable [N|N-M...]',
    summary: 'disable breakpoints, watchpoints and catchpoints (all, without N)',
    run(session, args) {
      session.debugger.points.setEnabled(ids(session, args), false);
    },
  },
  {
    name: 'enable',
    aliases: ['en'],
    usage: 'enable [N|N-M...]',
    summary: 'enable them again',
    run(session, args) {
      session.debugger.points.setEnabled(ids(session, args), true);
    },
  },
];
