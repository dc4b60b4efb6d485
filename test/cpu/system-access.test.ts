/**
 * Accesses to system structures (descriptor tables, the IDT, the TSS) are a supervisor's
 * whatever the CPL: they may reach supervisor pages from ring 3, a #PF they raise is a
 * supervisor's, alignment checks do not apply, data breakpoints do. And they are cheap: a page
 * the TLB holds costs one memory access, without recomputing what accesses check.
 */
import { describe, expect, it, vi } from 'vitest';
import { ATTN_DEBUG, Cpu, GUEST_FAULT } from '../../src/cpu/cpu.ts';
import { PhysicalMemory } from '../../src/cpu/physical-memory.ts';
import { AC, CR0_AM, CR0_PE, CR0_PG, PF_, S_CPL, S_CR0, S_CR2, S_CR3, S_DR0, S_EFLAGS } from '../../src/cpu/state.ts';

const USER_PAGE = 0x4000, SUPERVISOR_PAGE = 0x5000, ABSENT_PAGE = 0x6000;

/**
 * A CPU with paging on at CPL 3: the first MiB identity-mapped as user pages, except a
 * supervisor page and a page not present.
 */
function ring3Cpu(): Cpu {
  const cpu = new Cpu(PhysicalMemory.withRam(1 << 20));
  const p = cpu.phys;
  p.write(0x10000, 4, 0x11000 | 7);
  for (let i = 0; i < 256; i++) p.write(0x11000 + i * 4, 4, (i << 12) | 7);
  p.write(0x11000 + (SUPERVISOR_PAGE >> 12) * 4, 4, SUPERVISOR_PAGE | 3);
  p.write(0x11000 + (ABSENT_PAGE >> 12) * 4, 4, 0);
  p.write(SUPERVISOR_PAGE + 8, 4, 0x12345678);
  p.write(USER_PAGE + 8, 4, 0x0badcafe);
  cpu.st[S_CR3] = 0x10000;
  cpu.st[S_CR0] |= CR0_PE | CR0_PG;
  cpu.flushTlb();
  cpu.setCpl(3);
  return cpu;
}

/** The #PF error code an access raises, or null when it does not fault. */
function pageFaultOf(cpu: Cpu, access: () => void): number | null {
  try {
    access();
    return null;
  } catch (e) {
    if (e !== GUEST_FAULT) throw e;
    expect(cpu.pendingVector).toBe(PF_);
    return cpu.pendingErrorCode;
  }
}

describe('system accesses', () => {
  it('reach a supervisor page from ring 3, where a user access faults before and after', () => {
    const cpu = ring3Cpu();
    expect(pageFaultOf(cpu, () => cpu.readLin32(SUPERVISOR_PAGE + 8))).toBe(5); // user read, present
    expect(cpu.readSystem32(SUPERVISOR_PAGE + 8)).toBe(0x12345678);
    expect(cpu.readSystem16(SUPERVISOR_PAGE + 10)).toBe(0x1234);
    cpu.writeSystem(SUPERVISOR_PAGE + 12, 0x55aa, 16);
    expect(cpu.phys.read(SUPERVISOR_PAGE + 12, 2)).toBe(0x55aa);
    // The TLB now holds the page for a supervisor: ring 3 still may not touch it.
    expect(pageFaultOf(cpu, () => cpu.readLin32(SUPERVISOR_PAGE + 8))).toBe(5);
    expect(pageFaultOf(cpu, () => cpu.writeLin8(SUPERVISOR_PAGE + 8, 0))).toBe(7);
    expect(cpu.st[S_CPL]).toBe(3);
    expect(cpu.userAccess).toBe(true);
  });

  it('raise a supervisor #PF (error code without U/S), and leave ring 3 as it was', () => {
    const cpu = ring3Cpu();
    expect(pageFaultOf(cpu, () => cpu.readSystem32(ABSENT_PAGE))).toBe(0);
    expect(cpu.st[S_CR2] >>> 0).toBe(ABSENT_PAGE);
    expect(pageFaultOf(cpu, () => cpu.writeSystem(ABSENT_PAGE + 4, 1, 32))).toBe(2);
    expect(cpu.st[S_CPL]).toBe(3);
    expect(pageFaultOf(cpu, () => cpu.readLin32(SUPERVISOR_PAGE + 8))).toBe(5);
  });

  it('are not alignment-checked, while ring 3 accesses are', () => {
    const cpu = ring3Cpu();
    cpu.st[S_CR0] |= CR0_AM;
    cpu.st[S_EFLAGS] |= AC;
    cpu.updateAccessMasks();
    expect(cpu.readSystem32(USER_PAGE + 9)).toBe(cpu.phys.read(USER_PAGE + 9, 4));
    cpu.writeSystem(USER_PAGE + 0x21, 0x1234, 16);
    expect(cpu.phys.read(USER_PAGE + 0x21, 2)).toBe(0x1234);
    expect(() => cpu.readLin32(USER_PAGE + 9)).toThrow();
    expect(cpu.pendingVector).toBe(17); // #AC
  });

  it('are watched by data breakpoints, in the TLB or not', () => {
    const cpu = ring3Cpu();
    expect(cpu.readSystem32(USER_PAGE + 8)).toBe(0x0badcafe); // in the TLB now
    cpu.st[S_DR0] = USER_PAGE + 8;
    cpu.st[S_DR0 + 7] = 0x2 | (3 << 16) | (3 << 18); // G0, reads and writes, 4 bytes
    cpu.updateAccessMasks();
    expect(cpu.readSystem32(USER_PAGE + 8)).toBe(0x0badcafe);
    expect(cpu.attention & ATTN_DEBUG).toBe(ATTN_DEBUG);
  });

  it('cost one memory access when the TLB holds the page: the access masks are not recomputed', () => {
    const cpu = ring3Cpu();
    cpu.readSystem32(SUPERVISOR_PAGE);
    cpu.writeSystem(SUPERVISOR_PAGE + 4, 0, 32); // first write: the slow path sets the dirty bit
    const recompute = vi.spyOn(cpu, 'updateAccessMasks');
    const setCpl = vi.spyOn(cpu, 'setCpl');
    expect(cpu.readSystem32(SUPERVISOR_PAGE + 8)).toBe(0x12345678);
    expect(cpu.readSystem16(SUPERVISOR_PAGE + 8)).toBe(0x5678);
    cpu.writeSystem(SUPERVISOR_PAGE + 4, 0x0102, 16);
    cpu.writeSystem(SUPERVISOR_PAGE + 6, 0x03, 8);
    expect(cpu.phys.read(SUPERVISOR_PAGE + 4, 4)).toBe(0x030102);
    // Past the TLB (a page not yet walked), the access is still a supervisor's, without setCpl.
    expect(cpu.readSystem32(SUPERVISOR_PAGE - 0x1000 + 8)).toBe(0x0badcafe);
    expect(recompute).not.toHaveBeenCalled();
    expect(setCpl).not.toHaveBeenCalled();
  });
});
