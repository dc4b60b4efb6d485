/**
 * A first-in first-out queue of bytes. With a maximum length it is a device's FIFO, which a
 * guest can fill but never grow: `push` refuses a byte when it is full. Without one it grows
 * when full, for what only the host fills (text typed or pasted at the terminal).
 */
export class ByteQueue {
  private buffer: Uint8Array;
  private head = 0;
  private count = 0;

  constructor(
    initialCapacity = 64,
    /** The most bytes the queue holds; Infinity: it grows. */
    readonly maxLength = Infinity,
  ) {
    this.buffer = new Uint8Array(Math.min(initialCapacity, maxLength));
  }

  get length(): number {
    return this.count;
  }

  /** Bytes that can still be pushed. */
  get room(): number {
    return this.maxLength - this.count;
  }

  /** Appends a byte; false (and the byte is dropped) when the queue is at its maximum length. */
  push(byte: number): boolean {
    if (this.count >= this.maxLength) return false;
    if (this.count === this.buffer.length) this.grow();
    this.buffer[(this.head + this.count) % this.buffer.length] = byte;
    this.count++;
    return true;
  }

  /** The oldest byte without removing it; -1 when empty. */
  peek(): number {
    return this.count === 0 ? -1 : this.buffer[this.head];
  }

  /** Removes and returns the oldest byte; -1 when empty. */
  shift(): number {
    if (this.count === 0) return -1;
    const byte = this.buffer[this.head];
    this.head = (this.head + 1) % this.buffer.length;
    this.count--;
    return byte;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const larger = new Uint8Array(Math.min(this.buffer.length * 2, this.maxLength));
    for (let i = 0; i < this.count; i++) larger[i] = this.buffer[(this.head + i) % this.buffer.length];
    this.buffer = larger;
    this.head = 0;
  }
}
