/**
 * Big zeroed arrays for machines that come and go. A machine holds about 11 MiB in a few arrays
 * (the TLB, the guest-physical page map, the host frame pool); a fresh one costs a page fault per
 * 4 KiB the machine touches and, once dropped, a full garbage collection to free it. A fuzz run
 * builds tens of thousands of machines, and that was four tenths of its time. An array handed
 * back by `Machine.dispose` is given to the next machine that asks for one of its type and
 * length, zeroed with one memset.
 *
 * Nothing else hands arrays back: a machine that is not disposed keeps its own, so machines
 * living side by side never share one.
 */
type Recyclable = Int32Array | Uint8Array;

/** Arrays kept for reuse, by type and length. */
const free = new Map<string, Recyclable[]>();
let freeBytes = 0;
/** Beyond this, arrays handed back are left to the garbage collector. */
const MAX_FREE_BYTES = 128 << 20;

const keyOf = (array: Recyclable) => `${array instanceof Int32Array ? 'i32' : 'u8'}:${array.length}`;

function take<T extends Recyclable>(key: string): T | undefined {
  const array = free.get(key)?.pop() as T | undefined;
  if (array === undefined) return undefined;
  freeBytes -= array.byteLength;
  array.fill(0);
  return array;
}

/** A zeroed Int32Array of `length`: one a disposed machine handed back, or a new one. */
export function zeroedInt32Array(length: number): Int32Array {
  return take<Int32Array>(`i32:${length}`) ?? new Int32Array(length);
}

/** A zeroed Uint8Array of `length`: one a disposed machine handed back, or a new one. */
export function zeroedUint8Array(length: number): Uint8Array {
  return take<Uint8Array>(`u8:${length}`) ?? new Uint8Array(length);
}

/** Hands back arrays their owner will never touch again (each a whole buffer of its own). */
export function recycle(...arrays: Recyclable[]): void {
  for (const array of arrays) {
    if (array.byteOffset !== 0 || array.byteLength !== array.buffer.byteLength) throw new RangeError('only whole buffers can be recycled');
    if (freeBytes + array.byteLength > MAX_FREE_BYTES) continue;
    const key = keyOf(array);
    const list = free.get(key) ?? [];
    if (list.includes(array)) throw new Error('an array was recycled twice');
    list.push(array);
    free.set(key, list);
    freeBytes += array.byteLength;
  }
}
