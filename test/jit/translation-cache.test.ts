/**
 * The translation cache must be invisible (DESIGN §6: the interpreter is the authority). Each
 * test runs a guest twice, with blocks compiled on their first run (compileThreshold 1) and
 * with the interpreter alone (no compiler), and asks for the same machine at the end: the
 * architectural state, the instructions retired, and all of RAM. Faults in compiled blocks must be precise, the
 * budget exact, and code that rewrites a compiled block must run its new bytes.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuestImage } from '../../src/cli/run-command.ts';
import { compiledSource } from '../../src/jit/translation-cache.ts';
import { Machine } from '../../src/machine/machine.ts';
import { boot, guestImage, ROOT } from '../firmware/harness.ts';
import { randomCodeMachine } from '../helpers/random-code.ts';
import { ENTER_FLAT_PM, realModeWithHandler, runAsm } from '../helpers/run-asm.ts';
import { expectSameMachine } from '../helpers/same-machine.ts';

const compileAtOnce = (m: Machine) => void (m.cpu.compileThreshold = 1);
/**
 * The guests of the first tests run compiled both ways: on their first run, when a block's
 * successors are not decoded yet (a block alone), and on their third, when a loop's other blocks
 * are: then a block is compiled with them as a region (src/jit/region.ts).
 */
let threshold = 1;
const compileSoon = (m: Machine) => void (m.cpu.compileThreshold = threshold);

const interpretOnly = (m: Machine) => void (m.cpu.compiler = null);

function bothWays(source: string, maxInstructions = 1_000_000, compileAt = threshold) {
  const compiled = runAsm(source, { maxInstructions, prepare: (m) => void (m.cpu.compileThreshold = compileAt) });
  const interpreted = runAsm(source, { maxInstructions, prepare: interpretOnly });
  expect(compiled.machine.cpu.blocks.compiledCount).toBeGreaterThan(0);
  expect(interpreted.machine.cpu.blocks.compiledCount).toBe(0);
  expectSameMachine(compiled.machine, interpreted.machine);
  expect(compiled.outcome).toEqual(interpreted.outcome);
  expect(compiled.output).toBe(interpreted.output);
  return compiled;
}

/** loop.asm's loop and more forms the cache writes out (emit.ts), in 8-, 16- and 32-bit sizes. */
const LOOP = `${ENTER_FLAT_PM}
  mov ecx, 5000
  xor eax, eax
  mov ebx, 0x12345678
  mov edi, 0x100000
  mov dword [edi], 7
hot:
  add eax, ebx
  xor ebx, eax
  rol ebx, 3
  add [edi], eax
  mov esi, [edi]
  sub si, bx
  adc dl, al
  sbb dh, 3
  shr esi, 1
  sar word [edi+2], 2
  rcl bl, 1
  inc byte [edi+1]
  dec dx
  lea ebp, [eax+ebx*4+12]
  push ebp
  pop edx
  test dl, 1
  jz .even
  cmp eax, ebx
  movzx ebp, byte [edi]
  imul edx, eax, 0x9e3779b1   ; its flags dead: the next IMUL sets them all
  imul esi, edx
  xor eax, esi
  imul bp, [edi], -3
  movsx edx, byte [edi+3]
  add eax, edx
  movsx bp, bl
  movzx esi, word [edi+2]
  imul si, dx
  add eax, esi
.even:
  dec ecx
  jnz hot
  mov [0x500], eax
  hlt`;

describe.each([1, 3])('the translation cache, blocks compiled at their run %i', (at) => {
  beforeAll(() => void (threshold = at));

  it('compiles hot blocks to functions named after their address, and they run as the interpreter does', () => {
    const run = bothWays(LOOP);
    expect(run.outcome.kind).toBe('halted');
    const compiled = [...run.machine.cpu.blocks['blocks'].values()].filter((b) => b.compiled !== null);
    expect(compiled.length).toBeGreaterThan(0);
    for (const block of compiled) expect(block.compiled!.name).toMatch(new RegExp(`^(block|region)_[0-9a-f]{8}_${block.key & 1 ? 32 : 16}$`));
    // The hot loop, in the boot sector at 0x7C00: named after its linear address; it ends in a
    // branch back to its own start, so its function loops within itself.
    const hot = compiled.reduce((a, b) => (b.insns.length > a.insns.length ? b : a));
    const linear = parseInt(hot.compiled!.name.split('_')[1], 16);
    expect(linear).toBeGreaterThan(0x7c00);
    expect(linear).toBeLessThan(0x7e00);
    expect(compiledSource(hot.insns, 'hot')).toContain('for (;;)');
  });

  it('runs guests/bench/loop.asm, ALU and MEMOP, as the interpreter does', () => {
    for (const memop of ['0', '1']) {
      const image = loadGuestImage(join(ROOT, 'guests', 'bench', 'loop.asm'), { ITERS: '20000', MEMOP: memop });
      const run = (prepare: (m: Machine) => void) => {
        let serial = '';
        const machine = new Machine({
          memoryBytes: 4 << 20, loads: [{ address: 0x7c00, bytes: image }], entry: { segment: 0, offset: 0x7c00 }, exitPort: 0xf4,
          serial: (byte) => void (serial += String.fromCharCode(byte)),
        });
        prepare(machine);
        return { machine, outcome: machine.run(10_000_000), serial };
      };
      const compiled = run(compileSoon);
      const interpreted = run(interpretOnly);
      expect(compiled.serial).toMatch(/^SE[0-9A-F]{8}\n$/);
      expect(compiled.serial).toBe(interpreted.serial);
      expect(compiled.outcome).toEqual({ kind: 'exit', status: 1 });
      expectSameMachine(compiled.machine, interpreted.machine);
    }
  });

  it('stops a compiled loop at the budget on the exact instruction', () => {
    for (const budget of [1_001, 12_345, 40_000]) {
      const run = bothWays(LOOP, budget);
      expect(run.outcome.kind).toBe('limit');
    }
  });

  it('a fault inside a compiled block leaves the state of the faulting instruction', () => {
    // DIV by ECX counts down to a divide by zero in the middle of a hot block; the handler
    // (IVT vector 0, real mode) records the saved IP and the registers.
    const run = bothWays(`
      ${realModeWithHandler(0, 'de_handler')}
      mov ecx, 300
    spin:
      mov eax, 1000
      xor edx, edx
      add ebx, ecx
      div ecx
      add esi, eax
      dec ecx
      jmp spin
    de_handler:
      pop word [0x500]   ; IP of the DIV
      mov [0x504], ecx
      hlt`);
    expect(run.machine.phys.read(0x504, 4)).toBe(0);
    const divAt = run.machine.phys.read(0x500, 2);
    expect(run.machine.phys.read(divAt, 2)).toBe(0xf766); // 66 F7 F1: DIV ECX
  });

  it('registers live in locals: their 8- and 16-bit parts, PUSH and POP of ESP, calls between, and a fault part-way', () => {
    // A #GP in the 128th round (a dword read past DS's 64 KiB) must see every register as the
    // interpreter leaves it, though the block keeps them in locals and writes them back only as it leaves.
    const run = bothWays(`
      ${realModeWithHandler(13, 'gp_handler')}
      mov ecx, 200
      mov esi, 0xff00
      mov ebx, 0x1234
    hot:
      mov ah, bl
      add al, ah
      mov bh, cl
      inc bh
      xchg ecx, edx           ; calls of semantics functions between written-out instructions
      xchg ecx, edx
      push esp
      pop edi
      push bx
      pop dx
      add di, dx
      add si, 2
      mov eax, [esi]          ; at SI = 0xFFFE: past DS's limit
      dec ecx
      jnz hot
      hlt
    gp_handler:
      pop word [0x500]
      mov [0x504], ecx
      hlt`);
    expect(run.machine.phys.read(0x504, 4)).toBe(200 - 126); // the 127th round, before its DEC
    const flat = bothWays(`${ENTER_FLAT_PM}
      mov ecx, 100
    hot:
      mov ebp, esp
      sub ebp, ecx
      push ebp
      pop esp                 ; ESP = the value popped, not the incremented one
      push esp                ; ESP as it was before the push
      pop eax
      sub eax, esp
      add ebx, eax
      add esp, ecx
      dec ecx
      jnz hot
      mov [0x500], ebx
      mov [0x504], esp
      hlt`);
    expect(flat.machine.phys.read(0x500, 4)).toBe(0);
    expect(flat.machine.phys.read(0x504, 4)).toBe(0x90000);
  });

  // DEC/JNZ, CMP/JNE, a 16-bit DEC, INC/JNS, TEST/JNZ, shifts and rotates: each loop's branch tests the result
  // itself and the flags are recorded only as the loop leaves (translation-cache.ts,
  // closingBranch); PUSHFD after each shows them. The last loop faults (#DE, and with no IDT a
  // shutdown) in a round after one whose flags were deferred.
  const CLOSING_BRANCHES = `${ENTER_FLAT_PM}
      mov ecx, 1000
      xor eax, eax
    l1:
      add eax, ecx
      dec ecx
      jnz l1
      pushfd
      pop dword [0x500]
    l2:
      inc edx
      cmp edx, 2000
      jne l2
      pushfd
      pop dword [0x504]
      mov cx, 500
    l3:
      add ebx, 3
      dec cx
      jnz l3
      pushfd
      pop dword [0x508]
      mov bl, 0
    l4:
      inc bl
      jns l4
      pushfd
      pop dword [0x50c]
      mov esi, 0x1000
    l5:
      lea esi, [esi + 1]
      test esi, 0x3ff
      jnz l5
      pushfd
      pop dword [0x510]
      mov ecx, 700
    l8:
      rol ebx, 3              ; CF and OF; then SHR sets all six, DEC all but CF: each recorded as the loop leaves
      shr edx, 1
      or edx, ebx
      dec ecx
      jnz l8
      pushfd
      pop dword [0x514]
      mov ecx, 300
    l9:
      rcl ebx, 1              ; reads CF: it and what comes before it keep their flags every round
      sar ebx, 2
      sub eax, 3
      dec ecx
      jnz l9
      pushfd
      pop dword [0x518]
      mov ecx, 100
      mov ebx, 50
    l6:
      add eax, 1
      xor edx, edx
      div ebx
      dec ebx
      dec ecx
      jnz l6
      hlt`;

  it('a loop whose branch tests its counter directly leaves the flags the interpreter does, at its end, at a budget and at a fault', () => {
    const run = bothWays(CLOSING_BRANCHES);
    expect(run.outcome.kind).toBe('shutdown');
    expect(run.machine.phys.read(0x500, 4) & 0x8d5).toBe(0x44); // ZF PF after DEC to 0
    expect(run.machine.phys.read(0x50c, 4) & 0x880).toBe(0x880); // SF OF after INC to 0x80
    // Budgets that end it inside each of its loops.
    const total = run.machine.cpu.instructions;
    for (const part of [0.05, 0.13, 0.21, 0.34, 0.47, 0.55, 0.62, 0.71, 0.83, 0.9, 0.97]) expect(bothWays(CLOSING_BRANCHES, Math.round(total * part)).outcome.kind).toBe('limit');
    // Here the DIV sees the flags of the previous round's DEC ECX: they must be recorded every round.
    expect(bothWays(`${ENTER_FLAT_PM}
      mov ecx, 100
      mov ebx, 50
      mov eax, 7
    l7:
      mov edx, 0              ; (no flags: the DIV is the first to see them)
      div ebx
      dec ebx
      add eax, 9
      dec ecx
      jnz l7
      hlt`).outcome.kind).toBe('shutdown');
  });

  it('flags recorded only where something can see them: a fault part-way through a round sees those of the instructions before it', () => {
    // XOR, ROL and ADD [ESI] keep their flags as operands until a fault (a dword past DS's
    // 64 KiB: #GP, whose handler keeps the FLAGS pushed) or the loop's end needs them.
    const real = bothWays(`
      ${realModeWithHandler(13, 'gp_handler')}
      mov ecx, 5000
      mov esi, 0xff00
      mov ebx, 0x12345
    hot:
      add eax, ebx
      xor ebx, eax
      rol ebx, 3
      add [esi], eax
      mov edx, [esi]
      add si, 1
      dec ecx
      jnz hot
      hlt
    gp_handler:
      pop word [0x500]
      pop word [0x502]
      pop word [0x504]
      hlt`);
    expect(real.machine.phys.read(0x500, 2)).toBeGreaterThan(0);
    // An RCL reads CF though its own flags are dead (the SUB sets them again): the ADD's record
    // is made before it, every round.
    bothWays(`${ENTER_FLAT_PM}
      mov ecx, 1000
      mov ebx, 0x9abcdef1
    hot:
      add eax, ebx
      rcl edx, 1
      sub esi, 1
      dec ecx
      jnz hot
      mov [0x500], edx
      hlt`);
    // The same in flat protected mode, where the loop takes its own branch: a dword at
    // 0xFFFFFFFE wraps past the limit (#GP; no IDT: shutdown, with the flags as they were).
    for (const budget of [1_000_000, 333, 777]) {
      bothWays(`${ENTER_FLAT_PM}
        mov ecx, 5000
        mov esi, 0xfffffffe - 0x100
        mov ebx, 0x12345
      hot:
        add eax, ebx
        xor ebx, eax
        rol ebx, 3
        add [esi], eax
        mov edx, [esi]
        inc esi
        dec ecx
        jnz hot
        hlt`, budget);
    }
  });

  it('single-stepping a compiled loop shows the guest its exact flags after every instruction', () => {
    // The loop's ADD and XOR have flags nobody reads before they are set again, so compiled they
    // leave them alone; but with TF set each instruction traps, and the #DB handler sums the
    // FLAGS image it was given.
    const run = bothWays(`
      ${realModeWithHandler(1, 'db_handler')}
      mov bx, 0x1234
      mov cx, 100
    warm:                   ; run the loop hot first, without TF, so that it is compiled
      mov dx, 5
      call body
      loop warm
      mov dx, 40
      pushf
      pop ax
      or ax, 0x100          ; TF
      push ax
      popf
      call body
      pushf
      pop ax
      and ax, ~0x100
      push ax
      popf
      hlt
    body:
      add ax, bx
      xor bx, ax
      shl bx, 1
      add si, 7
      sub di, ax
      dec dx
      jnz body
      ret
    db_handler:
      push bp
      mov bp, sp
      mov bp, [bp+6]        ; the FLAGS image
      and bp, 0x8d5         ; the arithmetic flags
      add [0x600], bp
      rol word [0x600], 1
      pop bp
      iret`);
    expect(run.outcome.kind).toBe('halted');
    expect(run.machine.phys.read(0x600, 2)).not.toBe(0);
  });

  it('code that rewrites its compiled loop runs its new bytes from the next instruction boundary', () => {
    const run = bothWays(`${ENTER_FLAT_PM}
      mov ecx, 100
      xor eax, eax
    again:
      add eax, 1          ; 83 C0 01: its immediate byte is at again + 2
      cmp ecx, 51
      jne .same
      mov byte [again + 2], 2
    .same:
      dec ecx
      jnz again
      mov [0x500], eax
      hlt`);
    expect(run.machine.phys.read(0x500, 4)).toBe(50 * 1 + 50 * 2);
    // A write to its own code stops the block right after it: the ADD's flags, kept as its
    // operands until then, must be in EFLAGS for the PUSHFD that runs next.
    const stops = bothWays(`${ENTER_FLAT_PM}
      mov ecx, 100
      mov eax, -50
    again:
      add eax, 1
      mov byte [again + 2], 1
      pushfd
      pop edx
      add [0x600], edx        ; every round's flags, summed
      dec ecx
      jnz again
      hlt`, 1_000_000, 1); // (it writes its code every round: no block of it runs twice)
    expect(stops.machine.phys.read(0x600, 4)).not.toBe(0);
  });

  it('a read-modify-write in compiled code: one translation where it can, the checked way across a page, into its own code and past a limit', () => {
    // DS's base is 0x100, so its limit is not at a page's end.
    const run = bothWays(`${realModeWithHandler(13, 'gp_handler')}
      mov ecx, 400
      mov esi, 0x2ef0
      mov ax, 0x10
      mov ds, ax
      xor eax, eax
    again:
      add eax, 1              ; 66 83 C0 01: its immediate byte is at again + 3
      add dword [esi], ecx    ; a dword that crosses from 0x2fff into 0x3000 once
      inc esi
      cmp ecx, 201
      jne .same
      inc byte [cs:again + 3] ; into the loop's own code
    .same:
      mov ebx, 400
      sub ebx, ecx
      shl ebx, 6
      add word [ebx + 0xc17f], 1  ; at 0xFFFF when ECX reaches 150: past DS's 64 KiB, #GP
      dec ecx
      jnz again
      hlt
    gp_handler:
      mov [0x400], eax        ; (DS base 0x100: at 0x500)
      mov [0x404], ecx
      hlt`);
    expect(run.machine.phys.read(0x504, 4)).toBe(150);
    expect(run.machine.phys.read(0x500, 4)).toBe(200 * 1 + 51 * 2);
  });

  it('accesses through flat segments skip the segment checks only while the segment is flat, and never where an access wraps past 4 GiB', () => {
    // DS changes every round (LDS: a call inside the block), between flat and 64 KiB: the round
    // with the 64 KiB segment must #GP once ESI passes 0xFFFC (and with no IDT, shut down).
    const run = bothWays(`${ENTER_FLAT_PM}
      mov dword [0x800], 0
      mov dword [0x804], 0
      mov dword [0x808], 0x0000ffff
      mov dword [0x80c], 0x00cf9a00  ; 0x08: flat code
      mov dword [0x810], 0x0000ffff
      mov dword [0x814], 0x00cf9200  ; 0x10: flat data
      mov dword [0x818], 0x0000ffff
      mov dword [0x81c], 0x00009200  ; 0x18: data, base 0, 64 KiB
      mov word [0x820], 0x1f
      mov dword [0x822], 0x800
      lgdt [0x820]
      mov ecx, 3000
      mov esi, 0xf000
      mov dword [0x10000], 0  ; (the page past 64 KiB is in the TLB: only the segment check stops the access)
    hot:
      mov word [0x834], 0x18
      test ecx, 1
      jz .small
      mov word [0x834], 0x10
    .small:
      lds edx, [0x830]        ; DS = the selector at 0x834
      add dword [esi], ecx
      mov ebx, [esi]
      mov [esi], bl
      add esi, 4
      dec ecx
      jnz hot
      hlt`);
    expect(run.outcome.kind).toBe('shutdown');
    expect(run.machine.cpu.reg[6]).toBe(0x10000);
    // A flat segment's dword at 0xFFFFFFFE wraps past its limit: #GP, not a read.
    const wraps = bothWays(`${ENTER_FLAT_PM}
      mov ecx, 100
      mov esi, 0xfffffffe - 0x40
    hot:
      mov edx, [esi]
      add esi, 0x10
      dec ecx
      jnz hot
      hlt`);
    expect(wraps.outcome.kind).toBe('shutdown');
    expect(wraps.machine.cpu.reg[6] >>> 0).toBe(0xfffffffe);
  });

  it('a compiled loop sees a TLB flush as the interpreter does: the next fetch walks the tables again', () => {
    // Paging on; the loop marks its own code page not present without INVLPG, then touches a
    // new linear page each time round. When the TLB's 4,096 entries are full it is flushed, and
    // the next fetch of the loop faults (no IDT: a triple fault) at the same iteration.
    const run = bothWays(`${ENTER_FLAT_PM}
      mov edi, 0x11000        ; page table 0: the first 4 MiB, identity
      mov eax, 0x007
    .pt0:
      mov [edi], eax
      add eax, 0x1000
      add edi, 4
      cmp edi, 0x12000
      jne .pt0
      mov edi, 0x12000        ; page table 1: every page on frame 0x20000
    .pt1:
      mov dword [edi], 0x20007
      add edi, 4
      cmp edi, 0x13000
      jne .pt1
      mov edi, 0x10000        ; the directory: 4 MiB identity, then 24 MiB of aliases
      mov ecx, 1024
      xor eax, eax
      rep stosd
      mov dword [0x10000], 0x11007
      mov edi, 0x10004
    .pd:
      mov dword [edi], 0x12007
      add edi, 4
      cmp edi, 0x1001c
      jne .pd
      mov eax, 0x10000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      jmp .go
    .go:
      mov esi, 0x400000
      mov ecx, 6000
    hot:
      mov dword [0x1101c], 0  ; the PTE of this code's page (0x7000): not present, no INVLPG
      mov eax, [esi]
      add esi, 4096
      test ecx, 1             ; (an if: compiled at the third run, the loop is a region)
      jz .even
      inc ebx
    .even:
      dec ecx
      jnz hot
      hlt`, 2_000_000);
    expect(run.outcome.kind).toBe('shutdown');
    expect(run.machine.cpu.reg[1]).toBeGreaterThan(0); // it faulted part-way, not after the 6,000th round
  });

});

describe('the translation cache', () => {
  // In parts: as one test they took 53 s of a 60 s timeout on a loaded CI machine (random
  // real-mode code compiled at once compiles ~300 blocks a seed, at ~1.5 ms each).
  it.each([
    { mode: 'real mode', protectedMode: false, first: 1, last: 20 },
    { mode: 'real mode', protectedMode: false, first: 21, last: 40 },
    { mode: 'real mode', protectedMode: false, first: 41, last: 60 },
    { mode: 'flat protected mode', protectedMode: true, first: 1, last: 60 },
    { mode: 'flat protected mode, compiled at the third run (regions)', protectedMode: true, first: 1, last: 60, at: 3 },
  ])('random code runs the same compiled as interpreted ($mode, seeds $first-$last)', ({ protectedMode, first, last, at }) => {
    for (let seed = first; seed <= last; seed++) {
      const compiled = randomCodeMachine(seed, protectedMode, 2 << 20, (m) => void (m.cpu.compileThreshold = at ?? 1));
      const interpreted = randomCodeMachine(seed, protectedMode, 2 << 20, interpretOnly);
      const a = compiled.run(20_000);
      const b = interpreted.run(20_000);
      expect({ seed, ...a }).toEqual({ seed, ...b });
      expectSameMachine(compiled, interpreted);
    }
  });

  it.each(['timer', 'keyboard'])('guests/%s boots the same compiled as interpreted', (name) => {
    const keys = name === 'keyboard' ? ['Hello!', '\n'] : undefined;
    const compiled = boot({ floppy: guestImage(name), keys, prepare: compileAtOnce });
    const interpreted = boot({ floppy: guestImage(name), keys, prepare: interpretOnly });
    expect(compiled.text).toBe(interpreted.text);
    expect(compiled.outcome).toEqual(interpreted.outcome);
    expectSameMachine(compiled.machine, interpreted.machine);
  });

  it('the toy kernel runs the same compiled as interpreted, under the VMM too', () => {
    for (const mode of ['bare', 'shadow'] as const) {
      const options = { floppy: guestImage('kernel'), memoryBytes: 32 << 20, exitPort: 0xf4, maxInstructions: 2_000_000_000, mode };
      const compiled = boot({ ...options, prepare: compileAtOnce });
      const interpreted = boot({ ...options, prepare: interpretOnly });
      expect(compiled.outcome).toEqual({ kind: 'exit', status: 1 });
      expect(compiled.text).toBe(interpreted.text);
      expectSameMachine(compiled.machine, interpreted.machine);
    }
  });
});
