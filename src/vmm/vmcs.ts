/**
 * The virtual-machine control structure: guest state, host state, execution controls and exit
 * information, with the field encodings of the Intel SDM (Vol. 3, Appendix B) and the control
 * bits of its chapter 25, so that what a user reads here is what they will find in the manual
 * (and so that guest-visible VMREAD/VMWRITE can later use the same structure).
 */

/** Field encodings (SDM Vol. 3, Appendix B). */
export enum Field {
  // 16-bit guest state
  GUEST_ES_SELECTOR = 0x0800, GUEST_CS_SELECTOR = 0x0802, GUEST_SS_SELECTOR = 0x0804, GUEST_DS_SELECTOR = 0x0806,
  GUEST_FS_SELECTOR = 0x0808, GUEST_GS_SELECTOR = 0x080a, GUEST_LDTR_SELECTOR = 0x080c, GUEST_TR_SELECTOR = 0x080e,
  // 16-bit host state
  HOST_ES_SELECTOR = 0x0c00, HOST_CS_SELECTOR = 0x0c02, HOST_SS_SELECTOR = 0x0c04, HOST_DS_SELECTOR = 0x0c06,
  HOST_FS_SELECTOR = 0x0c08, HOST_GS_SELECTOR = 0x0c0a, HOST_TR_SELECTOR = 0x0c0c,
  // 64-bit control fields
  IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004, TSC_OFFSET = 0x2010, VIRTUAL_APIC_PAGE_ADDR = 0x2012,
  APIC_ACCESS_ADDR = 0x2014, EPT_POINTER = 0x201a,
  // 64-bit read-only data
  GUEST_PHYSICAL_ADDRESS = 0x2400,
  // 32-bit control fields
  PIN_BASED_VM_EXEC_CONTROL = 0x4000, CPU_BASED_VM_EXEC_CONTROL = 0x4002, EXCEPTION_BITMAP = 0x4004,
  VM_EXIT_CONTROLS = 0x400c, VM_ENTRY_CONTROLS = 0x4012, VM_ENTRY_INTR_INFO_FIELD = 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018, VM_ENTRY_INSTRUCTION_LEN = 0x401a, TPR_THRESHOLD = 0x401c, SECONDARY_VM_EXEC_CONTROL = 0x401e,
  // 32-bit read-only data
  VM_INSTRUCTION_ERROR = 0x4400, VM_EXIT_REASON = 0x4402, VM_EXIT_INTR_INFO = 0x4404, VM_EXIT_INTR_ERROR_CODE = 0x4406,
  IDT_VECTORING_INFO_FIELD = 0x4408, IDT_VECTORING_ERROR_CODE = 0x440a, VM_EXIT_INSTRUCTION_LEN = 0x440c,
  // 32-bit guest state
  GUEST_ES_LIMIT = 0x4800, GUEST_CS_LIMIT = 0x4802, GUEST_SS_LIMIT = 0x4804, GUEST_DS_LIMIT = 0x4806,
  GUEST_FS_LIMIT = 0x4808, GUEST_GS_LIMIT = 0x480a, GUEST_LDTR_LIMIT = 0x480c, GUEST_TR_LIMIT = 0x480e,
  GUEST_GDTR_LIMIT = 0x4810, GUEST_IDTR_LIMIT = 0x4812,
  GUEST_ES_AR_BYTES = 0x4814, GUEST_CS_AR_BYTES = 0x4816, GUEST_SS_AR_BYTES = 0x4818, GUEST_DS_AR_BYTES = 0x481a,
  GUEST_FS_AR_BYTES = 0x481c, GUEST_GS_AR_BYTES = 0x481e, GUEST_LDTR_AR_BYTES = 0x4820, GUEST_TR_AR_BYTES = 0x4822,
  GUEST_INTERRUPTIBILITY_INFO = 0x4824, GUEST_ACTIVITY_STATE = 0x4826,
  // natural-width control fields
  CR0_GUEST_HOST_MASK = 0x6000, CR4_GUEST_HOST_MASK = 0x6002, CR0_READ_SHADOW = 0x6004, CR4_READ_SHADOW = 0x6006,
  // natural-width read-only data
  EXIT_QUALIFICATION = 0x6400, GUEST_LINEAR_ADDRESS = 0x640a,
  // natural-width guest state
  GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
  GUEST_ES_BASE = 0x6806, GUEST_CS_BASE = 0x6808, GUEST_SS_BASE = 0x680a, GUEST_DS_BASE = 0x680c,
  GUEST_FS_BASE = 0x680e, GUEST_GS_BASE = 0x6810, GUEST_LDTR_BASE = 0x6812, GUEST_TR_BASE = 0x6814,
  GUEST_GDTR_BASE = 0x6816, GUEST_IDTR_BASE = 0x6818, GUEST_DR7 = 0x681a, GUEST_RSP = 0x681c, GUEST_RIP = 0x681e,
  GUEST_RFLAGS = 0x6820,
  // natural-width host state
  HOST_CR0 = 0x6c00, HOST_CR3 = 0x6c02, HOST_CR4 = 0x6c04, HOST_FS_BASE = 0x6c06, HOST_GS_BASE = 0x6c08,
  HOST_TR_BASE = 0x6c0a, HOST_GDTR_BASE = 0x6c0c, HOST_IDTR_BASE = 0x6c0e, HOST_RSP = 0x6c14, HOST_RIP = 0x6c16,
}

/** Pin-based VM-execution controls (SDM 25.6.1). */
export const PIN_EXTERNAL_INTERRUPT_EXITING = 1 << 0, PIN_NMI_EXITING = 1 << 3;

/** Primary processor-based VM-execution controls (SDM 25.6.2). */
export const CPU_INTERRUPT_WINDOW_EXITING = 1 << 2, CPU_USE_TSC_OFFSETTING = 1 << 3, CPU_HLT_EXITING = 1 << 7;
export const CPU_INVLPG_EXITING = 1 << 9, CPU_RDTSC_EXITING = 1 << 12, CPU_CR3_LOAD_EXITING = 1 << 15, CPU_USE_TPR_SHADOW = 1 << 21;
export const CPU_CR3_STORE_EXITING = 1 << 16, CPU_MOV_DR_EXITING = 1 << 23, CPU_UNCONDITIONAL_IO_EXITING = 1 << 24;
export const CPU_USE_IO_BITMAPS = 1 << 25, CPU_USE_MSR_BITMAPS = 1 << 28, CPU_ACTIVATE_SECONDARY_CONTROLS = 1 << 31;

/** Secondary processor-based VM-execution controls (SDM 25.6.2). */
export const SECONDARY_VIRTUALIZE_APIC_ACCESSES = 1 << 0, SECONDARY_ENABLE_EPT = 1 << 1, SECONDARY_DESCRIPTOR_TABLE_EXITING = 1 << 2;
export const SECONDARY_UNRESTRICTED_GUEST = 1 << 7, SECONDARY_APIC_REGISTER_VIRTUALIZATION = 1 << 8;

/** VM-entry and VM-exit interruption-information fields (SDM 25.8.3, 28.2.2). */
export const INTR_INFO_VALID = 1 << 31, INTR_INFO_DELIVER_ERROR_CODE = 1 << 11;
export const INTR_TYPE_EXTERNAL = 0 << 8, INTR_TYPE_NMI = 2 << 8, INTR_TYPE_HARDWARE_EXCEPTION = 3 << 8, INTR_TYPE_SOFTWARE = 4 << 8;

/** Guest interruptibility state (SDM 25.4.2): blocking by STI, by MOV SS. */
export const INTERRUPTIBILITY_STI = 1 << 0, INTERRUPTIBILITY_MOV_SS = 1 << 1;

/**
 * Where a field lives in the VMCS's array: its width (bits 14:13 of the encoding), type (11:10)
 * and index (9:1) make a slot, as a processor lays its VMCS region out by the same parts. A slot
 * array rather than a map, because every VM exit stores some 50 fields and every entry loads them.
 */
function slotOf(field: number): number {
  return (((field >> 13) & 3) << 8) | (((field >> 10) & 3) << 6) | ((field >> 1) & 0x3f);
}

/** The encoding of the full field in `slot` (its inverse). */
function fieldOf(slot: number): Field {
  return ((((slot >> 8) & 3) << 13) | (((slot >> 6) & 3) << 10) | ((slot & 0x3f) << 1)) as Field;
}

const SLOTS = 1 << 10;

export class Vmcs {
  private readonly values = new Float64Array(SLOTS);
  private readonly written = new Uint8Array(SLOTS);

  read(field: Field): number {
    return this.values[slotOf(field)];
  }

  write(field: Field, value: number): void {
    const slot = slotOf(field);
    this.values[slot] = value;
    this.written[slot] = 1;
  }

  /** Sets or clears bits of a control field. */
  setBits(field: Field, bits: number, on: boolean): void {
    const value = this.read(field);
    this.write(field, on ? value | bits : value & ~bits);
  }

  has(field: Field, bits: number): boolean {
    return (this.read(field) & bits) === bits;
  }

  /** Every field written, in encoding order (for the debugger's `info vmcs`). */
  entries(): [Field, number][] {
    const out: [Field, number][] = [];
    for (let slot = 0; slot < SLOTS; slot++) if (this.written[slot]) out.push([fieldOf(slot), this.values[slot]]);
    return out.sort((a, b) => a[0] - b[0]);
  }
}
