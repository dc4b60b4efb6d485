/** What a VM exit says, as the VMCS exit-information fields say it, and the same decoded for people. */
import { formatException } from '../cpu/exceptions.ts';
import { REG32_NAMES } from '../cpu/state.ts';
import type { ExitReason } from '../cpu/sensitive.ts';

export interface VmExit {
  reason: ExitReason;
  /** The exit qualification (SDM Vol. 3, 28.2.1), laid out per reason as Intel lays it out. */
  qualification: number;
  /** CS:EIP of the guest instruction that exited (RIP). */
  guestRip: number;
  /** Its length in bytes (VM-exit instruction length), where the exit has one. */
  instructionLength: number;
  /** For exceptions and interrupts: the VM-exit interruption information. */
  interruptionInfo: number;
  /** For exceptions with an error code. */
  errorCode: number;
  /** For EPT violations: the guest-physical address, and the linear address when there is one. */
  guestPhysical: number;
  guestLinear: number;
  /**
   * IDT-vectoring information (SDM Vol. 3, 28.2.4): the event whose delivery the exit
   * interrupted (valid bit 31), and its error code. The VMM delivers it again at the next entry.
   */
  idtVectoringInfo: number;
  idtVectoringErrorCode: number;
}

/** Exit reasons: Intel's number, the keyword a user types (`catch exit io`), and the name (SDM Vol. 3, Appendix C). */
export const EXIT_REASONS: Record<number, { keyword: string; name: string }> = {
  0: { keyword: 'exception', name: 'exception or NMI' },
  1: { keyword: 'external-interrupt', name: 'external interrupt' },
  2: { keyword: 'triple-fault', name: 'triple fault' },
  7: { keyword: 'interrupt-window', name: 'interrupt window' },
  9: { keyword: 'task-switch', name: 'task switch' },
  10: { keyword: 'cpuid', name: 'CPUID' },
  12: { keyword: 'hlt', name: 'HLT' },
  13: { keyword: 'invd', name: 'INVD' },
  14: { keyword: 'invlpg', name: 'INVLPG' },
  16: { keyword: 'rdtsc', name: 'RDTSC' },
  18: { keyword: 'vmcall', name: 'VMCALL' },
  28: { keyword: 'cr-access', name: 'control-register access' },
  29: { keyword: 'dr-access', name: 'MOV DR' },
  30: { keyword: 'io', name: 'I/O instruction' },
  31: { keyword: 'rdmsr', name: 'RDMSR' },
  32: { keyword: 'wrmsr', name: 'WRMSR' },
  44: { keyword: 'apic-access', name: 'APIC access' },
  46: { keyword: 'gdtr-idtr', name: 'GDTR/IDTR access' },
  47: { keyword: 'ldtr-tr', name: 'LDTR/TR access' },
  48: { keyword: 'ept-violation', name: 'EPT violation' },
  49: { keyword: 'ept-misconfig', name: 'EPT misconfiguration' },
  54: { keyword: 'wbinvd', name: 'WBINVD' },
  56: { keyword: 'apic-write', name: 'APIC write' },
};

/** Names of exit reasons, for traces and statistics. */
export const EXIT_REASON_NAMES: Record<number, string> = Object.fromEntries(Object.entries(EXIT_REASONS).map(([n, r]) => [n, r.name]));

/** Short names people use for a reason or a family of them. */
const EXIT_REASON_ALIASES: Record<string, number[]> = { cr: [28], dr: [29], msr: [31, 32], ept: [48, 49], irq: [1], window: [7], apic: [44, 56] };

/** An exit reason from a number or a keyword (`io`, `ept-violation`, `30`); undefined when it is neither. */
export function parseExitReason(text: string): number | undefined {
  const t = text.toLowerCase();
  if (/^\d+$/.test(t)) return Number(t) in EXIT_REASONS ? Number(t) : undefined;
  const found = Object.entries(EXIT_REASONS).find(([, r]) => r.keyword === t);
  return found ? Number(found[0]) : undefined;
}

/** The reasons a word names: one reason (`io`, `30`) or a family (`cr`, `ept`, `msr`); undefined when it names none. */
export function parseExitReasons(text: string): number[] | undefined {
  const one = parseExitReason(text);
  return one !== undefined ? [one] : EXIT_REASON_ALIASES[text.toLowerCase()];
}

/** The families parseExitReasons takes (cr, msr, ept, apic...), for messages. */
export function exitReasonFamilies(): string {
  return Object.keys(EXIT_REASON_ALIASES).join(', ');
}

/** The words parseExitReasons takes, for messages. */
export function exitReasonWords(): string {
  return [...Object.values(EXIT_REASONS).map((r) => r.keyword), ...Object.keys(EXIT_REASON_ALIASES)].join(', ');
}

/** The local APIC's registers by offset, for APIC-access and APIC-write exits. */
const APIC_REGISTER_NAMES: Record<number, string> = {
  0x20: 'ID', 0x30: 'version', 0x80: 'TPR', 0x90: 'APR', 0xa0: 'PPR', 0xb0: 'EOI', 0xd0: 'LDR', 0xe0: 'DFR', 0xf0: 'SVR',
  0x280: 'ESR', 0x300: 'ICR low', 0x310: 'ICR high', 0x320: 'LVT timer', 0x330: 'LVT thermal', 0x340: 'LVT performance',
  0x350: 'LVT LINT0', 0x360: 'LVT LINT1', 0x370: 'LVT error', 0x380: 'timer initial count', 0x390: 'timer current count', 0x3e0: 'timer divide',
};

const hex = (v: number, digits = 0) => '0x' + (v >>> 0).toString(16).toUpperCase().padStart(digits, '0');

/** The interruption-information field: "#PF(0x0002: ...)" / "external interrupt 0x20". */
function describeInterruption(info: number, errorCode: number): string {
  const vector = info & 0xff;
  const type = (info >> 8) & 7;
  const code = info & (1 << 11) ? errorCode : -1;
  if (type === 0) return `external interrupt ${hex(vector, 2)}`;
  if (type === 2) return 'NMI';
  if (type === 4) return `software interrupt ${hex(vector, 2)}`;
  return formatException(vector, code);
}

/** What the exit's qualification and information fields say, decoded: "out to port 0x3F8, 1 byte", "MOV to CR3 from eax", ... */
export function describeExitQualification(exit: VmExit): string {
  const q = exit.qualification;
  switch (exit.reason) {
    case 0: {
      const what = describeInterruption(exit.interruptionInfo, exit.errorCode);
      return (exit.interruptionInfo & 0xff) === 14 ? `${what} at linear ${hex(q, 8)}` : what;
    }
    case 14:
      return `linear ${hex(q, 8)}`;
    case 28: {
      const cr = q & 15;
      const type = (q >> 4) & 3;
      const register = REG32_NAMES[(q >> 8) & 7];
      if (type === 0) return `MOV to CR${cr} from ${register}`;
      if (type === 1) return `MOV from CR${cr} to ${register}`;
      if (type === 2) return 'CLTS';
      return `LMSW ${hex(q >>> 16, 4)}`;
    }
    case 29:
      return `MOV ${(q >> 4) & 1 ? 'from' : 'to'} DR${q & 7} ${(q >> 4) & 1 ? 'to' : 'from'} ${REG32_NAMES[(q >> 8) & 7]}`;
    case 30: {
      const bytes = (q & 7) + 1;
      const input = (q & 8) !== 0;
      const port = q >>> 16;
      const kind = q & 16 ? `${q & 32 ? 'rep ' : ''}${input ? 'ins' : 'outs'}` : input ? 'in' : 'out';
      return `${kind} ${input ? 'from' : 'to'} port ${hex(port, 4)}, ${bytes} byte${bytes === 1 ? '' : 's'}${q & 64 ? ' (port in the instruction)' : ''}`;
    }
    case 48: {
      const access = [q & 1 ? 'read' : '', q & 2 ? 'write' : '', q & 4 ? 'fetch' : ''].filter(Boolean).join('+') || 'access';
      const allowed = ((q >> 3) & 7) === 0 ? 'not mapped' : `mapped ${q & 8 ? 'R' : '-'}${q & 16 ? 'W' : '-'}${q & 32 ? 'X' : '-'}`;
      const stage = q & 128 ? (q & 256 ? 'the access itself' : "the guest's page walk") : 'no linear address';
      return `${access} of GPA ${hex(exit.guestPhysical, 8)} (${allowed} in the EPT; ${stage}${q & 128 ? `, linear ${hex(exit.guestLinear, 8)}` : ''})`;
    }
    case 44: {
      const offset = q & 0xfff;
      const kinds: Record<number, string> = { 0: 'read', 1: 'write', 2: 'fetch', 3: 'access during event delivery', 10: 'guest-physical access during event delivery', 15: 'guest-physical access (fetch or page walk)' };
      return `${kinds[(q >> 12) & 15] ?? 'access'} at APIC offset ${hex(offset, 3)}${APIC_REGISTER_NAMES[offset & 0xff0] ? ` (${APIC_REGISTER_NAMES[offset & 0xff0]})` : ''}`;
    }
    case 56:
      return `write to APIC offset ${hex(q & 0xfff, 3)}${APIC_REGISTER_NAMES[q & 0xff0] ? ` (${APIC_REGISTER_NAMES[q & 0xff0]})` : ''}, done (trap-like: RIP is past the instruction)`;
    case 49:
      return `GPA ${hex(exit.guestPhysical, 8)}`;
    default:
      return q === 0 ? '' : `qualification ${hex(q)}`;
  }
}

/** One line: "30 I/O instruction: out to port 0x03F8, 1 byte" (plus the event whose delivery it interrupted). */
export function describeExit(exit: VmExit): string {
  const name = EXIT_REASONS[exit.reason]?.name ?? `reason ${exit.reason}`;
  const detail = describeExitQualification(exit);
  const vectoring = exit.idtVectoringInfo & (1 << 31) ? `; while delivering ${describeInterruption(exit.idtVectoringInfo, exit.idtVectoringErrorCode)}` : '';
  return `${exit.reason} ${name}${detail ? `: ${detail}` : ''}${vectoring}`;
}
