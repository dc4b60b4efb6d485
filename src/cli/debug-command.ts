/**
 * `minivisor debug`: boots a guest exactly as `run` does, stopped before its first
 * instruction, under the debugger (src/debugger): step, break, watch, catch VM exits, look at
 * registers, descriptor tables, page tables and every level of an address's translation.
 */
import { readFileSync } from 'node:fs';
import { parseSymbolMap } from '../asm/symbol-map.ts';
import { builtinBiosSymbols } from './firmware.ts';
import { formatStats } from '../machine/stats.ts';
import type { Command } from './command.ts';
import { DebugTerminal } from './debug-terminal.ts';
import { readPhysicalMemory } from './memory-dump.ts';
import { buildMachine, exitStatusOf, installTraces, parseRunArguments, saveSnapshotFile } from './run-command.ts';
import { acceptGdb, gdbBanner, listenForGdb } from './gdb-server.ts';
import { UserError } from './user-error.ts';
import { fileUserError } from './files.ts';

const USAGE = `usage: minivisor debug [FILE] [options]

Boots FILE as 'minivisor run' does (every run option works: --mode, --mem, --fda, --load and
--entry, --exit-port ...) and stops before the first instruction, at the prompt:

  (minivisor) break kernel_entry        stop there (a symbol of a .asm guest, an address, SEG:OFF)
  (minivisor) continue                  run until then
  (minivisor) step, next, finish        one instruction, over calls, out of the procedure
  (minivisor) info registers            registers; also info gdt, idt, tss, mem, tlb, fault, vmcs
  (minivisor) x/8xw esp                 memory; translate ADDR shows GVA -> GPA -> HVA -> HPA
  (minivisor) catch exit io             stop at the next VM exit for port I/O; exits lists them
  (minivisor) reverse-continue          back to the last breakpoint or watchpoint hit (and
                                        reverse-step, reverse-next, goto N: the history)
  (minivisor) help                      every command

--load-snapshot FILE starts from a machine 'run --save-on-exit FILE' saved, and --save-on-exit
FILE saves it when the session ends.

debugger options:
  --no-stop            run at once, until a breakpoint (set with -x) or Ctrl-C
  -x FILE              run the debugger commands in FILE first (repeatable)
  --symbols FILE       labels and source lines for a guest that is not a .asm file (a map from
                       minivisor asm --symbols); a .asm guest and the built-in BIOS bring theirs
  --gdb [HOST:]PORT, -s  a gdb stub too (see minivisor help run): gdb and the REPL share the
                       breakpoints; while gdb is attached it runs the guest and the REPL looks

While the guest runs, the terminal is its console: keys go to it, Ctrl-C stops it back at the
prompt. When stdin is not a terminal, commands are read from it one per line, with no prompt,
and the exit status is 1 if any command failed (else 0).`;

/** Takes the debugger's own options out of argv; the rest are run's. */
function splitOptions(args: string[]): { rest: string[]; noStop: boolean; scripts: string[]; symbolFiles: string[] } {
  const rest: string[] = [];
  const scripts: string[] = [];
  const symbolFiles: string[] = [];
  let noStop = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new UserError(`option '${a}' needs a value\n\n${USAGE}`);
      return v;
    };
    if (a === '--no-stop') noStop = true;
    else if (a === '-x' || a === '--command') scripts.push(value());
    else if (a === '--symbols') symbolFiles.push(value());
    else if (a.startsWith('--symbols=')) symbolFiles.push(a.slice('--symbols='.length));
    else rest.push(a);
  }
  return { rest, noStop, scripts, symbolFiles };
}

export const debugCommand: Command = {
  usage: USAGE,
  async run(args) {
    if (args.includes('--help')) {
      console.log(USAGE);
      return 0;
    }
    const { rest, noStop, scripts, symbolFiles } = splitOptions(args);
    const terminal = new DebugTerminal();
    const settings = parseRunArguments(rest, terminal.guestOutput, USAGE);
    if (settings.record !== undefined || settings.replay !== undefined) {
      throw new UserError("--record and --replay are run's: the debugger keeps a history of its own (reverse-step, reverse-continue, goto; 'help reverse-step')");
    }
    for (const script of scripts) {
      try {
        readFileSync(script);
      } catch (e) {
        throw fileUserError(e, script, 'read', '-x') ?? e;
      }
    }
    const maps = symbolFiles.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw fileUserError(e, file, 'read', '--symbols') ?? e;
      }
      try {
        return parseSymbolMap(text);
      } catch (e) {
        throw new UserError(`--symbols ${file}: ${e instanceof Error ? e.message : String(e)}: is it a map from 'minivisor asm --symbols'?`);
      }
    });
    const machine = buildMachine(settings);
    // The debugger is its own chunk (with iced-x86, for disassembly): loaded only for this command.
    const { DebugSession } = await import('../debugger/session.ts');
    const { SymbolTable } = await import('../debugger/symbols.ts');
    const { complete } = await import('../debugger/commands/table.ts');
    const symbols = new SymbolTable();
    for (const source of settings.symbolSources) symbols.add(source);
    for (const map of maps) symbols.add(map);
    if (settings.builtinFirmware) symbols.add({ ...builtinBiosSymbols(), base: 0xf0000, prefix: 'bios.' });
    await installTraces(machine, settings);

    const session = new DebugSession(machine, symbols, terminal, { maxInstructions: Number.isFinite(settings.maxInstructions) ? settings.maxInstructions : undefined });
    // The port is taken before the guest starts: one in use is the user's error, said at once.
    const gdbServer = settings.gdb ? await listenForGdb(settings.gdb) : null;
    let gdb: { close(): void } | null = null;
    try {
      for (const file of settings.outputs) file.open();
      settings.saveOnExit?.open();
      terminal.attach(machine);
      const mode = machine.config.mode ?? 'bare';
      const where = settings.snapshot ? `Stopped at instruction ${machine.instructions}, where the snapshot was taken` : 'Stopped before the first instruction';
      terminal.print(
        `minivisor debug: ${mode === 'bare' ? 'the bare machine (no VMM)' : `under the VMM, --mode ${mode}`}, ${settings.config.memoryBytes >> 20} MiB; ` +
          `${symbols.size} symbols. ${where}; 'help' lists the commands.\n${session.location()}`,
      );
      if (gdbServer !== null && settings.gdb !== null) {
        terminal.print(`minivisor: ${gdbBanner(settings.gdb, false)}; the REPL and gdb share the breakpoints, and while gdb is attached it runs the guest`);
        gdb = await acceptGdb(gdbServer, session, {
          say: (text) => terminal.print(`minivisor: ${text}`),
          attached: () => terminal.print('minivisor: gdb runs the guest now (continue and step from gdb); here you can look: registers, x, translate, exits...'),
          released: (how) => terminal.print(`minivisor: gdb ${how === 'gone' ? 'went away' : how === 'ended' ? 'saw the guest end' : how === 'killed' ? 'asked to kill the guest (quit ends the run)' : 'detached'}: the REPL runs the guest again`),
          exitStatus: exitStatusOf,
        });
      }
      let go = true;
      for (const script of scripts) if (go) go = await session.source(script);
      if (go && noStop) await session.execute('continue');
      if (go) {
        for await (const line of terminal.lines((text) => complete(session, text))) {
          if (!(await session.execute(line))) break;
        }
      }
      for (const d of settings.dumps) d.file.write(readPhysicalMemory(machine.phys, d.address, d.length));
      saveSnapshotFile(machine, settings);
    } finally {
      gdb?.close();
      gdbServer?.close();
      terminal.detach();
      for (const file of settings.outputs) file.close();
      settings.saveOnExit?.close();
    }
    if (settings.stats) process.stderr.write(formatStats(machine, null));
    return !terminal.interactive && session.failures > 0 ? 1 : 0;
  },
};
