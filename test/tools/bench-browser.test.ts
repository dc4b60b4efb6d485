/**
 * `npm run bench` runs the loop guest in Chromium too (tools/bench-browser.ts): the page must
 * compute the reference line, or its figure would time a wrong run (times are never asserted).
 */
import { describe, expect, it } from 'vitest';
import { loopInChromium } from '../../tools/bench-browser.ts';
import { expectedLine } from '../../tools/loop-reference.ts';

describe('the loop benchmark in Chromium', () => {
  it.each([false, true])('computes the reference line there, compiled (MEMOP %s)', async (memop) => {
    const run = await loopInChromium(50_000, memop);
    // .ci/run installs Chromium where it is missing: a run that found none is a failure here.
    expect(run, 'no Chromium at /usr/bin/chromium (apt-get install chromium)').not.toBeNull();
    expect(run!.line).toBe(expectedLine(50_000, memop));
  }, 60_000);
});
