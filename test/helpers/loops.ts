/**
 * Guests of loops over several blocks, for the tests of what runs them without decoding each
 * instruction: the interpreter's block loop (test/cpu/interpreter.test.ts) and regions
 * (test/jit/regions.test.ts).
 */
import { random } from './random-code.ts';
import { ENTER_FLAT_PM, startTimer } from './run-asm.ts';

/** An interrupt gate for `vector` to `handler` in an IDT at 0x1000 (flat code selector 8). */
export const gate = (vector: number, handler: string) => `
  mov eax, ${handler}
  mov word [0x1000 + ${vector} * 8], ax
  mov word [0x1000 + ${vector} * 8 + 2], 8
  mov word [0x1000 + ${vector} * 8 + 4], 0x8e00
  shr eax, 16
  mov word [0x1000 + ${vector} * 8 + 6], ax`;
export const LOAD_IDT = `
  lidt [idt_desc]
  jmp idt_loaded
idt_desc:
  dw 0x7ff
  dd 0x1000
idt_loaded:`;

/** A loop of three blocks: an `if` on the counter's bit 2, and memory in two of them. */
export const BRANCHY = `${ENTER_FLAT_PM}
  mov ecx, 3000
  xor eax, eax
  mov ebx, 0x12345678
  mov edi, 0x100000
  mov dword [edi], 5
top:
  add eax, ebx
  sub eax, ecx
  jnz .carry
.carry:
  sbb ebp, 0          ; the SUB's CF, read across a block boundary
  mov edx, ecx
  and edx, 4
  jz .skip
  xor ebx, eax
  add [edi], ebx
  sub eax, 3
.skip:
  rol ebx, 3
  mov esi, [edi]
  adc eax, esi
  dec ecx
  jnz top
  mov [0x500], eax
  hlt`;

/**
 * A random loop of several blocks (seeded): random ALU, shift, memory and flag-reading
 * instructions, each block ending in a random Jcc to a later block (so the loop ends: only its
 * closing DEC/JNZ goes back), for the flags deferred across a region's blocks.
 */
export function randomLoop(seed: number): string {
  const next = random(seed);
  const pick = <T,>(items: readonly T[]): T => items[next() % items.length];
  const regs = ['eax', 'ebx', 'edx', 'esi', 'ebp'];
  const cc = ['o', 'no', 'c', 'nc', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  const imm = () => String(next() | 0);
  const mem = () => `[edi + ${4 * (next() % 8)}]`;
  const forms: (() => string)[] = [
    () => `${pick(['add', 'sub', 'and', 'or', 'xor', 'adc', 'sbb', 'cmp'])} ${pick(regs)}, ${pick(regs)}`,
    () => `${pick(['add', 'sub', 'and', 'or', 'xor', 'adc', 'sbb', 'cmp'])} ${pick(regs)}, ${imm()}`,
    () => `test ${pick(regs)}, ${pick(regs)}`,
    () => `${pick(['inc', 'dec', 'neg', 'not'])} ${pick(regs)}`,
    () => `${pick(['shl', 'shr', 'sar', 'rol', 'ror'])} ${pick(regs)}, ${1 + (next() % 31)}`,
    () => `${pick(['rcl', 'rcr'])} ${pick(regs)}, 1`,
    () => `${pick(['add', 'sub', 'xor', 'adc'])} dword ${mem()}, ${pick(regs)}`,
    () => `${pick(['mov', 'add', 'sbb'])} ${pick(regs)}, ${mem()}`,
    () => `mov ${mem()}, ${pick(regs)}`,
    () => `set${pick(cc)} al`,
    () => 'pushfd\n  pop edx',
    () => `lea ${pick(regs)}, [${pick(regs)} + ${pick(regs)} * 4 + ${next() % 100}]`,
  ];
  const blocks = 2 + (next() % 5);
  const lines = [ENTER_FLAT_PM, '  mov ecx, 200', '  mov edi, 0x100000', ...regs.map((r) => `  mov ${r}, ${imm()}`), 'top:'];
  for (let b = 0; b < blocks; b++) {
    lines.push(`b${b}:`);
    for (let i = 1 + (next() % 5); i > 0; i--) lines.push(`  ${pick(forms)()}`);
    if (b < blocks - 1) lines.push(`  j${pick(cc)} b${b + 1 + (next() % (blocks - b))}`);
  }
  lines.push(`b${blocks}:`, '  dec ecx', '  jnz top', '  hlt');
  return lines.join('\n');
}

/** The end of a timer interrupt's handler: end of interrupt at the PIC, and return. */
export const EOI_IRET = `
  push eax
  mov al, 0x20
  out 0x20, al
  pop eax
  iret`;

/**
 * A loop of three blocks with the PIT's interrupt on (vector 0x20) until its handler has counted
 * 20 ticks at 0x600 (EDX, at the last, at 0x604): where each comes depends on virtual time.
 */
export const TICKING = `${ENTER_FLAT_PM}${gate(0x20, 'tick')}${LOAD_IDT}
  ${startTimer(0x20, 300)}
  mov dword [0x600], 0
  sti
  mov ebx, 7
work:
  add eax, ebx
  test eax, 8
  jz .quiet
  rol ebx, 1
.quiet:
  inc edx
  cmp dword [0x600], 20
  jb work
  cli
  hlt
tick:
  inc dword [0x600]
  mov [0x604], edx${EOI_IRET}`;

/**
 * DIV by ECX in a loop counting ECX down to a divide by zero, placed in the loop's first block
 * (`first`, with a JMP after it to cut the block there) or in a later one (`later`): the #DE
 * handler keeps the saved EIP at 0x500, ECX at 0x504 and the time-stamp counter at 0x508.
 */
export const countdownToDivideByZero = (first: string, later: string) => `${ENTER_FLAT_PM}${gate(0, 'de_handler')}${LOAD_IDT}
  mov ecx, 200
spin:
  mov eax, 1000
  xor edx, edx
  add ebx, ecx
  ${first}
  add esi, eax
  test ecx, 1
  jnz .odd
  ${later}
  add ebp, edx
.odd:
  dec ecx
  jmp spin
de_handler:
  pop dword [0x500]
  mov [0x504], ecx
  rdtsc
  mov [0x508], eax
  hlt`;
