/**
 * The CPU's page walk on a TLB miss: the one walker (page-walk.ts) over the tables the CPU walks
 * (read through its guest-physical translation: guest-physical on the bare machine and under
 * EPT, host-physical for a VMM's shadow tables), leaving accessed and dirty bits as a 386 does.
 * A walk that fails is #PF with CR2 = the linear address and the walker's error code. The
 * result also says what the page allows at each privilege, so that the TLB can cache it and
 * answer later accesses without walking.
 */
import type { Cpu } from './cpu.ts';
import { PageWalk, WALK_PSE, WALK_SET_ACCESSED, WALK_USER, WALK_WP, WALK_WRITE, walkPageTables } from './page-walk.ts';
import { CR0_WP, CR4_PSE, PF_, S_A20_MASK, S_CR0, S_CR2, S_CR3, S_CR4 } from './state.ts';

/** Reused so that a walk allocates nothing. */
const result = new PageWalk();

/**
 * Translates linear `lin` for an access that writes or not, at user privilege or not. Raises
 * #PF (throws) when the tables deny it; sets accessed and dirty bits in them otherwise.
 */
export function walk(cpu: Cpu, lin: number, write: boolean, user: boolean): PageWalk {
  const st = cpu.st;
  const flags = WALK_SET_ACCESSED | (write ? WALK_WRITE : 0) | (user ? WALK_USER : 0) |
    (st[S_CR0] & CR0_WP ? WALK_WP : 0) | (st[S_CR4] & CR4_PSE ? WALK_PSE : 0);
  // The A20 gate masks guest addresses; a VMM's shadow tables and frames are host-physical.
  const a20 = cpu.hostPaging ? -1 : st[S_A20_MASK];
  if (!walkPageTables(cpu, st[S_CR3], lin, flags, a20, result)) {
    // A #PF that becomes a VM exit leaves CR2 as it was (SDM Vol. 3, 28.1): the VMM puts it back.
    cpu.cr2BeforeFault = st[S_CR2];
    st[S_CR2] = lin;
    cpu.fault(PF_, result.errorCode);
  }
  return result;
}
