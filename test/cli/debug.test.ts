/**
 * `minivisor debug` as a user runs it: the real command, commands on stdin, what it prints.
 * The toy kernel is debugged in every memory mode (kernel-pv under --mode pv) with the
 * translation cache on: break at the first int 0x80 from ring 3, look at the IDT gate, step
 * into the handler, translate the user's buffer, catch the next VM exit, and look at every
 * table the machine keeps.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const KERNEL = join(ROOT, 'guests', 'kernel', 'kernel.asm');
const KERNEL_PV = join(ROOT, 'guests', 'kernel-pv', 'kernel-pv.asm');

/** Runs `minivisor debug ARGS` with `commands` on its stdin (a pipe, as a script gives them). */
export function debug(args: string[], commands: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'debug', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(commands.map((c) => `${c}\n`).join(''));
  });
}

const tour = (mode: string) => [
  'break guests/kernel/user.asm:27', // SYSCALL SYS_WRITE in uprint: mov eax, 4 / int 0x80 (kernel-pv includes it as ../kernel/user.asm)
  'continue',
  'step', // to the INT
  'info idt 0x80',
  'step', // into the handler
  'info registers',
  'translate ecx', // the user's buffer, as the kernel will read it
  'x/s ecx',
  'catch exit io',
  ...(mode === 'bare' ? ['catch ring'] : []), // no VMM to exit to: stop at the IRET back to ring 3 instead
  'continue',
  'exits 2',
  'info gdt',
  'info tss',
  'info mem',
  'info tlb',
  'info vmcs',
  'info ept',
  'info shadow',
  'info pv',
  'info slots',
  'info frames',
  'stats',
  'disas',
  'list',
  'delete',
  'finish',
  'quit',
];

describe.concurrent('minivisor debug on the toy kernel, in every memory mode, with the translation cache on', () => {
  const modes: [mode: string, file: string][] = [['bare', KERNEL], ['ept', KERNEL], ['shadow', KERNEL], ['pv', KERNEL_PV]];
  it.each(modes)('--mode %s: break, step into int 0x80, the IDT gate, translate, exits, every table', async (mode, file) => {
    const r = await debug([file, '--mode', mode, '--exit-port', '0xf4'], tour(mode));
    const out = r.stdout;
    expect(r.stderr).toBe('');
    expect(out).toContain(`Stopped before the first instruction`);
    expect(out).toContain('Breakpoint 1, 0x40000021 <uprint+0x21>');
    expect(out).toContain('=> 001B:40000026 <uprint+0x26>  cd 80                int 0x80');
    expect(out).toMatch(/0x80 {2}32-bit interrupt gate {2}0008:[0-9A-F]{8} <isr_0x80> {2}DPL 3 {2}present/);
    expect(out).toContain('(int 0x80 at 001B:40000026, CPL 3: delivered, so the step ends in its handler)');
    expect(out).toMatch(/=> 0008:[0-9A-F]{8} <isr_0x80>/);
    expect(out).toContain('cpl 0  mode protected, 32-bit code, paging on');
    expect(out).toMatch(/GVA 0x400000[0-9A-F]{2} <counter\.line\+0x[0-9a-f]+> {2}\(mode /);
    expect(out).toMatch(/PTE\[ {3}0\] at (GPA|machine address) 0x[0-9A-F]{8} = 0x[0-9A-F]{8} {2}P RO U A/);
    expect(out).toMatch(/<counter\.line\+0x[0-9a-f]+>:  "counter: line "/);
    if (mode === 'ept') expect(out).toMatch(/PT {2}\[[ 0-9]+\] in table 0x[0-9A-F]{8} = 0x[0-9A-F]{8} {2}rwx/);
    if (mode === 'shadow') expect(out).toMatch(/shadow page table \(the one the CPU walks, rooted at CR3 0x[0-9A-F]{8}\): entry 0x[0-9A-F]{8} {2}P RO U A/);
    if (mode === 'pv') expect(out).toMatch(/machine address 0x[0-9A-F]{8}: its pseudo-physical frame \(M2P\) gives the GPA/);
    if (mode === 'bare') {
      expect(out).toContain('error: catch: there is no VMM to exit to in --mode bare');
      expect(out).toContain('Catchpoint 2: the CPL went from 0 to 3.');
      expect(out).toContain('No VM exits in --mode bare');
      expect(out).toContain('No VMCS in --mode bare');
      expect(r.status).toBe(1); // a script whose command failed
    } else {
      expect(out).toMatch(/Catchpoint 2: VM exit 30 I\/O instruction: (in from|out to) port 0x03F[8D], 1 byte, at 0008:[0-9A-F]{8}; the VMM has handled it\./);
      expect(out).toMatch(/ 30 I\/O instruction: (in from|out to) port 0x03F[8D], 1 byte/);
      expect(out).toContain('cpu_based_vm_exec_control');
      expect(r.status).toBe(0);
    }
    expect(out).toContain('32-bit TSS (busy)');
    expect(out).toMatch(/SS0:ESP0 0x0010:0x[0-9A-F]{8}/);
    expect(out).toMatch(/0x40000000-0x40000FFF -> 0x[0-9A-F]{8}-0x[0-9A-F]{8} +4 KiB {2}r- user/);
    expect(out).toMatch(/TLB: \d+ pages cached/);
    expect(out).toContain(mode === 'ept' ? 'EPT: EPTP 0x' : `No EPT in --mode ${mode}`);
    expect(out).toContain(mode === 'shadow' ? 'Shadow page tables: the guest\'s CR3 is 0x' : `No shadow page tables in --mode ${mode}`);
    expect(out).toContain(mode === 'pv' ? 'Paravirtual paging: the guest\'s paging is on' : `No paravirtual paging in --mode ${mode}`);
    expect(out).toContain('Memory slots (KVM_SET_USER_MEMORY_REGION)');
    expect(out).toMatch(/Host frames: \d+ of \d+ in use/);
    expect(out).toMatch(/\d+ instructions \(mode /);
    // The I/O exit is the kernel's COM1 polling; in bare mode the stop is back in ring 3.
    expect(out).toMatch(mode === 'bare' ? /guests\/kernel\/user\.asm:\n/ : /guests\/kernel\/console\.asm:\n/);
    expect(out).toMatch(/Run till exit: returned to 0x[0-9A-F]{8}/);
  });
});

describe('minivisor debug, scripted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'minivisor-debug-'));
  const GUEST = join(ROOT, 'test', 'fixtures', 'guests', 'ring3-syscall.asm');

  it('stops at the first exception of a chain that triple-faults, says why, and lets it happen on continue', async () => {
    const r = await debug([GUEST, '-D', 'GATE_DPL0', '--debugcon', '0xe9', '--exit-port', '0xf4'], ['continue', 'info fault', 'continue', 'quit']);
    expect(r.stdout).toContain('The next instruction triple-faults: a triple fault: #NP while delivering a double fault, in a chain that began with #GP(0x0402: IDT vector 0x80)');
    expect(r.stdout).toMatch(/=> 001B:00007CDA <user\+0x5> {2}cd 80 +int 0x80/);
    expect(r.stdout).toContain('INT 0x80 from CPL 3 needs a gate with DPL 3 or more; this gate has DPL 0');
    expect(r.stdout).toContain('The guest shut down: a triple fault');
    expect(r.status).toBe(0);
  });

  it('-x runs a file of commands first, --no-stop then runs until a breakpoint; a failing command in a file names its line', async () => {
    const script = join(dir, 'setup.gdb');
    writeFileSync(script, '# break where the system call is made\nbreak syscall\nbogus-command\n');
    const r = await debug([GUEST, '--debugcon', '0xe9', '--exit-port', '0xf4', '-x', script, '--no-stop'], ['print cpl', 'continue']);
    expect(r.stdout).toContain('error: unknown command \'bogus-command\'');
    expect(r.stdout).toContain(`(in ${script}:3)`);
    expect(r.stdout).toMatch(/Breakpoint 1, 0x00007CD[0-9A-F] <syscall>/);
    expect(r.stdout).toContain('= 0x00000000 (0)'); // in ring 0 at the handler
    expect(r.stdout).toContain('The guest wrote to the exit port: exit status 1.');
    expect(r.status).toBe(1); // the bad line
  });

  it('a disk image with a symbol map from minivisor asm --symbols gets its labels and source lines', async () => {
    const image = join(dir, 'ring3.img');
    const map = join(dir, 'ring3.map');
    const asm = spawn(process.execPath, [join(ROOT, 'bin', 'minivisor.js'), 'asm', GUEST, '-o', image, '--symbols', map], { cwd: ROOT });
    await new Promise((resolve) => asm.on('close', resolve));
    const r = await debug(['--fda', image, '--symbols', map, '--debugcon', '0xe9'], ['break user', 'continue', 'list', 'info symbols sys']);
    expect(r.stdout).toContain('Breakpoint 1, 0x00007CD5 <user>');
    expect(r.stdout).toMatch(/=>\s+\d+\s+ mov eax, 4/);
    expect(r.stdout).toMatch(/0x00007cd[0-9a-f] {2}syscall/);
    expect(r.status).toBe(0);
  });

  it('mistakes in the options are clear errors before the guest starts', async () => {
    const missing = await debug([GUEST, '-x', join(dir, 'no-such-file')], []);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/minivisor: -x: .*no-such-file.*/);
    const badMap = join(dir, 'bad.map');
    writeFileSync(badMap, 'this is no symbol map\n');
    const bad = await debug([GUEST, '--symbols', badMap], []);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('is it a map from \'minivisor asm --symbols\'?');
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });
});
