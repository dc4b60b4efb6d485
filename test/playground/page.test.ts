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
    // (xterm.js draws what it was given a moment later.)
    await page.waitForFunction(() => document.querySelector('.xterm-rows')!.textContent!.includes('kernel: powering off'));
    const screen = await terminalText(page);
    expect(screen).toContain('kernel: every process has ended');
    expect(screen).toContain('kernel: powering off');
    expect(await page.textContent('#console')).toContain('The guest wrote to the exit port');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('goes back from the end of the toy kernel to the write of a watched word, and a step further back', async () => {
    const { page, errors } = await open();
    await boot(page, 'kernel', 'ept');
    await page.click('#continue');
    await status(page, 'the guest has ended', 60_000);
    await command(page, 'watch 0x50000100');
    await page.click('#continue-back');
    await page.waitForFunction(() => document.querySelector('#disassembly .next')?.textContent?.includes('<heap.fill>') === true, undefined, { timeout: 60_000 });
    await status(page, 'stopped');
    expect(await page.textContent('#console')).toContain('written (going back: before that instruction ran) by the instruction at 001B:40000160 <heap.fill>');
    expect((await page.textContent('#registers'))!.toLowerCase()).toContain('eax 0x00000040');
    await page.click('#step-back');
    await page.waitForFunction(() => document.querySelector('#disassembly .next')?.textContent?.includes('loop') === true);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('a click in the disassembly sets a breakpoint there, and the guest stops at it; Step goes one on', async () => {
    const { page, errors } = await open();
    await boot(page, 'hello');
    await command(page, 'tbreak start');
    await page.click('#continue');
    await page.waitForFunction(() => document.querySelector('#disassembly .next')?.textContent?.includes('<start>') === true);
    // The line of INT 10h, three instructions on: a click sets a breakpoint (its mark shows).
    const row = page.locator('#disassembly div', { hasText: 'int 0x10' }).first();
    const linear = await row.getAttribute('data-linear');
    await row.click();
    await page.waitForFunction((at) => document.querySelector(`#disassembly div.breakpoint[data-linear="${at}"]`) !== null, linear);
    expect(await page.textContent('#console')).toMatch(new RegExp(`Breakpoint 2 at 0x0*${linear!.slice(2)}`, 'i'));
    await page.click('#continue');
    await page.waitForFunction(() => document.getElementById('console')!.textContent!.includes('Breakpoint 2, '));
    await status(page, 'stopped');
    expect(await page.textContent('#disassembly .next')).toContain('int 0x10');
    expect((await page.textContent('#registers'))!.toLowerCase()).toContain(`eip 0x${linear!.slice(2).padStart(8, '0')}`);
    // A second click on the breakpoint's line deletes it.
    await page.locator(`#disassembly div[data-linear="${linear}"]`).click();
    await page.waitForFunction((at) => document.querySelector(`#disassembly div[data-linear="${at}"]`)?.classList.contains('breakpoint') === false, linear);
    // Step: the next instruction is INT 10h's handler's first, in the BIOS.
    await page.click('#step');
    await page.waitForFunction(() => document.querySelector('#disassembly .next')?.textContent?.includes('<bios.') === true);
    // An empty line repeats the last command typed, as at the REPL (not the panels' own commands).
    const registersNow = () => page.textContent('#registers');
    const before = await registersNow();
    await page.fill('#command', 'stepi');
    await page.press('#command', 'Enter');
    await page.waitForFunction((was) => document.getElementById('registers')!.textContent !== was, before);
    const once = await registersNow();
    await page.press('#command', 'Enter');
    await page.waitForFunction((was) => document.getElementById('registers')!.textContent !== was, once);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('under the VMM the exit panel lists the exits, and the walk shows every level of a user address', async () => {
    const { page, errors } = await open();
    await boot(page, 'kernel', 'ept');
    await command(page, 'break syscall_dispatch');
    await page.click('#continue');
    await page.waitForFunction(() => document.getElementById('console')!.textContent!.includes('Breakpoint 1, '));
    await status(page, 'stopped');
    expect(await page.textContent('#exits')).toMatch(/VM exits since the debugger started; the last 12:[\s\S]*I\/O instruction/);
    // A ring-3 process's code page (USER_BASE in guests/kernel/layout.inc), under the process's CR3.
    await page.fill('#walk-address', '0x40000000');
    await page.press('#walk-address', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#walk .stage').length >= 4);
    const stages = await page.locator('#walk .stage b').allTextContents();
    expect(stages.map((head) => head.split(' ')[0])).toEqual(['GVA', 'GPA', 'HVA', 'HPA']);
    expect(stages[0]).toContain('GVA 0x40000000');
    const levels = (await page.textContent('#walk'))!;
    for (const level of ['PDE[', 'PTE[', 'memory slot', 'host page table', 'EPT (EPTP', 'PML4[', 'PDPT[', 'PT  [']) expect(levels).toContain(level);
    expect(levels).toMatch(/PTE\[.*\bU\b/); // a user page
    // Pointing at a line of the disassembly walks its address.
    const first = page.locator('#disassembly div').first();
    const linear = Number(await first.getAttribute('data-linear'));
    await first.hover();
    await page.waitForFunction((want) => document.querySelector('#walk .stage b')?.textContent?.startsWith(want) === true, `GVA 0x${linear.toString(16).toUpperCase().padStart(8, '0')}`);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('Compare modes runs the guest under every mode and shows the table: the same instructions in each', async () => {
    const { page, errors } = await open();
    await boot(page, 'kernel');
    await page.click('#compare');
    await page.waitForFunction(() => document.querySelectorAll('#comparison tr').length > 1, null, { timeout: 60_000 });
    const rows = await page.locator('#comparison tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent ?? '')));
    expect(rows[0]).toEqual(['mode', 'time', 'MIPS', 'instructions', 'VM exits', 'exits/s', 'frames', 'page-table work']);
    expect(rows.slice(1).map((row) => row[0])).toEqual(['bare', 'ept', 'ept, V86 (no unrestricted guest)', 'shadow', 'shadow, V86 (no unrestricted guest)', 'shadow, no cache']);
    expect(new Set(rows.slice(1).map((row) => row[3])).size).toBe(1);
    expect(rows[2][7]).toMatch(/EPT violations/);
    expect(await page.textContent('#verdict')).toBe('every mode printed the same, and ended the same way after the same number of instructions');
    expect(errors).toEqual([]);
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

  it('keys typed in the terminal reach the guest, and the VGA screen shows what it drew', async () => {
    const { page, errors } = await open();
    await boot(page, 'keyboard');
    await page.click('#continue');
    await page.waitForFunction(() => document.querySelector('#terminal .xterm-rows')!.textContent!.includes('type a line, then Enter'));
    await page.click('#terminal');
    await page.keyboard.type('hi there');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#terminal .xterm-rows')!.textContent!.includes('you typed "hi there"'), null, { timeout: 20_000 });
    await status(page, 'the guest has ended');
    // The BIOS's teletype draws on the screen too: the VGA panel shows the same lines.
    await page.waitForFunction(() => document.querySelector('#screen .xterm-rows')!.textContent!.includes('you typed "hi there"'));
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("the exercises are there to edit, their %include files with them", async () => {
    const { page, errors } = await open();
    const names = await page.locator('#example option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(names.filter((name) => name.startsWith('exercise '))).toHaveLength(11);
    await boot(page, 'exercise 07-ring3');
    expect(await page.textContent('#diagnostics')).toBe('');
    expect(await page.inputValue('#editor')).toContain('%include "boot32.inc"');
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
