/** The loop benchmark guest's reference computation (guests/bench/README.md, reference.py). */

/** What the guest must print for `iters` iterations (guests/bench/README.md's reference). */
export function expectedLine(iters: number, memop: boolean, branch = false): string {
  let a = 0, b = 0x12345678, m = 0, s = 0;
  for (let i = 0; i < iters; i++) {
    a = (a + b) | 0;
    b ^= a;
    b = (b << 3) | (b >>> 29);
    if (branch) a = (a + ((iters - i) & 4)) | 0;
    if (memop) {
      m = (m + a) | 0;
      s = m;
    }
  }
  if (memop) a = (a + s) | 0;
  return 'E' + (a >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Instructions the guest runs in its loop: 5 an iteration, 7 with MEMOP; BRANCH adds 3, and 1 more in 4 of every 8. */
export function loopInstructions(iters: number, memop: boolean, branch = false): number {
  const taken = branch ? Math.floor(iters / 8) * 4 + Math.max(0, (iters % 8) - 3) : 0;
  return iters * ((memop ? 7 : 5) + (branch ? 3 : 0)) + taken;
}
