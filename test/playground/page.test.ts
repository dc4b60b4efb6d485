/**
 * The playground in a real browser: the page is built (tools/playground-build.ts), served on
 * localhost, and driven in Debian's Chromium by playwright-core, as a student would use it:
 * boot an example, let it run, set a breakpoint, read the VM exits and an address's walk, make
 * an assembly mistake.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlayground, servePlayground } from '../../tools/playground-build.ts';

const CHROMIUM = '/usr/bin/chromium';

let dir = '';
let server: { port: number; close(): void } | null = null;
let browser: Browser | null = null;

beforeAll(async () => {
  // .ci/run installs it where it is missing (Debian's chromium).
  expect(existsSync(CHROMIUM), `this test needs Chromium at ${CHROMIUM} (apt-get install chromium)`).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'minivisor-playground-'));
  await buildPlayground(dir);
  server = await servePlayground(dir, 0);
  // The flags keep a headless Chromium off the network this machine does not have (and fast).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** A fresh page with the playground loaded, its worker ready; page errors fail the test. */
async function open(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://localhost:${server!.port}/`);
  await status(page, 'ready');
  return { page, errors };
}

const status = (page: Page, text: string, timeout = 20_000) =>
  page.waitForFunction((want) => document.getElementById('status')!.textContent === want, text, { timeout });

/** Picks an example and mode, and boots it: stopped before the first instruction. */
async function boot(page: Page, example: string, mode = 'bare'): Promise<void> {
  await page.selectOption('#example', example);
  await page.selectOption('#mode', mode);
  await page.click('#boot');
  await status(page, 'stopped');
}

/** Types a debugger command and waits for the stop after it. */
async function command(page: Page, line: string): Promise<void> {
  const before = (await page.textContent('#console'))!.length;
  await page.fill('#command', line);
  await page.press('#command', 'Enter');
  await page.waitForFunction((n) => document.getElementById('console')!.textContent!.length > n, before);
  await page.waitForFunction(() => document.getElementById('status')!.textContent !== 'running');
}

const terminalText = (page: Page) => page.evaluate(() => document.querySelector('.xterm-rows')!.textContent ?? '');

describe('the playground, in Chromium', () => {
  it('boots the toy kernel, which prints its summary in the terminal and powers off', async () => {
    const { page, errors } = await open();
    await boot(page, 'kernel');
    await page.click('#continue');
    await status(page, 'the guest has ended', 60_000);
    const screen = await terminalText(page);
    expect(screen).toContain('kernel: every process has ended');
    expect(screen).toContain('kernel: powering off');
    expect(await page.textContent('#console')).toContain('The guest wrote to the exit port');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('a breakpoint set from the page stops the guest at its address, with the registers shown', async () => {
    const { page, errors } = await open();
    await boot(page, 'hello');
    await command(page, 'break start.next');
    const set = /Breakpoint 1 at 0x([0-9A-F]{8})/.exec((await page.textContent('#console'))!);
    expect(set).not.toBeNull();
    await page.click('#continue');
    await page.waitForFunction(() => document.getElementById('console')!.textContent!.includes('Breakpoint 1, '));
    await status(page, 'stopped');
    expect(await page.textContent('#registers')).toContain(`eip 0x${set![1]}`);
    // Step goes one instruction on: LODSB after the breakpoint.
    await page.click('#step');
    await page.waitForFunction(() => /=> 0000:7C0C/.test(document.getElementById('registers')!.textContent!));
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('under the VMM the exits are listed, and translate shows every level of a walk', async () => {
    const { page } = await open();
    await boot(page, 'kernel', 'ept');
    await page.click('#continue');
    await status(page, 'the guest has ended', 60_000);
    await command(page, 'exits 5');
    const exits = (await page.textContent('#console'))!;
    expect(exits).toMatch(/\d+ VM exits since the debugger started; the last 5:/);
    expect(exits).toContain('I/O instruction');
    await command(page, 'translate 0x400000');
    const walk = (await page.textContent('#console'))!;
    for (const level of ['GVA 0x00400000', 'PDE[', 'PTE[', 'GPA 0x00400000', 'HVA 0x00400000', 'EPT (EPTP', 'PML4[']) expect(walk).toContain(level);
    await page.close();
  }, 90_000);

  it('Stop stops a guest that spins forever, and the page stays alive meanwhile', async () => {
    const { page, errors } = await open();
    await page.selectOption('#example', 'hello');
    await page.fill('#editor', 'org 0x7c00\nspin:\n  inc eax\n  jmp spin\n  times 510 - ($ - $$) db 0\n  dw 0xaa55\n');
    await page.click('#boot');
    await status(page, 'stopped');
    await page.click('#continue');
    await status(page, 'running');
    // The guest runs in the worker: the page still answers (a click, a text field) while it spins.
    await page.fill('#command', 'typed while the guest runs');
    expect(await page.inputValue('#command')).toBe('typed while the guest runs');
    await page.click('#stop');
    await status(page, 'stopped');
    expect(await page.textContent('#console')).toContain('Stopped: the Stop button.');
    expect(await page.textContent('#registers')).toMatch(/=> 0000:7C0[0-3] <spin/);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('an assembly error is shown at its line, and nothing boots', async () => {
    const { page } = await open();
    await page.selectOption('#example', 'hello');
    const source = (await page.inputValue('#editor')).split('\n');
    const line = source.findIndex((text) => text.includes('lodsb')) + 1;
    source[line - 1] = '        mov ax, bl'; // no such MOV: a byte into a word register
    await page.fill('#editor', source.join('\n'));
    await page.click('#boot');
    await page.waitForFunction(() => document.getElementById('diagnostics')!.textContent !== '');
    expect(await page.textContent('#diagnostics')).toMatch(new RegExp(`^hello\\.asm:${line}:\\d+: error: `));
    expect(await page.textContent('#status')).toBe(`did not assemble (line ${line})`);
    expect(await page.isDisabled('#continue')).toBe(true);
    await page.close();
  }, 60_000);
});
