/**
 * `minivisor run`: the headless runner. Loads a guest (assembling .asm on the fly), runs it,
 * and turns how it ended into an exit status a script or a grader can use.
 */
import { extname } from 'node:path';
import { assembleFile } from '../asm/node-files.ts';
import { formatDiagnostic, type AssembleResult } from '../asm/index.ts';
import { IDLE_WAIT_MS, MAX_CPUS, MAX_RAM_BYTES, Machine, SMP_QUANTUM, type MachineConfig, type RunOutcome } from '../machine/machine.ts';
import { TerminalConsole } from './console.ts';
import { formatStats } from '../machine/stats.ts';
import { describeExit, exitReasonWords, parseExitReasons } from '../vmm/exit-info.ts';
import { DiskImage, SECTOR_BYTES, guessKind, type DiskKind } from '../machine/disk-image.ts';
import { isElf } from '../machine/elf.ts';
import { isFlatMultibootKernel } from '../machine/multiboot.ts';
import { builtinBios, builtinBiosSymbols } from './firmware.ts';
import { MIN_RAM_BYTES, checkReservedRanges } from '../machine/pc-memory.ts';
import { hex } from '../cpu/physical-memory.ts';
import { PortConflictError, describePorts, portHex } from '../cpu/io-bus.ts';
import type { Command } from './command.ts';
import { lastValue, parseNumber, parseOptions, parseSegOff, parseSize } from './args.ts';
import { UserError } from './user-error.ts';
import { EXIT, formatExitStatuses } from './exit-status.ts';
import { OutputFile, checkInputFile, fileUserError, openImageForUpdate, readInputFile } from './files.ts';
import { readPhysicalMemory } from './memory-dump.ts';
import { traceTranslations } from './jit-trace.ts';
import { formatSymbolMap, parseSymbolMap, type SymbolMap } from '../asm/symbol-map.ts';
import { explainFaultChain } from '../debugger/fault-report.ts';
import { SymbolTable, type SymbolSource } from '../debugger/symbols.ts';
import { listenForGdb, runUnderGdb } from './gdb-server.ts';
import { SnapshotError, configFromRecipe, decodeSnapshot, encodeSnapshot, loadSnapshot, takeSnapshot, type MachineSnapshot } from '../machine/snapshot.ts';
import { InputLogError, Recorder, Replayer, describeOutcome, formatInputLog, parseInputLog, type InputLog } from '../machine/input-log.ts';

const USAGE = `usage: minivisor run [FILE] [options]

Boots FILE through minivisor's BIOS, as a PC boots:
  a disk image         a floppy when it has a floppy's size (up to 2.88 MB), else a hard disk
  a NASM source, .asm  assembled, then booted from a floppy (a boot sector, 512 bytes or more)
  a Multiboot kernel   an ELF file, or a flat binary (or .asm) whose Multiboot header gives
                       load addresses (flag 16); entered in 32-bit protected mode

disks and firmware:
  --fda FILE               the first floppy (drive 00h)
  --hda FILE               the first hard disk (drive 80h; IDE primary master)
  --hdb FILE               the second hard disk (drive 81h; IDE primary slave)
  --persist                the guest's disk writes go to the image files; without it they stay in
                           memory and the files are left as they were (as QEMU's -snapshot)
  --boot a|c               boot the floppy (a) or the hard disk (c); default: c when there is one
  --append TEXT            a Multiboot kernel's command line
  --bios FILE              firmware instead of the built-in BIOS (ends at 1 MiB; start at F000:FFF0)
raw images, without a BIOS:
  --load FILE@ADDR         load a raw image into RAM at ADDR (repeatable)
  --entry SEG:OFF          start there in real mode, without the BIOS (unless --bios is given)
machine:
  --mode ept|shadow|pv|bare
                           under the VMM with memory through EPT (ept, the default) or shadow page
                           tables (shadow); pv: paravirtual paging, for guests written for it
                           (docs/hypercalls.md); bare: on the bare machine with no VMM
  --shadow-cache N         shadow mode: guest page-table roots the shadow-table cache keeps (default 8;
                           1 turns the cache off)
  --unrestricted on|off    ept and shadow: whether the CPU has VMX's "unrestricted guest" (default
                           on). Off, the VMM runs real mode in virtual-8086 mode and paging-off code
                           on an identity table, emulating what those cannot hold (as KVM did)
  --mem SIZE               RAM size (default 32M)
  --smp N                  N processors (1-8, default 1): the first boots, the others wait for INIT
                           and STARTUP IPIs; they take turns of ${SMP_QUANTUM} instructions (not pv;
                           the debugger and gdb see the first)
  --no-jit                 the interpreter alone: no hot blocks compiled to JavaScript (the
                           translation cache), to compare or to rule the cache out
  --reserve ADDR:SIZE      take a range of RAM above 1 MiB out of it, reported reserved in E820
                           (repeatable; page-aligned, within --mem; ranges may touch, not overlap)
  --debugcon PORT[=FILE]   bytes written to PORT go to stdout, or to FILE (repeatable; 0xe9 is usual)
  --exit-port PORT         a write of V ends the run; exit status (V << 1) | 1 (0xf4 is usual)
run control:
  --max-instructions N     stop after N instructions (exit status ${EXIT.limit})
  --dump-mem ADDR:LEN=FILE write physical memory to FILE at the end (repeatable; ADDR+LEN within --mem)
  --stats                  instructions, time and MIPS; under the VMM also exits by reason, EPT
                           violations, frames in use and time in exit handling (on stderr)
  --trace-exits [REASONS]  every VM exit as it happens, decoded: reason, what it was (port, size and
                           direction; CR and register; EPT access), guest CS:EIP (stderr); REASONS
                           limits it: io,cr or 30,28 (names: cpuid hlt io cr ept msr vmcall ...)
  --trace-jit              every block the translation cache compiles: its guest instructions and
                           the JavaScript function they became (stderr)
  -D NAME[=VALUE], -I DIR  defines and include directories for .asm files (repeatable)
snapshots and record/replay:
  --save-on-exit FILE      when the run ends (however it ends, Ctrl-C included), save the whole
                           machine to FILE: processors, devices, the VMM, memory, disks
  --load-snapshot FILE     go on from a saved machine instead of booting: FILE carries the machine
                           (memory, mode, disks...), so give no guest file and no option that
                           builds one (QEMU's -loadvm)
  --record FILE            log what the run takes from outside (keys typed, time waited for them)
                           and state hashes along the way, to replay it exactly
  --replay FILE            run again as recorded: the logged input at the same instructions, the
                           terminal's ignored; checks the state hashes and says where a run first
                           differs (give the same guest and options as the recorded run)
gdb:
  --gdb [HOST:]PORT        a gdb remote stub on PORT (127.0.0.1 unless HOST says otherwise):
                           gdb -ex 'target remote :PORT'; addresses are linear, as with QEMU
  -s                       --gdb 1234
  -S                       hold the guest before its first instruction until gdb says continue

COM1 is the console: its output goes to stdout. Ctrl-C (or SIGINT, SIGTERM) ends the run, with
--stats and --dump-mem still done. The exit status says how the run ended:
${formatExitStatuses()}`;

const OPTIONS = {
  '--bios': true, '--load': true, '--entry': true, '--mem': true, '--debugcon': true, '--exit-port': true,
  '--max-instructions': true, '--dump-mem': true, '--stats': false, '-D': true, '-I': true, '--help': false,
  '--fda': true, '--hda': true, '--hdb': true, '--persist': false, '--boot': true, '--append': true, '--reserve': true, '--mode': true, '--trace-exits': false, '--trace-jit': false,
  '--shadow-cache': true, '--unrestricted': true, '--smp': true, '--no-jit': false, '--gdb': true, '-s': false, '-S': false,
  '--save-on-exit': true, '--load-snapshot': true, '--record': true, '--replay': true,
};

/** What builds a machine: none of it goes with --load-snapshot, whose file carries the machine. */
const MACHINE_OPTIONS = ['--bios', '--load', '--entry', '--mem', '--fda', '--hda', '--hdb', '--persist', '--boot', '--append', '--reserve', '--mode', '--shadow-cache', '--unrestricted', '--smp', '--exit-port', '--debugcon', '-D', '-I'];

/**
 * Reads a guest file, assembling it when it is .asm (then with its labels and source lines).
 * Errors are the user's: say which file and why (missing, a directory, unreadable, bad
 * assembly); `what` (the option naming the file) prefixes the message.
 */
export function loadGuestFile(path: string, defines: Record<string, string> = {}, includePaths: string[] = [], what?: string): { bytes: Uint8Array; symbols?: SymbolMap } {
  if (extname(path).toLowerCase() !== '.asm') return { bytes: readInputFile(path, what) };
  checkInputFile(path, what);
  let result: AssembleResult;
  try {
    result = assembleFile(path, { defines, includePaths });
  } catch (e) {
    throw fileUserError(e, path, 'read', what) ?? e;
  }
  if (!result.ok) {
    const errors = result.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
    throw new UserError(`${path} did not assemble:\n${errors}`, EXIT.assembly);
  }
  const constants = new Map([...result.symbols].filter(([name]) => !result.labels.has(name)));
  const labels = new Map([...result.symbols].filter(([name]) => result.labels.has(name)));
  return { bytes: result.bytes, symbols: { symbols: labels, constants, lineMap: result.lineMap } };
}

/** A guest file's bytes (see loadGuestFile). */
export function loadGuestImage(path: string, defines: Record<string, string> = {}, includePaths: string[] = [], what?: string): Uint8Array {
  return loadGuestFile(path, defines, includePaths, what).bytes;
}

function parseDefines(values: string[]): Record<string, string> {
  const defines: Record<string, string> = {};
  for (const d of values) {
    const eq = d.indexOf('=');
    defines[eq < 0 ? d : d.slice(0, eq)] = eq < 0 ? '' : d.slice(eq + 1);
  }
  return defines;
}

export interface RunSettings {
  config: MachineConfig;
  /** A Multiboot kernel to load once the machine exists. */
  kernel?: { bytes: Uint8Array; name: string; commandLine: string };
  maxInstructions: number;
  dumps: { address: number; length: number; file: OutputFile }[];
  stats: boolean;
  traceExits: boolean;
  /** The exit reasons --trace-exits shows (null: all). */
  traceExitsFilter: number[] | null;
  traceJit: boolean;
  /** The files the run writes (debug consoles', dumps'): open them before the guest starts, close them after. */
  outputs: OutputFile[];
  /** The ports the options gave devices (debug consoles, the exit port), with the option that did. */
  portOptions: Map<number, string>;
  /** Labels and source lines of the .asm files the machine was given (the built-in BIOS's are not among them). */
  symbolSources: SymbolSource[];
  /** The machine boots through the built-in BIOS (whose symbols the debugger loads). */
  builtinFirmware: boolean;
  /** --gdb, -s, -S: where the gdb stub listens, and whether the guest waits for gdb before it starts. */
  gdb: GdbListen | null;
  /** A .asm given as the boot floppy, assembled (to explain a run that went wrong past its first sector). */
  bootAsm?: { name: string; bytes: Uint8Array };
  /** --load-snapshot: the machine to go on from, loaded into the machine its recipe builds. */
  snapshot?: MachineSnapshot;
  /** --save-on-exit: where the machine goes when the run ends. */
  saveOnExit?: OutputFile;
  /** --record FILE, --replay FILE. */
  record?: OutputFile;
  replay?: { path: string; log: InputLog };
}

export interface GdbListen {
  host: string;
  port: number;
  waitForGdb: boolean;
}

/** --gdb's value: PORT, :PORT, HOST:PORT, or QEMU's tcp::PORT. */
function parseGdbListen(text: string | undefined, shortcut: boolean, wait: boolean): GdbListen | null {
  if (text === undefined && !shortcut) {
    if (wait) throw new UserError('-S holds the guest until gdb says continue: give the port gdb connects to as well (--gdb PORT, or -s for 1234)');
    return null;
  }
  const spec = text ?? '1234';
  const m = /^(?:tcp:)?(?:(.*):)?(\d+)$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new UserError(`--gdb ${spec}: give a TCP port from 1 to 65535 (--gdb 1234), or HOST:PORT to listen beyond this machine (--gdb 0.0.0.0:1234)`);
  return { host: m[1] || '127.0.0.1', port, waitForGdb: wait };
}

/** A port number for `what`: 0 to 0xFFFF. */
function parsePort(text: string, what: string): number {
  const port = parseNumber(text, what);
  if (port > 0xffff) throw new UserError(`${what}: port ${text} is past 0xFFFF: I/O ports go from 0 to 0xFFFF (debug consoles often use 0xe9, exit ports 0xf4)`);
  return port;
}

/** A size for messages: 4 GiB, 32 MiB, 640 KiB, or bytes. */
function formatSize(bytes: number): string {
  if (bytes > 0 && bytes % 1073741824 === 0) return `${bytes / 1073741824} GiB`;
  if (bytes > 0 && bytes % 1048576 === 0) return `${bytes / 1048576} MiB`;
  if (bytes > 0 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Turns `run`'s arguments into a machine configuration. `stdout` receives COM1's bytes and
 * those of debug consoles without a file, in the order the guest wrote them.
 */
/**
 * --trace-exits takes an optional list of reasons (`--trace-exits io,cr`, `--trace-exits=30,48`):
 * taken out of argv here, since a flag of parseOptions takes no value. A word after the flag is
 * the list when every item of it names reasons (a guest file does not).
 */
function takeTraceExitsFilter(args: string[]): { args: string[]; filter: number[] | null } {
  const rest: string[] = [];
  let filter: number[] | null = null;
  const parse = (text: string, strict: boolean): number[] | null => {
    const items = text.split(',').map((w) => parseExitReasons(w.trim()));
    if (items.every((r) => r !== undefined)) return items.flat() as number[];
    if (strict) throw new UserError(`--trace-exits=${text}: give exit reasons by number or name, separated by commas (${exitReasonWords()})`);
    return null;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--trace-exits=')) {
      filter = parse(a.slice('--trace-exits='.length), true);
      rest.push('--trace-exits');
    } else if (a === '--trace-exits' && i + 1 < args.length && !args[i + 1].startsWith('-') && parse(args[i + 1], false) !== null) {
      filter = parse(args[++i], false);
      rest.push(a);
    } else rest.push(a);
  }
  return { args: rest, filter };
}

export function parseRunArguments(allArgs: string[], stdout: (byte: number) => void = (b) => process.stdout.write(Uint8Array.of(b)), usage = USAGE): RunSettings {
  const { args, filter: traceExitsFilter } = takeTraceExitsFilter(allArgs);
  const { options, positionals } = parseOptions(args, OPTIONS, usage);
  const all = (name: string) => options.get(name) ?? [];
  const loadPath = lastValue(options, '--load-snapshot');
  if (loadPath !== undefined) return snapshotRunSettings(loadPath, options, positionals, stdout, traceExitsFilter);
  if (positionals.length > 1) throw new UserError(`one guest file, please; got ${positionals.length}: ${positionals.join(' ')}\n\n${usage}`);
  const memoryBytes = parseSize(lastValue(options, '--mem') ?? '32M', '--mem');
  if (memoryBytes < 0x100000 || memoryBytes % 4096 !== 0 || memoryBytes > MAX_RAM_BYTES) {
    throw new UserError(`--mem: ${lastValue(options, '--mem')} is not usable: give a multiple of 4K between 1M and ${MAX_RAM_BYTES / 0x100000}M (RAM, the firmware and the VMM's tables share the host's 2 GiB)`);
  }
  const defines = parseDefines(all('-D'));
  const includes = all('-I');
  const mode = lastValue(options, '--mode') ?? 'ept';
  if (mode !== 'bare' && mode !== 'ept' && mode !== 'shadow' && mode !== 'pv') {
    throw new UserError(`--mode ${mode}: write ept (the VMM, memory through EPT), shadow (the VMM, shadow page tables), pv (paravirtual paging) or bare (no VMM)`);
  }
  if (options.has('--no-jit') && options.has('--trace-jit')) throw new UserError('--trace-jit shows what the translation cache compiles, and --no-jit turns it off: give one of them');
  const config: MachineConfig = { memoryBytes, mode, loads: [], debugcons: [], serial: stdout, translationCache: !options.has('--no-jit') };
  const shadowCache = lastValue(options, '--shadow-cache');
  if (shadowCache !== undefined) {
    const roots = Number(shadowCache);
    if (!Number.isInteger(roots) || roots < 1 || roots > 1024) throw new UserError(`--shadow-cache ${shadowCache}: give how many page-table roots to keep, 1 (no cache) to 1024`);
    if (mode !== 'shadow') throw new UserError('--shadow-cache applies to --mode shadow only');
    config.shadowCacheRoots = roots;
  }
  const unrestricted = lastValue(options, '--unrestricted');
  if (unrestricted !== undefined) {
    if (unrestricted !== 'on' && unrestricted !== 'off') throw new UserError(`--unrestricted ${unrestricted}: write on (the CPU runs real mode itself) or off (the VMM runs it in virtual-8086 mode)`);
    if (mode !== 'ept' && mode !== 'shadow') throw new UserError(`--unrestricted applies to --mode ept and --mode shadow (a VMM's CPU feature), not to --mode ${mode}`);
    config.unrestrictedGuest = unrestricted === 'on';
  }
  const smp = lastValue(options, '--smp');
  if (smp !== undefined) {
    const cpus = Number(smp);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new UserError(`--smp ${smp}: give how many processors, 1 to ${MAX_CPUS}`);
    if (cpus > 1 && mode === 'pv') throw new UserError(`--smp ${cpus} with --mode pv: paravirtual paging runs one processor for now (--mode ept, shadow or bare)`);
    config.cpus = cpus;
  }

  const reserved = all('--reserve').map((spec) => {
    const m = /^([^:]+):(.+)$/.exec(spec);
    if (!m) throw new UserError(`--reserve ${spec}: write ADDR:SIZE, for example --reserve 0x800000:1M`);
    return { base: parseNumber(m[1], `--reserve ${spec}: address`), length: parseSize(m[2], `--reserve ${spec}: size`), name: `--reserve ${spec}` };
  });
  // Page-aligned, inside RAM above 1 MiB, none overlapping another: else the E820 map would lie.
  try {
    checkReservedRanges(memoryBytes, reserved);
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(e.message);
    throw e;
  }
  config.reserved = reserved.map(({ base, length }) => ({ base, length }));
  // Labels and source lines of every .asm the machine is given, for reports and the debugger.
  const symbolSources: SymbolSource[] = [];
  const fits = (address: number, length: number, what: string) => {
    if (address + length > memoryBytes) {
      throw new UserError(`${what}: ${length} bytes at ${hex(address)} do not fit in ${memoryBytes / 1048576} MiB of RAM (use --mem)`);
    }
  };
  for (const spec of all('--load')) {
    const at = spec.lastIndexOf('@');
    if (at <= 0) throw new UserError(`--load ${spec}: write FILE@ADDR, for example --load kernel.bin@0x100000`);
    const file = spec.slice(0, at);
    const address = parseNumber(spec.slice(at + 1), `--load ${spec}`);
    const { bytes, symbols } = loadGuestFile(file, defines, includes, `--load ${spec}`);
    if (symbols) symbolSources.push(symbols);
    fits(address, bytes.length, `--load ${spec}`);
    config.loads!.push({ address, bytes });
  }
  const entry = lastValue(options, '--entry');
  if (entry !== undefined) config.entry = parseSegOff(entry, '--entry');

  // What the BIOS boots: disks, or a Multiboot kernel loaded after the machine exists.
  const disks = new Map<number, DiskImage>();
  let kernel: { bytes: Uint8Array; name: string } | undefined;
  let bootAsm: RunSettings['bootAsm'];
  const addDisk = (drive: number, path: string, kind?: DiskKind, image?: Uint8Array) => {
    let bytes = image;
    if (bytes === undefined) {
      const loaded = loadGuestFile(path, defines, includes, drive === 0x00 ? '--fda' : drive === 0x80 ? '--hda' : '--hdb');
      bytes = loaded.bytes;
      if (loaded.symbols) symbolSources.push(loaded.symbols);
    }
    // An assembled boot sector may be short (it is padded); an image file must hold whole sectors.
    if (extname(path).toLowerCase() !== '.asm' && bytes.length % SECTOR_BYTES !== 0) {
      throw new UserError(`${path} is ${bytes.length} bytes, not a whole number of 512-byte sectors: is it truncated?`);
    }
    let disk: DiskImage;
    try {
      disk = DiskImage.from(bytes, kind ?? guessKind(bytes.length), path);
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }
    // Assembled sources are built anew each run: only image files take the guest's writes.
    if (options.has('--persist') && extname(path).toLowerCase() !== '.asm') disk.writeThrough = openImageForUpdate(path, '--persist');
    disks.set(drive, disk);
  };
  const file = positionals[0];
  if (file !== undefined) {
    const { bytes, symbols } = loadGuestFile(file, defines, includes);
    if (symbols) symbolSources.push(symbols);
    if (isElf(bytes) || isFlatMultibootKernel(bytes)) kernel = { bytes, name: file };
    else if (extname(file).toLowerCase() === '.asm') {
      addDisk(0x00, file, 'floppy', bytes);
      bootAsm = { name: file, bytes };
    }
    else addDisk(guessKind(bytes.length) === 'floppy' ? 0x00 : 0x80, file, undefined, bytes);
  }
  const fda = lastValue(options, '--fda');
  if (fda !== undefined) addDisk(0x00, fda, 'floppy');
  const hda = lastValue(options, '--hda');
  if (hda !== undefined) addDisk(0x80, hda, 'hard-disk');
  const hdb = lastValue(options, '--hdb');
  if (hdb !== undefined) {
    if (!disks.has(0x80)) throw new UserError(`--hdb ${hdb}: there is no first hard disk; give it as --hda (the BIOS numbers hard disks from 80h)`);
    addDisk(0x81, hdb, 'hard-disk');
  }
  const boot = lastValue(options, '--boot');
  if (boot !== undefined) {
    if (boot !== 'a' && boot !== 'c') throw new UserError(`--boot ${boot}: write a (the floppy) or c (the hard disk)`);
    const drive = boot === 'a' ? 0x00 : 0x80;
    if (!disks.has(drive)) throw new UserError(`--boot ${boot}: there is no ${boot === 'a' ? 'floppy (--fda)' : 'hard disk (--hda)'}`);
    config.bootDrive = drive;
  }
  config.disks = disks;

  const biosPath = lastValue(options, '--bios');
  let builtinFirmware = false;
  const raw = config.entry !== undefined && biosPath === undefined;
  if (!raw) {
    if (memoryBytes < MIN_RAM_BYTES) throw new UserError(`--mem: ${memoryBytes / 1048576} MiB is too little to boot through the BIOS; give at least ${MIN_RAM_BYTES >> 20}M`);
    if (biosPath !== undefined) {
      const { bytes: bios, symbols } = loadGuestFile(biosPath, defines, includes, '--bios');
      // A firmware's labels are where it is mapped: ending at 1 MiB.
      if (symbols) symbolSources.push({ ...symbols, base: 0x100000 - bios.length });
      if (bios.length === 0 || bios.length % 4096 !== 0 || bios.length > 256 * 1024) {
        throw new UserError(`--bios ${biosPath}: the image is ${bios.length} bytes; firmware must be a multiple of 4 KiB up to 256 KiB (64 KiB maps at 0xF0000, 128 KiB at 0xE0000)`);
      }
      config.bios = bios;
    } else {
      config.bios = builtinBios();
      builtinFirmware = true;
    }
  }
  if (raw && (disks.size > 0 || kernel)) throw new UserError('--entry starts a raw image without the BIOS, so there is nothing to boot FILE, --fda or --hda with; drop --entry, or give --bios');
  if (raw && config.loads!.length === 0) throw new UserError(`--entry without --load: nothing to run\n\n${usage}`);
  if (!raw && disks.size === 0 && !kernel && config.loads!.length === 0 && biosPath === undefined) {
    throw new UserError(`nothing to run: give a disk image, a .asm boot sector or a Multiboot kernel, or --load FILE@ADDR with --entry SEG:OFF\n\n${usage}`);
  }

  // Ports: each option's port must be a port, and no two options may want the same one. (Ports
  // of the machine's own devices are refused when the machine is built: see buildMachine.)
  const outputs: OutputFile[] = [];
  const portOptions = new Map<number, string>();
  const claim = (port: number, option: string) => {
    const other = portOptions.get(port);
    if (other !== undefined) {
      throw new UserError(`${option}: port ${portHex(port)} is already given to ${other}: give each debug console and the exit port a port of its own`);
    }
    portOptions.set(port, option);
  };
  for (const spec of all('--debugcon')) {
    const eq = spec.indexOf('=');
    const port = parsePort(eq < 0 ? spec : spec.slice(0, eq), `--debugcon ${spec}`);
    claim(port, `--debugcon ${spec}`);
    if (eq < 0) {
      config.debugcons!.push({ port, sink: stdout });
    } else {
      const path = spec.slice(eq + 1);
      if (path === '') throw new UserError(`--debugcon ${spec}: no file after '=': write PORT=FILE, or PORT alone for stdout`);
      const file = new OutputFile(path, `--debugcon ${spec}`);
      outputs.push(file);
      config.debugcons!.push({ port, sink: (b) => file.write(Uint8Array.of(b)) });
    }
  }
  const exitPort = lastValue(options, '--exit-port');
  if (exitPort !== undefined) {
    config.exitPort = parsePort(exitPort, '--exit-port');
    claim(config.exitPort, `--exit-port ${exitPort}`);
  }
  const dumps = all('--dump-mem').map((spec) => parseDump(spec, memoryBytes, outputs));
  return {
    config,
    bootAsm,
    kernel: kernel && { ...kernel, commandLine: lastValue(options, '--append') ?? '' },
    dumps,
    outputs,
    portOptions,
    symbolSources,
    builtinFirmware,
    ...runControl(options, traceExitsFilter),
  };
}

/** What any run takes, whatever the machine: its bounds, reports, traces, gdb, snapshots and record/replay. */
function runControl(options: Map<string, string[]>, traceExitsFilter: number[] | null) {
  const max = lastValue(options, '--max-instructions');
  return {
    maxInstructions: max === undefined ? Infinity : parseNumber(max, '--max-instructions'),
    stats: options.has('--stats'),
    traceExits: options.has('--trace-exits'),
    traceExitsFilter,
    traceJit: options.has('--trace-jit'),
    gdb: parseGdbListen(lastValue(options, '--gdb'), options.has('-s'), options.has('-S')),
    ...snapshotAndRecordOptions(options),
  };
}

/** --save-on-exit, --record and --replay, which go with any run. */
function snapshotAndRecordOptions(options: Map<string, string[]>): Pick<RunSettings, 'saveOnExit' | 'record' | 'replay'> {
  const save = lastValue(options, '--save-on-exit');
  const record = lastValue(options, '--record');
  const replay = lastValue(options, '--replay');
  if (record !== undefined && replay !== undefined) throw new UserError('--record and --replay: a run either records or replays; give one of them');
  if ((record !== undefined || replay !== undefined) && (options.has('--gdb') || options.has('-s') || options.has('-S'))) {
    throw new UserError('--record and --replay run without gdb (gdb drives the guest as it likes); drop --gdb, -s or -S');
  }
  let log: InputLog | undefined;
  if (replay !== undefined) {
    try {
      log = parseInputLog(new TextDecoder().decode(readInputFile(replay, '--replay')), replay);
    } catch (e) {
      if (e instanceof InputLogError) throw new UserError(e.message);
      throw e;
    }
  }
  return {
    saveOnExit: save === undefined ? undefined : new OutputFile(save, '--save-on-exit'),
    record: record === undefined ? undefined : new OutputFile(record, '--record'),
    replay: replay === undefined ? undefined : { path: replay, log: log! },
  };
}

/**
 * What a snapshot file carries besides the machine: the labels and source lines the run had (in
 * the symbol-map format `minivisor asm --symbols` writes), for the debugger and reports.
 */
interface SnapshotExtra {
  symbols: { map: string; base?: number; prefix?: string }[];
  builtinFirmware: boolean;
}

/** The symbol sources a snapshot file's extra carries; a UserError for ones it cannot read. */
function snapshotSymbols(extra: unknown, path: string): { sources: SymbolSource[]; builtinFirmware: boolean } {
  const e = extra as Partial<SnapshotExtra> | undefined;
  if (e === undefined || e === null) return { sources: [], builtinFirmware: false };
  const fail = (why: string) => new UserError(`--load-snapshot: ${path}'s labels cannot be read (${why}): the snapshot is damaged`);
  if (!Array.isArray(e.symbols)) throw fail('they are missing');
  const sources = e.symbols.map((s): SymbolSource => {
    if (typeof s?.map !== 'string' || (s.base !== undefined && !Number.isInteger(s.base)) || (s.prefix !== undefined && typeof s.prefix !== 'string')) throw fail('one is not a symbol map');
    try {
      return { ...parseSymbolMap(s.map), base: s.base, prefix: s.prefix };
    } catch (err) {
      throw fail(err instanceof Error ? err.message : String(err));
    }
  });
  return { sources, builtinFirmware: e.builtinFirmware === true };
}

/** Writes the machine to the --save-on-exit file, with the run's symbols; says so on stderr. */
export function saveSnapshotFile(machine: Machine, settings: RunSettings): void {
  const file = settings.saveOnExit;
  if (file === undefined) return;
  const symbols = settings.symbolSources.map((s) => ({ map: formatSymbolMap(new Map([...s.symbols, ...s.constants]), s.lineMap, new Set(s.symbols.keys())), base: s.base, prefix: s.prefix }));
  const extra: SnapshotExtra = { symbols, builtinFirmware: settings.builtinFirmware };
  const bytes = encodeSnapshot(takeSnapshot(machine), extra);
  file.write(bytes);
  process.stderr.write(`minivisor: the machine at instruction ${machine.instructions} saved to ${file.path} (${Math.ceil(bytes.length / 1024)} KiB)\n`);
}

/** `run --load-snapshot FILE`: the machine comes from the file; only options about the run itself go with it. */
function snapshotRunSettings(path: string, options: Map<string, string[]>, positionals: string[], stdout: (byte: number) => void, traceExitsFilter: number[] | null): RunSettings {
  const clash = MACHINE_OPTIONS.filter((o) => options.has(o));
  if (positionals.length > 0 || clash.length > 0) {
    const given = [...positionals, ...clash].join(', ');
    throw new UserError(`--load-snapshot ${path} carries the whole machine (memory, mode, disks, firmware): drop ${given}, or boot the guest without --load-snapshot`);
  }
  if (options.has('--replay') || options.has('--record')) throw new UserError('--load-snapshot with --record or --replay: a recording starts from a boot; record or replay without --load-snapshot');
  let decoded: ReturnType<typeof decodeSnapshot>;
  try {
    decoded = decodeSnapshot(readInputFile(path, '--load-snapshot'), path);
  } catch (e) {
    if (e instanceof SnapshotError) throw new UserError(`--load-snapshot: ${e.message}`);
    throw e;
  }
  const { snapshot } = decoded;
  const labels = snapshotSymbols(decoded.extra, path);
  if (options.has('--no-jit') && options.has('--trace-jit')) throw new UserError('--trace-jit shows what the translation cache compiles, and --no-jit turns it off: give one of them');
  let config: MachineConfig;
  try {
    config = configFromRecipe(snapshot.recipe, { serial: stdout, debugcon: () => stdout, translationCache: !options.has('--no-jit') });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`--load-snapshot: ${path} describes a machine that cannot be built: ${e.message}`);
    throw e;
  }
  const memoryBytes = snapshot.recipe.memoryBytes;
  const outputs: OutputFile[] = [];
  const dumps = (options.get('--dump-mem') ?? []).map((spec) => parseDump(spec, memoryBytes, outputs));
  return {
    config,
    snapshot,
    dumps,
    outputs,
    portOptions: new Map(),
    symbolSources: labels.sources,
    builtinFirmware: labels.builtinFirmware,
    ...runControl(options, traceExitsFilter),
  };
}

/** --dump-mem ADDR:LEN=FILE, checked against the guest's memory; its file joins `outputs`. */
function parseDump(spec: string, memoryBytes: number, outputs: OutputFile[]): RunSettings['dumps'][number] {
  const m = /^([^:]+):([^=]+)=(.+)$/.exec(spec);
  if (!m) throw new UserError(`--dump-mem ${spec}: write ADDR:LEN=FILE, for example --dump-mem 0xB8000:4000=screen.bin`);
  const address = parseNumber(m[1], `--dump-mem ${spec}: address`);
  const length = parseSize(m[2], `--dump-mem ${spec}: length`);
  if (address + length > memoryBytes) {
    const range = length === 0 ? hex(address) : `${hex(address)}-${hex(address + length - 1)}`;
    throw new UserError(
      `--dump-mem ${spec}: ${range} (${formatSize(length)}) goes past the end of the guest's memory, ` +
        `${formatSize(memoryBytes)} (${hex(0)}-${hex(memoryBytes - 1)}): give a range inside it, or more memory with --mem`,
    );
  }
  const file = new OutputFile(m[3], `--dump-mem ${spec}`);
  outputs.push(file);
  return { address, length, file };
}

/** The machine's devices by class name, for saying whose port an option asked for. */
const DEVICE_NAMES: Record<string, string> = {
  PicPair: 'the interrupt controllers (8259 PIC pair)',
  Pit8254: 'the timer (8254 PIT)',
  SystemControlPortA: 'system control port A (fast A20 and reset)',
  SystemControlPortB: 'system control port B (speaker and timer gate)',
  Uart16550: 'COM1, the console (16550 UART)',
  KeyboardController: 'the keyboard controller (8042)',
  CmosRtc: 'the CMOS clock (RTC)',
  FirmwareConfig: "the BIOS's firmware configuration interface",
  VirtualDisk: "the BIOS's disk interface",
  IdeChannel: 'the primary IDE channel (ATA disks)',
  DebugConsole: 'a debug console',
  ExitPort: 'the exit port',
};

/**
 * Builds the machine. A port an option asked for that a device of the machine already has is
 * the user's mistake: say which device has it, and which ports are free to use.
 */
export function buildMachine(settings: RunSettings): Machine {
  try {
    const machine = new Machine(settings.config);
    if (settings.kernel) machine.loadMultiboot(settings.kernel.bytes, settings.kernel.name, settings.kernel.commandLine);
    if (settings.snapshot) loadSnapshot(machine, settings.snapshot);
    return machine;
  } catch (e) {
    if (e instanceof PortConflictError) {
      const option = settings.portOptions.get(e.port);
      if (option === undefined) throw e; // two of the machine's own devices: a bug
      // The option's device is normally the one refused; should it have been registered first, the machine's device is.
      const other = e.owner.device === 'DebugConsole' || e.owner.device === 'ExitPort' ? e.refused : e.owner;
      const device = DEVICE_NAMES[other.device] ?? (other.device === 'a device' ? 'a device of the machine' : other.device);
      throw new UserError(
        `${option}: port ${portHex(e.port)} is taken by ${device}, at ${describePorts(other)}: ` +
          'choose a free port (0xe9 is the usual debug console port, 0xf4 the usual exit port)',
      );
    }
    if (e instanceof RangeError) throw new UserError(e.message);
    if (e instanceof SnapshotError) throw new UserError(`--load-snapshot: ${e.message}`);
    throw e;
  }
}

/** --trace-exits and --trace-jit, on stderr. */
export async function installTraces(machine: Machine, settings: RunSettings): Promise<void> {
  if (settings.traceExits && machine.vcpu === null) {
    process.stderr.write('minivisor: --trace-exits: there is no VMM in --mode bare, so nothing exits (run under ept, shadow or pv to see VM exits)\n');
  }
  if (settings.traceExits && machine.vcpu) {
    const cpu = machine.cpu;
    const only = settings.traceExitsFilter;
    machine.vcpu.exitObservers.push((exit) => {
      if (only === null || only.includes(exit.reason)) process.stderr.write(`exit ${describeExit(exit)} at ${cpu.location()}\n`);
    });
  }
  if (settings.traceJit) await traceTranslations(machine, (text) => process.stderr.write(text));
}

/** Instructions per slice of the run: between slices, terminal input and output get their turn. */
const SLICE = 1 << 22;

/**
 * Runs the machine in slices, letting the terminal's input in between, until the guest stops.
 * With a recorder, each slice boundary may take a state check; with a replayer, slices end where
 * the log has an input or a check, and the recorded waits replace real ones.
 */
async function runWithConsole(machine: Machine, terminal: TerminalConsole, maxInstructions: number, recorder?: Recorder, replayer?: Replayer): Promise<RunOutcome> {
  let left = maxInstructions;
  for (;;) {
    let slice = Math.min(left, SLICE);
    if (replayer !== undefined) {
      // What the recording took here comes back first (a wait moves the machine on).
      replayer.beforeRun();
      // Never past the recorded end (one instruction more, for a guest that ended itself, to see it end there):
      // a replay that went another way stops there and says so.
      const end = replayer.log.end;
      if (end !== null) left = Math.min(left, end.instructions - machine.instructions + (end.outcome.kind === 'stopped' || end.outcome.kind === 'limit' ? 0 : 1));
      if (left <= 0) return { kind: 'limit' };
      slice = Math.min(left, SLICE, replayer.stopAt - machine.instructions);
    }
    // A replay waits where the recording waited (its log says so), with the recorded waits in place of real ones.
    const waitForInput = replayer !== undefined ? replayer.waitForInput : terminal.mayReceiveInput;
    recorder?.slice(waitForInput);
    const started = machine.instructions;
    const outcome = machine.run(slice, { waitForInput });
    left -= machine.instructions - started;
    replayer?.ran();
    terminal.flush();
    recorder?.between();
    if (terminal.interruptedBy !== null) return { kind: 'stopped', detail: terminal.interruptedBy };
    if (outcome.kind === 'idle' && replayer !== undefined) {
      if (!replayer.inputDue) {
        replayer.waitedWhereTheRecordingDidNot();
        return outcome;
      }
      continue; // (the loop's top gives the recorded wait back)
    }
    if (outcome.kind === 'idle') {
      // Waiting for an interrupt that only the user can cause: let real time pass.
      await new Promise((resolve) => setTimeout(resolve, IDLE_WAIT_MS));
      machine.passIdleTime(IDLE_WAIT_MS * 1e6);
      continue;
    }
    if (outcome.kind !== 'limit' || left <= 0) return outcome;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export const runCommand: Command = {
  usage: USAGE,
  async run(args) {
    if (args.includes('--help')) {
      console.log(USAGE);
      return 0;
    }
    const terminal = new TerminalConsole();
    const settings = parseRunArguments(args, terminal.output);
    const machine = buildMachine(settings);
    await installTraces(machine, settings);
    let replayStatus = 0;
    const recorder = settings.record !== undefined ? new Recorder(machine) : undefined;
    let replayer: Replayer | undefined;
    try {
      if (settings.replay !== undefined) replayer = new Replayer(machine, settings.replay.log, settings.replay.path);
    } catch (e) {
      if (e instanceof InputLogError) throw new UserError(`--replay: ${e.message}`);
      throw e;
    }
    // The port is taken before the guest starts: one in use is the user's error, said at once.
    const gdbServer = settings.gdb ? await listenForGdb(settings.gdb) : null;
    let outcome: RunOutcome;
    let seconds: number;
    const files = [...settings.outputs, ...[settings.saveOnExit, settings.record].filter((f): f is OutputFile => f !== undefined)];
    try {
      // Output files are opened (created) before the guest starts: a bad path must not cost the run.
      for (const file of files) file.open();
      const started = performance.now();
      terminal.attach(machine, replayer === undefined);
      try {
        if (gdbServer !== null && settings.gdb !== null) {
          const symbols = new SymbolTable();
          for (const source of settings.symbolSources) symbols.add(source);
          if (settings.builtinFirmware) symbols.add({ ...builtinBiosSymbols(), base: 0xf0000, prefix: 'bios.' });
          const end = await runUnderGdb({ machine, symbols, server: gdbServer, listen: settings.gdb, terminal, exitStatus: exitStatusOf, maxInstructions: settings.maxInstructions });
          outcome = end.kind === 'killed' ? { kind: 'stopped', detail: 'killed by gdb' } : end.outcome;
        } else {
          outcome = await runWithConsole(machine, terminal, settings.maxInstructions, recorder, replayer);
        }
      } finally {
        terminal.detach();
      }
      seconds = (performance.now() - started) / 1000;
      for (const d of settings.dumps) d.file.write(readPhysicalMemory(machine.phys, d.address, d.length));
      if (recorder !== undefined) settings.record!.write(new TextEncoder().encode(formatInputLog(recorder.finish(outcome))));
      if (replayer !== undefined) {
        replayer.finish(outcome, settings.maxInstructions);
        replayStatus = reportReplay(replayer, settings.replay!.path, machine, outcome);
        // A recording stopped from outside (Ctrl-C, a signal) is replayed to that count: it ends as the recording did.
        const end = replayer.log.end;
        if (replayer.divergence === null && end !== null && outcome.kind === 'limit' && (end.outcome.kind === 'stopped' || end.outcome.kind === 'limit')) outcome = end.outcome;
        // One that went another way stopped at the recording's end, not at a --max-instructions.
        else if (replayer.divergence !== null && outcome.kind === 'limit' && !replayer.stoppedEarly) outcome = { kind: 'stopped', detail: "the replay, at the recording's end" };
      }
      saveSnapshotFile(machine, settings);
    } finally {
      for (const file of files) file.close();
      gdbServer?.close(); // (closed already after a run under gdb; not when opening a file failed)
    }
    const screen = terminal.unseenScreen(machine);
    if (screen.length > 0) process.stderr.write(`minivisor: the VGA text screen at the end of the run:\n${screen.map((l) => '  | ' + l).join('\n')}\n`);
    if (settings.stats) process.stderr.write(formatStats(machine, seconds));
    const status = report(machine, outcome, settings);
    return replayStatus !== 0 ? replayStatus : status;
  },
};

/** Says how a replay went, on stderr; returns EXIT.replayDiverged when it differed from the recording, else 0. */
function reportReplay(replayer: Replayer, path: string, machine: Machine, outcome: RunOutcome): number {
  if (replayer.divergence !== null) {
    process.stderr.write(`minivisor: replay of ${path} DIFFERS from the recording: ${replayer.divergence}\n`);
    return EXIT.replayDiverged;
  }
  if (replayer.stoppedEarly) {
    process.stderr.write(`minivisor: replay of ${path}: the same run up to instruction ${machine.instructions}, where --max-instructions stopped it (the recording goes on to ${replayer.log.end!.instructions}); ${replayer.checked} state checks matched\n`);
    return 0;
  }
  process.stderr.write(
    `minivisor: replay of ${path}: the same run: ${machine.instructions} instructions, ${replayer.inputsApplied} input${replayer.inputsApplied === 1 ? '' : 's'} given back, ` +
      `${replayer.checked} state check${replayer.checked === 1 ? '' : 's'} matched, ended as recorded (${describeOutcome(outcome)})\n`,
  );
  return 0;
}

/**
 * Under --mode pv, a guest that is not written for paravirtual paging fails in ways that do not
 * say so (a kernel panic on a #GP, a triple fault): when the VMM refused it something, say what.
 */
function paravirtualHint(machine: Machine): string {
  const pv = machine.vcpu?.pv;
  if (!pv) return '';
  const hypercalls = pv.mmu.stats.rejected;
  const refused = pv.refusedInstructions + pv.refusedWrites + hypercalls;
  if (refused === 0) return '';
  const last = pv.lastRefusedInstruction || machine.vcpu!.lastRefusal || 'a write to a pinned page table';
  return (
    `minivisor: note: under --mode pv the VMM refused ${refused} thing${refused === 1 ? '' : 's'} the guest did (the last: ${last}), each as #GP(0) or an error code.\n` +
    '  A guest not written for paravirtual paging (docs/hypercalls.md) cannot run under --mode pv: try --mode ept.\n'
  );
}

/** Says how the guest ended, on stderr, and returns the exit status for it. */
function report(machine: Machine, outcome: RunOutcome, settings: RunSettings): number {
  // The processor whose stop ended the run (with several, it is named).
  const stopped = machine.lastRunProcessor;
  const cpu = stopped.cpu;
  const at = (detail = false) => (machine.processors.length > 1 ? `cpu ${stopped.index}, ` : '') + cpu.location(detail);
  // (A replay of a run that --max-instructions stopped stops there too, without the option.)
  const maxInstructions = Number.isFinite(settings.maxInstructions) ? settings.maxInstructions : machine.instructions;
  process.stderr.write(paravirtualHint(machine));
  switch (outcome.kind) {
    case 'exit':
      break;
    case 'halted':
    case 'idle':
      process.stderr.write(`minivisor: guest halted (${outcome.kind === 'halted' ? outcome.detail : 'waiting for input'}) at ${at()}\n`);
      break;
    case 'no-boot':
      process.stderr.write(`minivisor: nothing to boot: ${outcome.detail}\n`);
      break;
    case 'reset':
      process.stderr.write(`minivisor: ${outcome.detail} (minivisor ends the run there, as QEMU with -no-reboot)\n  at ${at()}\n`);
      break;
    case 'shutdown': {
      process.stderr.write(`minivisor: guest shut down: ${outcome.detail}\n`);
      const chain = cpu.faultChain;
      if (chain.shutdown) {
        const symbols = new SymbolTable();
        for (const source of settings.symbolSources) symbols.add(source);
        const lines = explainFaultChain(machine, chain.events, (linear) => symbols.describe(linear));
        process.stderr.write(`  how it came to that (each exception raised while delivering the one before):\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
        process.stderr.write('  (minivisor debug stops at the first of these, where info fault, x and info idt can look around)\n');
      }
      process.stderr.write(`  last instruction at ${at(true)}\n${indent(machine.describeRegisters(stopped))}\n`);
      break;
    }
    case 'unmapped-fetch':
      process.stderr.write(`minivisor: guest stopped: ${outcome.detail}\n  at ${at()}\n${indent(machine.describeRegisters(stopped))}\n`);
      break;
    case 'vmexit':
    case 'stopped':
    case 'debug':
      process.stderr.write(`minivisor: guest stopped: ${outcome.kind === 'debug' ? 'by the debugger' : outcome.detail} at ${at()}\n`);
      break;
    case 'limit':
      process.stderr.write(`minivisor: stopped after ${maxInstructions} instructions (--max-instructions); the guest was at ${at()}\n${indent(machine.describeRegisters(stopped))}\n`);
      break;
  }
  if (outcome.kind !== 'exit') process.stderr.write(unloadedSectorsHint(machine, settings.bootAsm));
  return exitStatusOf(outcome);
}

/**
 * The BIOS loads only a disk's first sector: a .asm of several sectors whose run went wrong may
 * have jumped into the rest, which is on the floppy but (unless the guest read it) not in memory.
 */
function unloadedSectorsHint(machine: Machine, boot: RunSettings['bootAsm']): string {
  if (boot === undefined || boot.bytes.length <= SECTOR_BYTES) return '';
  const rest = boot.bytes.subarray(SECTOR_BYTES, 2 * SECTOR_BYTES);
  const inMemory = readPhysicalMemory(machine.phys, 0x7c00 + SECTOR_BYTES, rest.length);
  if (Buffer.from(inMemory).equals(Buffer.from(rest))) return '';
  const sectors = Math.ceil(boot.bytes.length / SECTOR_BYTES);
  return (
    `minivisor: note: ${boot.name} is ${sectors} sectors, and the BIOS loads only the first (the boot sector, at 0000:7C00).
` +
    `  The other ${sectors - 1} ${sectors === 2 ? 'is' : 'are'} on the floppy but not at 0000:7E00: read ${sectors === 2 ? 'it' : 'them'} with INT 13h (guests/loader/loader.asm does).
`
  );
}

/** The exit status for a run that ended so (the table in exit-status.ts); gdb hears it as the exit code. */
export function exitStatusOf(outcome: RunOutcome): number {
  switch (outcome.kind) {
    case 'exit':
      return outcome.status;
    case 'halted':
    case 'idle':
      return EXIT.halted;
    case 'no-boot':
      return EXIT.noBoot;
    case 'reset':
      return EXIT.reset;
    case 'shutdown':
      return EXIT.tripleFault;
    case 'unmapped-fetch':
      return EXIT.unmappedFetch;
    case 'vmexit':
    case 'stopped':
    case 'debug':
      return outcome.kind === 'stopped' && /^(Ctrl-C|SIGINT|SIGTERM)$/.test(outcome.detail) ? EXIT.interrupted : EXIT.stopped;
    case 'limit':
      return EXIT.limit;
  }
}

function indent(text: string): string {
  return text.split('\n').map((l) => '  ' + l).join('\n');
}
