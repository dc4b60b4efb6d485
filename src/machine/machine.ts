/**
 * A headless PC: RAM, an optional firmware ROM ending at 1 MiB (aliased below 4 GiB), a port
 * bus with the A20 port, COM1's transmitter, debug-console and exit ports, and the run loop
 * that drives the CPU and turns its stops into results a user can read.
 */
import { Cpu } from '../cpu/cpu.ts';
import { IoBus } from '../cpu/io-bus.ts';
import { PhysicalMemory, hex } from '../cpu/physical-memory.ts';
import { ATTR_REAL_MODE_CODE, CS, S_EIP } from '../cpu/state.ts';
import { DebugConsole } from './devices/debugcon.ts';
import { ExitPort } from './devices/exit-port.ts';
import { SystemControlPortA } from './devices/port92.ts';
import { SerialTransmitter } from './devices/serial-transmitter.ts';

export interface MachineConfig {
  /** Bytes of RAM from physical address 0. */
  memoryBytes: number;
  /** A firmware image (a multiple of 4 KiB, at most 256 KiB), mapped to end at 1 MiB and below 4 GiB. */
  bios?: Uint8Array;
  /** Raw images loaded into RAM before the start. */
  loads?: { address: number; bytes: Uint8Array }[];
  /** Where to start in real mode; without it, the reset vector F000:FFF0. */
  entry?: { segment: number; offset: number };
  /** Debug-console ports and where their bytes go. */
  debugcons?: { port: number; sink: (byte: number) => void }[];
  /** A port whose write ends the run with status (value << 1) | 1. */
  exitPort?: number;
  /** Where COM1's output goes (default: nowhere). */
  serial?: (byte: number) => void;
}

export type RunOutcome =
  | { kind: 'halted'; detail: string } // HLT with nothing to wake the CPU
  | { kind: 'exit'; status: number } // the guest wrote to the exit port
  | { kind: 'shutdown'; detail: string } // triple fault
  | { kind: 'unmapped-fetch'; detail: string } // ran off into memory with nothing behind it
  | { kind: 'vmexit'; detail: string } // a sensitive instruction was intercepted (a VMM is attached)
  | { kind: 'stopped'; detail: string } // something outside the guest asked it to stop
  | { kind: 'limit' }; // the instruction budget ran out

export class Machine {
  readonly phys: PhysicalMemory;
  readonly io = new IoBus();
  readonly cpu: Cpu;
  private exitStatus: number | null = null;

  constructor(readonly config: MachineConfig) {
    this.phys = new PhysicalMemory(config.memoryBytes);
    this.cpu = new Cpu(this.phys, this.io);
    if (config.bios) this.mapFirmware(config.bios);
    for (const { address, bytes } of config.loads ?? []) this.phys.load(address, bytes);
    this.io.register(0x92, 1, new SystemControlPortA(this.cpu, () => this.cpu.stop('shutdown', 'reset through port 0x92')));
    this.io.register(0x3f8, 8, new SerialTransmitter(0x3f8, config.serial ?? (() => {})));
    for (const { port, sink } of config.debugcons ?? []) this.io.register(port, 1, new DebugConsole(port, sink));
    if (config.exitPort !== undefined) {
      this.io.register(config.exitPort, 1, new ExitPort(config.exitPort, (status) => {
        this.exitStatus = status;
        this.cpu.stop('request', 'exit port');
      }));
    }
    if (config.entry) {
      this.cpu.setRealModeSegment(CS, config.entry.segment, ATTR_REAL_MODE_CODE);
      this.cpu.st[S_EIP] = config.entry.offset;
    }
  }

  /** Firmware ends at 1 MiB (0xF0000 for 64 KiB, 0xE0000 for 128 KiB) and is aliased at the top of 4 GiB. */
  private mapFirmware(image: Uint8Array): void {
    const size = image.length;
    const base = 0x100000 - size;
    this.phys.mapRom(base, image);
    this.phys.alias((0x100000000 - size) | 0, base, size);
  }

  /** Runs until the guest stops or `maxInstructions` retire. */
  run(maxInstructions = Infinity): RunOutcome {
    const cpu = this.cpu;
    let left = maxInstructions;
    for (;;) {
      const slice = Math.min(left, 1 << 24);
      const before = cpu.instructions;
      const reason = cpu.run(slice);
      left -= cpu.instructions - before;
      if (this.exitStatus !== null) return { kind: 'exit', status: this.exitStatus };
      switch (reason) {
        case 'halt':
        case 'idle': // no interrupt source exists yet, so an idle CPU never wakes
          return { kind: 'halted', detail: cpu.stopDetail || 'HLT with no interrupt source' };
        case 'shutdown':
          return { kind: 'shutdown', detail: cpu.stopDetail };
        case 'unmapped-fetch':
          return { kind: 'unmapped-fetch', detail: cpu.stopDetail };
        case 'vmexit':
          return { kind: 'vmexit', detail: cpu.stopDetail };
        case 'request':
          return { kind: 'stopped', detail: cpu.stopDetail };
        default:
          if (left <= 0) return { kind: 'limit' };
      }
    }
  }

  /** CS:EIP and the registers, for reports. */
  describeState(): string {
    return `at ${this.cpu.location()}\n${this.cpu.describe()}`;
  }
}

export { hex };
