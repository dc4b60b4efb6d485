/**
 * The host's memory, as the VMM process on a real host sees it: physical memory is a pool of
 * 4 KiB frames (host-physical addresses, HPA), and the process's virtual address space (host
 * virtual addresses, HVA) gets a frame for a page only when something first writes it — as
 * Linux backs an anonymous mmap on first touch. Guest RAM is such a mapping: a guest with
 * 1 GiB configured that touches 10 MiB holds about 10 MiB of frames.
 *
 * Frames are handed out in order and never given back (minivisor does not swap or balloon),
 * so the pool's used part is one prefix of one buffer, which the CPU indexes by HPA.
 */
import { declareBufferExtent } from './state-graph.ts';
import { recycle, zeroedInt32Array, zeroedUint8Array } from './recycled-buffers.ts';

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;

/** No frame behind an HVA page yet. */
export const NO_FRAME = -1;

export class HostMemory {
  /** The frame pool, indexed by host-physical address. */
  readonly frames: Uint8Array;
  readonly view: DataView;
  /** The process's page table: HVA page → HPA of its frame, or NO_FRAME. */
  private readonly pageTable: Int32Array;
  /** Next HVA to hand out (mmap's cursor). */
  private nextHva = 0;
  /** Frames handed out so far: the pool's used prefix. */
  private framesUsed = 0;
  /** Frames that back no HVA: the VMM's own structures (EPT and shadow tables). */
  private kernelFrames = 0;
  /** VMM frames given back (a shadow table evicted), zeroed, for the next allocateFrame. */
  private readonly freeFrames: number[] = [];

  /**
   * @param frameBytes the frame pool's size (a multiple of 4 KiB)
   * @param addressSpaceBytes how much HVA space can be reserved (defaults to the pool's size)
   */
  constructor(frameBytes: number, addressSpaceBytes = frameBytes) {
    this.frames = zeroedUint8Array(frameBytes);
    this.view = new DataView(this.frames.buffer);
    this.pageTable = zeroedInt32Array(Math.ceil(addressSpaceBytes / PAGE_SIZE)).fill(NO_FRAME);
    // Frames are handed out from the pool's start: a snapshot reads (and a load clears) that prefix only.
    declareBufferExtent(this.frames.buffer, () => this.handedOutBytes);
  }

  /** Hands the frame pool and the page table to the next host memory made (Machine.dispose). */
  releaseBuffers(): void {
    recycle(this.frames, this.pageTable);
  }

  /** Reserves `bytes` of address space (mmap without touching it); returns its HVA. No frames yet. */
  reserve(bytes: number): number {
    const size = Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
    const capacity = this.pageTable.length * PAGE_SIZE;
    if (this.nextHva + size > capacity) throw new RangeError(`out of host address space: ${bytes} more bytes wanted, ${capacity - this.nextHva} left`);
    const hva = this.nextHva;
    this.nextHva += size;
    return hva;
  }

  /** Bytes of address space reserved so far: HVAs below this are valid. */
  get reservedBytes(): number {
    return this.nextHva;
  }

  /** The HPA of the frame behind the page holding `hva`, or NO_FRAME when nothing touched it yet. */
  frameOf(hva: number): number {
    const frame = this.pageTable[hva >>> PAGE_SHIFT];
    return frame === undefined ? NO_FRAME : frame;
  }

  /** Whether any page of `bytes` from `hva` has a frame (a range just reserved has none). */
  anyFrameIn(hva: number, bytes: number): boolean {
    const end = Math.min(this.pageTable.length, (hva + bytes) >>> PAGE_SHIFT);
    for (let page = hva >>> PAGE_SHIFT; page < end; page++) if (this.pageTable[page] !== NO_FRAME) return true;
    return false;
  }

  /** The HPA of the frame behind the page holding `hva`, allocating it now if this is the first touch. */
  touch(hva: number): number {
    const page = hva >>> PAGE_SHIFT;
    if (page >= this.pageTable.length || hva >= this.nextHva) throw new RangeError(`HVA ${hva} was never reserved`);
    let frame = this.pageTable[page];
    if (frame === NO_FRAME) {
      frame = this.takeFrame();
      this.pageTable[page] = frame;
    }
    return frame;
  }

  /** A zeroed frame for the VMM itself (an EPT or shadow table), mapped at no HVA. Returns its HPA. */
  allocateFrame(): number {
    this.kernelFrames++;
    const reused = this.freeFrames.pop();
    return reused ?? this.takeFrame();
  }

  /** Gives back a frame from allocateFrame (zeroed now, so the next taker finds it clean). */
  freeFrame(hpa: number): void {
    this.frames.fill(0, hpa, hpa + PAGE_SIZE);
    this.freeFrames.push(hpa);
    this.kernelFrames--;
  }

  private takeFrame(): number {
    const hpa = this.framesUsed * PAGE_SIZE;
    if (hpa + PAGE_SIZE > this.frames.length) throw new RangeError(`out of host frames: all ${this.frames.length / PAGE_SIZE} are in use`);
    this.framesUsed++;
    return hpa; // never used before, so still zero
  }

  /** The pages of the process's address space that have frames: HVA page → HPA, in HVA order. */
  mappedPages(): { hva: number; hpa: number }[] {
    const out: { hva: number; hpa: number }[] = [];
    for (let page = 0; page < this.pageTable.length; page++) if (this.pageTable[page] !== NO_FRAME) out.push({ hva: page * PAGE_SIZE, hpa: this.pageTable[page] });
    return out;
  }

  /** Frames in use, all told (guest memory, ROM images, the VMM's tables). */
  get framesInUse(): number {
    return this.framesUsed - this.freeFrames.length;
  }

  /** Bytes of the pool's used prefix: frames past it were never handed out (a freed frame stays inside it). */
  get handedOutBytes(): number {
    return this.framesUsed * PAGE_SIZE;
  }

  /** HPAs of the frames given back and not yet taken again: zeroed, so nothing may have written them since. */
  get idleFrames(): readonly number[] {
    return this.freeFrames;
  }

  /** Frames in use by the VMM's own structures. */
  get tableFrames(): number {
    return this.kernelFrames;
  }

  /** Frames the pool holds. */
  get frameCount(): number {
    return this.frames.length / PAGE_SIZE;
  }
}
