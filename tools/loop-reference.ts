/** The loop benchmark guest's reference computation (guests/bench/README.md, reference.py). */

/** What the guest must print for `iters` iterations (guests/bench/README.md's reference). */
export function expectedLine(iters: number, memop: boolean): string {
  let a = 0, b = 0x12345678, m = 0, s = 0;
  for (let i = 0; i < iters; i++) {
    a = (a + b) | 0;
    b ^= a;
    b = (b << 3) | (b >>> 29);
    if (memop) {
      m = (m + a) | 0;
      s = m;
    }
  }
  if (memop) a = (a + s) | 0;
  return 'E' + (a >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
