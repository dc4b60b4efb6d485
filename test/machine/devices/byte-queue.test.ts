import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../../src/machine/devices/byte-queue.ts';

describe('ByteQueue', () => {
  it('with a maximum length refuses bytes past it and keeps the oldest', () => {
    const q = new ByteQueue(4, 16);
    for (let i = 0; i < 1000; i++) q.push(i & 0xff);
    expect(q.length).toBe(16);
    expect(q.room).toBe(0);
    expect(q.push(0xaa)).toBe(false);
    expect(q.peek()).toBe(0);
    const out: number[] = [];
    for (let b = q.shift(); b >= 0; b = q.shift()) out.push(b);
    expect(out).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(q.push(0xaa)).toBe(true);
    expect(q.room).toBe(15);
  });

  it('without one grows and keeps every byte in order across wrap-arounds', () => {
    const q = new ByteQueue(4);
    q.push(1);
    q.push(2);
    q.shift();
    for (let i = 0; i < 100; i++) expect(q.push(i)).toBe(true);
    expect(q.length).toBe(101);
    expect(q.shift()).toBe(2);
    expect(q.shift()).toBe(0);
    expect(q.peek()).toBe(1);
  });
});
