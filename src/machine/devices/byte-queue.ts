/** A first-in first-out queue of bytes that grows when full (a pasted text can be long). */
export class ByteQueue {
  private buffer: Uint8Array;
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  get length(): number {
    return this.count;
  }

  push(byte: number): void {
    if (this.count === this.buffer.length) this.grow();
    this.buffer[(this.head + this.count) % this.buffer.length] = byte;
    this.count++;
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
    const larger = new Uint8Array(this.buffer.length * 2);
    for (let i = 0; i < this.count; i++) larger[i] = this.buffer[(this.head + i) % this.buffer.length];
    this.buffer = larger;
    this.head = 0;
  }
}
