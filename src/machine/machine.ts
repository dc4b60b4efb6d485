/**
 * A PC: memory slots laid out as a PC's (RAM around the 640 KiB-1 MiB hole, the BIOS ROM at the
 * top of the first megabyte and aliased below 4 GiB), devices on the port bus, disks, the
 * firmware configuration the BIOS reads, and the run loop that drives the CPU in virtual time
 * and turns its stops into results a user can read.
 */
import { compileBlock } from '../jit/translation-cache.ts';
import { Cpu } from '../cpu/cpu.ts';
import { Processor, type SliceEnd } from './processor.ts';
import { IoBus } from '../cpu/io-bus.ts';
import { MAX_HOST_BYTES, PhysicalMemory, hex } from '../cpu/physical-memory.ts';
import { ATTR_REAL_MODE_CODE, CS, S_EIP } from '../cpu/state.ts';
import { VirtualClock, type TimedDevice } from './clock.ts';
import { DebugConsole } from './devices/debugcon.ts';
import { ExitPort } from './devices/exit-port.ts';
import { FirmwareConfig, FW_BOOT, FW_DRIVES, FW_E820, FW_MEMORY, FW_MP_TABLE, FW_MULTIBOOT, FW_CFG_SELECT, ItemWriter } from './devices/fw-cfg.ts';
import { buildMpTable, MP_TABLE_EBDA_OFFSET } from './mp-table.ts';
import { SystemControlPortA } from './devices/port92.ts';
import { PicPair } from './devices/pic8259.ts';
import { Pit8254 } from './devices/pit8254.ts';
import { SystemControlPortB } from './devices/port61.ts';
import { Uart16550 } from './devices/uart16550.ts';
import { KeyboardController } from './devices/kbc8042.ts';
import { CmosRtc } from './devices/cmos-rtc.ts';
import { Typist } from './typist.ts';
import { VgaText, VGA_TEXT_BASE, VGA_TEXT_SIZE, CRTC_INDEX, INPUT_STATUS_1 } from './devices/vga-text.ts';
import { VirtualDisk, VIRTUAL_DISK_PORT } from './devices/virtual-disk.ts';
import { IdeChannel, IDE_PRIMARY_COMMAND, IDE_PRIMARY_CONTROL, IDE_PRIMARY_IRQ } from './devices/ide-channel.ts';
import { LocalApic, LAPIC_BASE, LAPIC_SIZE } from './devices/local-apic.ts';
import { IoApic, IOAPIC_BASE, IOAPIC_SIZE } from './devices/io-apic.ts';
import { ApicBus } from './devices/apic-bus.ts';
import { IsaInterrupts } from './interrupt-routing.ts';
import type { DiskImage } from './disk-image.ts';
import { Ept } from '../vmm/ept.ts';
import { Vcpu } from '../vmm/vcpu.ts';
import { ShadowMmu } from '../vmm/shadow.ts';
import { translateAddress, type Translation } from '../vmm/translate.ts';
import { loadMultibootKernel, writeMultibootInfo, type LoadedKernel } from './multiboot.ts';
import { snapshotRules } from '../cpu/state-graph.ts';
import { BIOS_ALIAS_SLOT, BIOS_SLOT, EBDA_BASE, contiguousExtendedBytes, pcMemoryLayout, type E820Entry } from './pc-memory.ts';

/**
 * How the guest runs: on the bare machine (no VMM: the CPU in root mode, guest-physical is
 * host-physical), or under the VMM in VMX non-root mode with memory through EPT.
 */
export type MemoryMode = 'bare' | 'ept' | 'shadow' | 'pv';

/** How many guest page-table roots the shadow-table cache keeps by default. */
export const DEFAULT_SHADOW_CACHE_ROOTS = 8;

export interface MachineConfig {
  /** Bytes of RAM. */
  memoryBytes: number;
  /** 'bare' (default), 'ept', 'shadow' or 'pv' (paravirtual paging, for guests written for it). */
  mode?: MemoryMode;
  /** Shadow mode: how many guest page-table roots the shadow-table cache keeps (1: no cache, only the root in use). */
  shadowCacheRoots?: number;
  /**
   * 'ept' and 'shadow': whether the CPU has VMX's "unrestricted guest" (default true). Without it
   * the VMM runs real mode in virtual-8086 mode and paging-off code on an identity page table,
   * emulating what those cannot hold, as KVM did before it (src/vmm/restricted-guest.ts).
   */
  unrestrictedGuest?: boolean;
  /** Where the VMM's console (the console-write hypercall) goes; default: with COM1's output. */
  console?: (bytes: Uint8Array) => void;
  /** Ranges above 1 MiB taken out of RAM and reported reserved in the E820 map. */
  reserved?: { base: number; length: number }[];
  /** A firmware image (a multiple of 4 KiB, at most 256 KiB), mapped to end at 1 MiB and below 4 GiB. */
  bios?: Uint8Array;
  /** Raw images loaded into RAM before the start. */
  loads?: { address: number; bytes: Uint8Array }[];
  /** Where to start in real mode; without it, the reset vector F000:FFF0. */
  entry?: { segment: number; offset: number };
  /** Disks by BIOS drive number (0x00 the first floppy, 0x80 the first hard disk). */
  disks?: Map<number, DiskImage>;
  /** The drive the BIOS boots (default: the first hard disk, else the first floppy); see also loadMultiboot. */
  bootDrive?: number;
  /** Debug-console ports and where their bytes go. */
  debugcons?: { port: number; sink: (byte: number) => void }[];
  /** A port whose write ends the run with status (value << 1) | 1. */
  exitPort?: number;
  /** Where COM1's output goes (default: nowhere). */
  serial?: (byte: number) => void;
  /** False: run with the interpreter alone, no blocks compiled to JavaScript (src/jit/translation-cache.ts). */
  translationCache?: boolean;
  /** Processors (1 to MAX_CPUS, default 1): the first boots, the others wait for INIT and STARTUP IPIs. */
  cpus?: number;
}

export const MAX_CPUS = 8;
/**
 * How long a guest halted waiting for the user waits, in real milliseconds, before its virtual
 * time moves on that much (Machine.passIdleTime): for the front ends that run it (run, debug).
 */
export const IDLE_WAIT_MS = 10;
/** Instructions each processor runs in its turn when there are several (100 µs of virtual time). */
export const SMP_QUANTUM = 10_000;

/** A round of turns, one per processor in order (Machine.runRound). */
interface Round {
  /** Each processor's turn: this many instructions of virtual time. */
  quantum: number;
  /** The processor whose turn is going on or comes next. */
  next: number;
  /** Where that processor's turn ends (its instruction count), once begun; -1 before. */
  turnEnd: number;
  /** Whether some processor ran to the end of its turn without halting. */
  awake: boolean;
  /** The processors that halted in their turn with interrupts on. */
  waitingForInterrupts: Processor[];
}

function newRound(quantum: number): Round {
  return { quantum, next: 0, turnEnd: -1, awake: false, waitingForInterrupts: [] };
}

export type RunOutcome =
  | { kind: 'halted'; detail: string } // HLT with nothing to wake the CPU
  | { kind: 'exit'; status: number } // the guest wrote to the exit port
  | { kind: 'shutdown'; detail: string } // triple fault
  | { kind: 'reset'; detail: string } // the guest reset the machine (port 0x92, the keyboard controller)
  | { kind: 'no-boot'; detail: string } // the BIOS found nothing to boot
  | { kind: 'unmapped-fetch'; detail: string } // ran off into memory with nothing behind it
  | { kind: 'vmexit'; detail: string } // a sensitive instruction was intercepted (a VMM is attached)
  | { kind: 'stopped'; detail: string } // something outside the guest asked it to stop
  | { kind: 'debug' } // the debugger stopped it (src/debugger: a breakpoint, a step, a catch)
  | { kind: 'idle' } // halted waiting for an interrupt, with waitForInput (see RunOptions)
  | { kind: 'limit' }; // the instruction budget ran out

/** An input from outside the machine (see Machine.applyInput), at the instruction count it came at. */
export type MachineInput = { at: number; kind: 'type'; text: string } | { at: number; kind: 'idle'; ns: number };

export interface RunOptions {
  /**
   * When the CPU halts waiting for an interrupt: false (the default) jumps virtual time to the
   * next device event, so a run is deterministic; true returns { kind: 'idle' }, so that a
   * caller with a user at the keyboard can wait for input in real time (see passIdleTime).
   */
  waitForInput?: boolean;
}

/** Host memory beyond RAM for firmware images. */
const ROM_HOST_BYTES = 256 * 1024;

/** Host memory for EPT tables: one page table per 2 MiB of guest memory, plus the upper levels. */
function eptHostBytes(memoryBytes: number): number {
  return (Math.ceil(memoryBytes / (2 << 20)) + 16) * 4096;
}

/** The host memory a machine with `memoryBytes` of RAM needs: RAM, firmware, the VMM's tables. */
function hostBytesFor(memoryBytes: number): number {
  return memoryBytes + ROM_HOST_BYTES + eptHostBytes(memoryBytes);
}

/** The most RAM a machine can have, in whole MiB: all it needs must fit the host's frame pool. */
export const MAX_RAM_BYTES = (() => {
  let bytes = Math.floor((MAX_HOST_BYTES - ROM_HOST_BYTES) / 0x100000) * 0x100000;
  while (hostBytesFor(bytes) > MAX_HOST_BYTES) bytes -= 0x100000;
  return bytes;
})();

export class Machine {
  readonly phys: PhysicalMemory;
  readonly io = new IoBus();
  /** The processors; the first is the bootstrap processor. */
  readonly processors: Processor[];
  /** The bootstrap processor's CPU (processors[0].cpu). */
  readonly cpu: Cpu;
  /** The processor that is running now: an access to the local APIC's page reaches its APIC, and devices that need the CPU to look again stop it. */
  private runningProcessor: Processor;
  readonly clock: VirtualClock;
  readonly e820: E820Entry[];
  readonly firmwareConfig = new FirmwareConfig((reason) => {
    this.endedBy = { kind: 'no-boot', detail: reason };
    this.runningProcessor.cpu.stop('request', 'no bootable disk');
  });
  readonly disks: Map<number, DiskImage>;
  readonly pic: PicPair;
  readonly pit: Pit8254;
  /** COM1, the console. */
  readonly serial: Uart16550;
  readonly vga: VgaText;
  readonly keyboard: KeyboardController;
  readonly cmos: CmosRtc;
  /** The primary IDE channel: the first hard disk (drive 80h) as master, the second (81h) as slave. */
  readonly ide: IdeChannel;
  /** The bootstrap processor's local APIC, the IOAPIC, and the bus between them. */
  readonly localApic: LocalApic;
  readonly ioApic: IoApic;
  readonly apicBus: ApicBus;
  /** The ISA IRQ lines, to the 8259 pair and the IOAPIC. */
  readonly isa: IsaInterrupts;
  private readonly typist: Typist;
  /** Devices with timed behaviour: the run loop stops the CPU when one of them is due. */
  private readonly timedDevices: TimedDevice[] = [];
  /** For each timed device: whether its events can reach the CPU now (a halted CPU waits only for those). */
  private readonly timedDeviceWakes: (() => boolean)[] = [];
  private exitStatus: number | null = null;
  /** How the machine ended, when a device ended it: the guest reset it, or the BIOS found nothing to boot. */
  private endedBy: RunOutcome | null = null;
  /** The VMM's vCPU of the bootstrap processor; null on the bare machine. */
  readonly vcpu: Vcpu | null;

  constructor(readonly config: MachineConfig) {
    const biosBytes = config.bios?.length ?? 0x10000;
    this.phys = new PhysicalMemory(hostBytesFor(config.memoryBytes));
    const layout = pcMemoryLayout({ ramBytes: config.memoryBytes, reserved: config.reserved }, biosBytes);
    this.phys.allocateHost(config.memoryBytes); // RAM's host addresses equal its guest-physical ones
    for (const slot of layout.ramSlots) this.phys.setUserMemoryRegion(slot);
    this.e820 = layout.e820;
    const cpuCount = config.cpus ?? 1;
    if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > MAX_CPUS) throw new RangeError(`a machine has 1 to ${MAX_CPUS} processors, not ${cpuCount}`);
    const now = () => this.clock.nowNs();
    const stopForDevice = () => this.runningProcessor.cpu.stop('device');
    this.pic = new PicPair(() => this.cpu.raiseInterruptLine()); // the 8259's INTR: the BSP's LINT0
    this.processors = Array.from({ length: cpuCount }, (_, i) => new Processor(i, this.phys, this.io, this.pic, now, stopForDevice));
    this.cpu = this.processors[0].cpu;
    this.runningProcessor = this.processors[0];
    if (cpuCount > 1) {
      Cpu.joinCluster(this.processors.map((p) => p.cpu));
      for (const { cpu } of this.processors) cpu.yieldsOnSpin = true;
    }
    for (const { cpu } of this.processors) if (config.translationCache !== false) cpu.compiler = compileBlock;
    // Virtual time: the processors run in turn, each as many instructions per turn, so time is
    // their average count (with one processor, its count).
    this.clock = new VirtualClock(cpuCount === 1 ? () => this.cpu.retired : () => Math.floor(this.retiredByAll() / cpuCount));
    if (config.bios) this.mapFirmware(config.bios);
    for (const { address, bytes } of config.loads ?? []) this.phys.load(address, bytes);
    this.disks = config.disks ?? new Map();

    this.io.register(0x20, 2, this.pic);
    this.io.register(0xa0, 2, this.pic);
    this.io.register(0x4d0, 2, this.pic);
    this.localApic = this.processors[0].apic;
    this.apicBus = new ApicBus(this.processors.map((p) => p.apic));
    this.apicBus.processors = {
      init: (apic) => this.initProcessor(this.processorOf(apic)),
      startup: (apic, vector) => this.processorOf(apic).startup(vector),
    };
    this.ioApic = new IoApic(cpuCount, this.apicBus); // the IOAPIC's ID follows the CPUs' (as SeaBIOS numbers them)
    this.apicBus.ioApics.push(this.ioApic);
    // Every processor's local APIC is at the same address: an access goes to the APIC of the CPU that makes it.
    this.phys.mapMmio(LAPIC_BASE, LAPIC_SIZE, {
      read: (address, size) => this.runningProcessor.apic.read(address, size),
      write: (address, size, value) => this.runningProcessor.apic.write(address, size, value),
    });
    this.phys.mapMmio(IOAPIC_BASE, IOAPIC_SIZE, this.ioApic);
    this.isa = new IsaInterrupts(this.pic, this.ioApic, this.processors[0].pins);
    for (const p of this.processors) this.addTimedDevice(p.apic, () => p.apic.timerCanInterrupt);
    // A reprogrammed timer may be due sooner than the machine planned: end the slice.
    this.pit = new Pit8254(now, this.isa.line(0), stopForDevice);
    this.io.register(0x40, 4, this.pit);
    this.io.register(0x61, 1, new SystemControlPortB(this.pit, now));
    this.addTimedDevice(this.pit, () => this.isa.canInterrupt(0));
    this.io.register(0x92, 1, new SystemControlPortA(this.cpu, () => this.reset('the guest reset the machine through port 0x92')));
    const serial = config.serial;
    this.serial = new Uart16550(0x3f8, this.isa.line(4), serial === undefined ? () => {} : (byte) => this.outputMuted || serial(byte));
    this.io.register(0x3f8, 8, this.serial);
    this.vga = new VgaText();
    this.phys.mapMmio(VGA_TEXT_BASE, VGA_TEXT_SIZE, this.vga);
    this.io.register(CRTC_INDEX, 2, this.vga.ports);
    this.io.register(INPUT_STATUS_1, 1, this.vga.ports);
    this.keyboard = new KeyboardController({
      irq: this.isa.line(1),
      onA20: (enabled) => this.cpu.setA20(enabled),
      onReset: () => this.reset('the guest reset the machine through the keyboard controller'),
      isA20Enabled: () => this.cpu.a20Enabled,
    });
    this.io.register(0x60, 1, this.keyboard);
    this.io.register(0x64, 1, this.keyboard);
    // The RTC starts at a fixed date (CmosRtc's default), so two runs read the same clock.
    this.cmos = new CmosRtc(now, { irq: this.isa.line(8), onReprogram: stopForDevice });
    this.cmos.setMemorySize(config.memoryBytes);
    const floppies = [...this.disks.keys()].filter((d) => d < 0x80).length;
    if (floppies > 0) this.cmos.setFloppyDrives(floppies, this.disks.get(0)?.geometry.cmosType || 4);
    this.io.register(0x70, 2, this.cmos);
    this.addTimedDevice(this.cmos, () => this.isa.canInterrupt(8));
    this.typist = new Typist(this.keyboard, () => (this.pic.master.initialized && this.isa.canInterrupt(1)) || this.ioApic.isUnmasked(1), this.serial, now);
    this.addTimedDevice(this.typist);
    this.io.register(FW_CFG_SELECT, 3, this.firmwareConfig); // 0x510-0x512
    this.io.register(VIRTUAL_DISK_PORT, 4, new VirtualDisk(this.phys, this.disks)); // a dword port: 0x518-0x51B
    // The same disks on the IDE cable: the BIOS's INT 13h and a guest's ATA driver see one image.
    this.ide = new IdeChannel(this.disks.get(0x80), this.disks.get(0x81), this.isa.line(IDE_PRIMARY_IRQ));
    this.io.register(IDE_PRIMARY_COMMAND, 8, this.ide);
    this.io.register(IDE_PRIMARY_CONTROL, 1, this.ide);
    for (const { port, sink } of config.debugcons ?? []) this.io.register(port, 1, new DebugConsole(port, (byte) => this.outputMuted || sink(byte)));
    if (config.exitPort !== undefined) {
      this.io.register(config.exitPort, 1, new ExitPort(config.exitPort, (status) => {
        this.exitStatus = status;
        this.runningProcessor.cpu.stop('request', 'exit port');
      }));
    }
    this.describeToFirmware();
    // The initial registers go in before the VMM takes its first copy of the guest state (KVM_SET_REGS before KVM_RUN).
    if (config.entry) {
      this.cpu.setRealModeSegment(CS, config.entry.segment, ATTR_REAL_MODE_CODE);
      this.cpu.st[S_EIP] = config.entry.offset;
    }
    const mode = config.mode ?? 'bare';
    const console = (bytes: Uint8Array) => this.outputMuted || (config.console ?? ((all: Uint8Array) => all.forEach((b) => config.serial?.(b))))(bytes);
    if (cpuCount > 1 && mode === 'pv') {
      throw new RangeError('pv mode runs one processor for now: several processors run bare, under EPT or on shadow page tables');
    }
    if (mode === 'ept') {
      // One EPT for the VM, shared by its vCPUs.
      const ept = new Ept(this.phys, () => this.phys.hostMemory.allocateFrame());
      for (const p of this.processors) p.vcpu = new Vcpu(p.cpu, p.pins, { console }, this.phys, { ept }, config.unrestrictedGuest ?? true);
      // Slots that change while the guest runs: the EPT drops what it mapped, and the TLBs too (INVEPT).
      this.phys.onSlotChange = (slot) => {
        ept.unmap(slot.guestPhysAddr, slot.size);
        for (const p of this.processors) p.vcpu?.invalidateEpt();
      };
    } else if (mode === 'pv') {
      this.processors[0].vcpu = new Vcpu(this.cpu, this.processors[0].pins, { console }, this.phys, { pvRamBytes: config.memoryBytes });
    } else if (mode === 'shadow') {
      // One shadow MMU for the VM (KVM's kvm_mmu): vCPUs on the same guest root share its shadow,
      // and a change any of them makes to the shadows reaches every TLB.
      const mmu = new ShadowMmu(this.phys, this.phys.hostMemory, config.shadowCacheRoots ?? DEFAULT_SHADOW_CACHE_ROOTS, () => {
        for (const p of this.processors) p.cpu.flushTlb();
      });
      for (const p of this.processors) {
        p.vcpu = new Vcpu(p.cpu, p.pins, { console }, this.phys, { shadowMmu: mmu, holder: p.index }, config.unrestrictedGuest ?? true);
      }
      // Slots that change while the guest runs: every shadow goes (they are rebuilt on demand).
      this.phys.onSlotChange = () => mmu.reset();
    }
    // Each vCPU's local APIC is the VMM's to emulate (KVM's in-kernel LAPIC), with APICv.
    for (const p of this.processors) p.vcpu?.attachLocalApic(p.apic);
    this.vcpu = this.processors[0].vcpu;
  }

  /**
   * After a snapshot's state was written in (snapshot.ts): the caches built from the old state
   * go (each CPU's TLB, decoded and compiled blocks, the pages they protected), and so does how
   * the last run ended: the machine goes on from the snapshot.
   */
  afterStateLoad(): void {
    this.exitStatus = null;
    this.endedBy = null;
    for (const { cpu } of this.processors) {
      cpu.blocks.flush(this.phys.codePages, cpu.codeBit);
      cpu.flushTlb();
    }
    this.phys.codePages.fill(0);
  }

  /** The processor that ran last: the one whose stop ended the last run. */
  get lastRunProcessor(): Processor {
    return this.runningProcessor;
  }

  private processorOf(apic: LocalApic): Processor {
    return this.processors.find((p) => p.apic === apic)!;
  }

  /** Instructions run by every processor, idle time not counted (see Cpu.idleInstructions). */
  get instructionsRun(): number {
    let n = 0;
    for (const p of this.processors) n += p.cpu.instructions - p.cpu.idleInstructions;
    return n;
  }

  /** Instructions retired by every processor (with one, the CPU's count), their idle time included: virtual time. */
  get instructions(): number {
    let n = 0;
    for (const p of this.processors) n += p.cpu.instructions;
    return n;
  }

  private retiredByAll(): number {
    let n = 0;
    for (const p of this.processors) n += p.cpu.retired;
    return n;
  }

  /** Firmware ends at 1 MiB (0xF0000 for 64 KiB, 0xE0000 for 128 KiB) and is aliased, read-only, at the top of 4 GiB. */
  private mapFirmware(image: Uint8Array): void {
    const rom = this.phys.mapRom(BIOS_SLOT, 0x100000 - image.length, image, 'BIOS ROM');
    this.phys.setUserMemoryRegion({ ...rom, slot: BIOS_ALIAS_SLOT, guestPhysAddr: 2 ** 32 - rom.size, label: 'BIOS ROM (alias below 4 GiB)' });
  }

  /** Fills the firmware configuration items the BIOS reads (docs/firmware-interface.md). */
  private describeToFirmware(): void {
    const fw = this.firmwareConfig;
    const e820 = new ItemWriter().u32(this.e820.length);
    for (const e of this.e820) e820.u64(e.base).u64(e.length).u32(e.type);
    fw.set(FW_E820, e820.build());
    fw.set(FW_MEMORY, new ItemWriter().u32(EBDA_BASE / 1024).u32(contiguousExtendedBytes(this.e820) / 1024).build());
    const drives = new ItemWriter().u8(this.disks.size);
    for (const [number, disk] of [...this.disks].sort((a, b) => a[0] - b[0])) {
      const g = disk.geometry;
      drives.u8(number).u8(disk.kind === 'floppy' ? 1 : 2).u16(g.cylinders).u8(g.heads).u8(g.sectorsPerTrack).u8(g.cmosType).u8(0).u64(disk.sectors);
    }
    fw.set(FW_DRIVES, drives.build());
    const mp = buildMpTable({ apicIds: this.processors.map((p) => p.apic.id), ioApicId: this.ioApic.id }, EBDA_BASE + MP_TABLE_EBDA_OFFSET);
    fw.set(FW_MP_TABLE, Uint8Array.from([...new ItemWriter().u16(mp.length).build(), ...mp]));
    const boot = this.config.bootDrive ?? (this.disks.has(0x80) ? 0x80 : this.disks.has(0) ? 0x00 : 0xff);
    fw.set(FW_BOOT, Uint8Array.of(boot));
  }

  /**
   * Loads a Multiboot kernel and its information structure, and tells the BIOS to enter it
   * instead of booting a disk. Throws a RangeError that says what is wrong with a bad kernel.
   */
  loadMultiboot(bytes: Uint8Array, name: string, commandLine = ''): LoadedKernel {
    const kernel = loadMultibootKernel(this.phys, bytes, name);
    const infoAddress = writeMultibootInfo(this.phys, this.e820, commandLine || name, kernel);
    this.firmwareConfig.set(FW_BOOT, Uint8Array.of(0xfe));
    this.firmwareConfig.set(FW_MULTIBOOT, new ItemWriter().u32(kernel.entry).u32(infoAddress).build());
    return kernel;
  }

  /**
   * Input from the user's terminal: typed on the PC keyboard (scan codes on IRQ 1) and
   * received on COM1, so that BIOS-keyboard guests and serial-console kernels both see it,
   * one character at a time in virtual time (see Typist).
   */
  typeText(text: string): void {
    this.applyInput({ at: this.instructions, kind: 'type', text });
  }

  /**
   * What the machine takes from outside, said once for every path it comes by: a recorder or a
   * debugger's timeline hears each (inputObservers), and a replay gives them back here.
   */
  applyInput(input: MachineInput): void {
    this.takeInput(input);
    // (Told after: a wait has moved the machine on by then, and its hearers may want to know where to.)
    for (const observe of this.inputObservers) observe(input);
  }

  private takeInput(input: MachineInput): void {
    if (input.kind === 'type') {
      this.typist.type(input.text);
      // The CPU may be running a slice planned before this input: let the machine look again.
      this.runningProcessor.cpu.stop('device');
    } else {
      // Every processor idles that long (virtual time is their average count).
      const instructions = Math.ceil((input.ns * this.clock.instructionsPerSecond) / 1e9);
      for (const p of this.processors) {
        p.cpu.instructions += instructions;
        p.cpu.idleInstructions += instructions;
      }
    }
  }

  /**
   * While true, what the guest writes to COM1, the debug consoles and the VMM's console goes
   * nowhere: the debugger replays history the user has seen printed once already.
   */
  outputMuted = false;

  /** Who hears the machine's inputs (see applyInput): src/machine/input-log.ts's recorder, the debugger's timeline. */
  readonly inputObservers: ((input: MachineInput) => void)[] = [];

  /**
   * Adds a device whose events (timer interrupts) must happen at their virtual time. `canWake`
   * says whether its events can reach the CPU now (default: always): a halted guest is not
   * woken by an interrupt every path masks.
   */
  addTimedDevice(device: TimedDevice, canWake: () => boolean = () => true): void {
    this.timedDevices.push(device);
    this.timedDeviceWakes.push(canWake);
  }

  /** The virtual time of the earliest pending device event. */
  private nextEventNs(): number {
    let next = Infinity;
    for (const d of this.timedDevices) next = Math.min(next, d.nextEventNs());
    return next;
  }

  /** The earliest event that can wake a halted CPU: one whose interrupt can reach it. */
  private nextWakeEventNs(): number {
    let next = Infinity;
    this.timedDevices.forEach((d, i) => {
      if (this.timedDeviceWakes[i]()) next = Math.min(next, d.nextEventNs());
    });
    return next;
  }

  private advanceDevices(): void {
    const now = this.clock.nowNs();
    for (const d of this.timedDevices) d.advanceTo(now);
  }

  /** Lets `ns` of virtual time pass while the CPU is halted (the user took that long to type). */
  passIdleTime(ns: number): void {
    this.applyInput({ at: this.instructions, kind: 'idle', ns });
  }

  /**
   * Done with this machine: its big arrays (TLB, page map, host frames; about 11 MiB) go to the
   * next machine made in this process, which then starts faster and leaves less garbage. For
   * code that makes many machines one after another (the fuzz, graders); the machine must not be
   * used again, and `run` refuses to.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cpu.releaseBuffers();
    this.phys.releaseBuffers();
  }
  private disposed = false;

  /**
   * Runs until the guest stops or `maxInstructions` retire (counted over every processor, their
   * idle time included). With several processors, each runs SMP_QUANTUM instructions in turn.
   */
  run(maxInstructions = Infinity, options: RunOptions = {}): RunOutcome {
    if (this.disposed) throw new Error('this machine was disposed: make a new one');
    const several = this.processors.length > 1;
    let left = maxInstructions;
    for (;;) {
      // Devices move on between rounds (and within a turn, when one asks to); a round that a run's
      // budget cut short goes on where it stopped, so a run in pieces is the same as in one.
      const startsRound = !several || this.round === null;
      let untilEvent = Infinity;
      if (startsRound) {
        this.advanceDevices();
        const nextEvent = this.nextEventNs();
        untilEvent = nextEvent === Infinity ? Infinity : this.clock.instructionsUntil(nextEvent);
      }
      const before = this.instructions;
      let reason = several
        ? this.runRound(this.round ?? (this.round = newRound(Math.min(untilEvent, SMP_QUANTUM))), left)
        : this.runTurn(this.processors[0], Math.min(left, untilEvent, 1 << 24));
      const cpu = this.runningProcessor.cpu;
      if (reason === 'idle') {
        if (options.waitForInput) return { kind: 'idle' };
        // Every processor halted, waiting for an interrupt: jump virtual time to the next event that can wake one.
        const wake = this.nextWakeEventNs();
        if (wake === Infinity) {
          reason = 'halt';
          cpu.stopDetail = several ? 'every processor halted, with every interrupt source masked or idle' : 'HLT with every interrupt source masked or idle';
        } else {
          const until = this.clock.instructionsUntil(wake);
          for (const p of this.processors) {
            p.cpu.instructions += until;
            p.cpu.idleInstructions += until;
          }
          reason = 'budget';
        }
      }
      left -= this.instructions - before;
      if (this.exitStatus !== null) return { kind: 'exit', status: this.exitStatus };
      if (this.endedBy !== null) return this.endedBy;
      switch (reason) {
        case 'halt':
          return { kind: 'halted', detail: cpu.stopDetail || 'HLT with no interrupt source' };
        case 'shutdown':
          return { kind: 'shutdown', detail: cpu.stopDetail };
        case 'unmapped-fetch':
          return { kind: 'unmapped-fetch', detail: cpu.stopDetail };
        case 'vmexit':
          return { kind: 'vmexit', detail: cpu.stopDetail };
        case 'request':
          return { kind: 'stopped', detail: cpu.stopDetail };
        case 'debug':
          return { kind: 'debug' };
        default:
          if (left <= 0) return { kind: 'limit' };
      }
    }
  }

  /**
   * One turn of processor `p`: its CPU (under the VMM, its vCPU) runs up to `budget`
   * instructions; an I/O or MMIO exit is served here, as KVM_RUN returns to QEMU (the
   * instruction runs against the machine's devices), and ends the turn.
   */
  private runTurn(p: Processor, budget: number): SliceEnd {
    this.runningProcessor = p;
    this.inTurn = true;
    let reason: SliceEnd;
    try {
      reason = p.run(budget);
      if (reason === 'userspace') reason = p.vcpu!.completeInMachine();
    } finally {
      this.inTurn = false;
    }
    if (p.initPending) {
      p.initPending = false;
      p.init();
    }
    return reason;
  }

  /** Whether a processor's turn is under way (its instruction may be the one sending an IPI). */
  private inTurn = false;

  /**
   * INIT reaches a processor. The running one (an INIT to all including self) takes it at the
   * end of the instruction that sent it, as a signal at an instruction boundary, not part-way.
   */
  private initProcessor(p: Processor): void {
    if (!this.inTurn || p !== this.runningProcessor) {
      p.init();
      return;
    }
    p.initPending = true;
    p.cpu.stop('device');
  }

  /** The round of turns going on (several processors), or null between rounds. */
  private round: Round | null = null;

  /**
   * A round of several processors: each runs `round.quantum` instructions of virtual time (a
   * halted one, or one waiting for a STARTUP IPI, idles through it), within the budget `left`.
   * Returns 'budget' when the round went through or the budget ran out in it (it goes on at the
   * next run), 'idle' when every processor ended its turn asleep with nothing pending, 'halt'
   * when none can take an interrupt, or the stop that ended it (a breakpoint, a triple fault,
   * the exit port): the stopped processor's turn then goes on at the next run.
   */
  private runRound(round: Round, left: number): SliceEnd {
    while (round.next < this.processors.length) {
      const p = this.processors[round.next];
      const cpu = p.cpu;
      if (round.turnEnd < 0) round.turnEnd = cpu.instructions + round.quantum;
      const turnEnd = round.turnEnd;
      let asleep = p.waitingForStartup;
      while (!asleep && cpu.instructions < turnEnd) {
        if (left <= 0) return 'budget';
        const before = cpu.instructions;
        const reason = this.runTurn(p, Math.min(turnEnd - cpu.instructions, left));
        left -= cpu.instructions - before;
        if (p.waitingForStartup) asleep = true; // it sent itself an INIT: it waits for a STARTUP from now on
        if (this.exitStatus !== null || this.endedBy !== null) return 'request';
        if (reason === 'idle' || reason === 'halt') {
          asleep = true; // halted: asleep for the rest of its turn
          if (reason === 'idle') round.waitingForInterrupts.push(p);
        } else if (reason === 'yield') {
          break; // spinning on a lock another holds: the rest of its turn passes as the spinning would (Cpu.noteFailedSpin)
        } else if (reason !== 'budget' && reason !== 'device' && reason !== 'userspace') {
          return reason;
        } else if (cpu.instructions < turnEnd) {
          this.advanceDevices(); // a device asked to be looked at, or an exit was served: then on
        }
      }
      if (!asleep) round.awake = true;
      if (cpu.instructions < turnEnd) {
        left -= turnEnd - cpu.instructions;
        cpu.idleInstructions += turnEnd - cpu.instructions;
        cpu.instructions = turnEnd;
      }
      round.next++;
      round.turnEnd = -1;
    }
    this.round = null;
    if (round.awake) return 'budget';
    // Everyone asleep. An interrupt sent during the round (an IPI) wakes its processor next round;
    // with nobody able to take an interrupt (HLT with interrupts off, no STARTUP coming), it is over.
    if (round.waitingForInterrupts.some((p) => p.pins.hasInterrupt())) return 'budget';
    if (round.waitingForInterrupts.length === 0) {
      this.runningProcessor.cpu.stopDetail = 'every processor halted with interrupts off';
      return 'halt';
    }
    return 'idle';
  }

  /** A reset the guest asked for ends the run (as QEMU's -no-reboot): minivisor does not reboot. */
  private reset(detail: string): void {
    this.endedBy = { kind: 'reset', detail };
    this.runningProcessor.cpu.stop('request', 'reset');
  }

  /** GVA → GPA → HVA → HPA through processor `p`'s paging, with every level's entry (see vmm/translate.ts). */
  translate(gva: number, p: Processor = this.processors[0]): Translation {
    return translateAddress(p.cpu, this.phys, p.vcpu, gva);
  }

  /** A processor's registers as the guest sees them (under the VMM, CR0 through its read shadow), for reports. */
  describeRegisters(p: Processor = this.processors[0]): string {
    return p.cpu.describe(p.vcpu === null ? undefined : p.vcpu.guestControlRegister(0));
  }

  /** CS:EIP and the registers of the processor that ran last (the one whose stop ended a run), for reports. */
  describeState(): string {
    const p = this.runningProcessor;
    const which = this.processors.length > 1 ? `cpu ${p.index} ` : '';
    return `${which}at ${p.cpu.location()}\n${this.describeRegisters(p)}`;
  }
}

// The configuration is the recipe (the snapshot carries it apart); the rest is state.
snapshotRules(Machine, { transient: ['config', 'disposed', 'inTurn', 'inputObservers', 'outputMuted'] });

export { hex };
