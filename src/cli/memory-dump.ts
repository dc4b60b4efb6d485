/** `--dump-mem`: copies guest-physical memory out a page at a time, not a byte at a time. */
import { NO_FRAME } from '../cpu/host-memory.ts';
import { PAGE_MMIO, PAGE_SIZE, PAGE_UNMAPPED, type PhysicalMemory } from '../cpu/physical-memory.ts';

/**
 * The `length` bytes of guest-physical memory at `address`, as the guest would read them:
 * RAM and ROM are copied from their host frames a page at a time, MMIO pages are read through their
 * device, and pages with nothing behind them read as 0xFF.
 */
export function readPhysicalMemory(phys: PhysicalMemory, address: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const at = address + done;
    const chunk = Math.min(length - done, PAGE_SIZE - (at % PAGE_SIZE));
    const kind = phys.kindAt(at);
    const slot = kind === PAGE_UNMAPPED || kind === PAGE_MMIO ? undefined : phys.slotAt(at);
    if (slot) {
      // GPA → HVA (the slot) → HPA (the host's page table); a page nothing touched has no frame and reads as zeros.
      const hva = slot.userspaceAddr + (at - slot.guestPhysAddr);
      const frame = phys.hostMemory.frameOf(hva);
      if (frame !== NO_FRAME) {
        const hpa = frame + (hva % PAGE_SIZE);
        out.set(phys.host.subarray(hpa, hpa + chunk), done);
      }
    } else if (kind === PAGE_UNMAPPED) {
      out.fill(0xff, done, done + chunk);
    } else {
      for (let i = 0; i < chunk; i++) out[done + i] = phys.read8(at + i);
    }
    done += chunk;
  }
  return out;
}
