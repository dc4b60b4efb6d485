/**
 * The instruction forms the assembler knows, as data: mnemonic, operand patterns, where each
 * operand goes, and the encoding. Rows of one mnemonic are tried in order and the first that
 * fits wins, so the order is the order in which nasm prefers its encodings (e.g. `mov ax,bx`
 * takes 89 /r, `add ax,5` takes 83 /0 ib before 05 iw). Families that differ only in a number
 * (the eight ALU operations, Jcc, SETcc, CMOVcc, shifts) are written once and expanded.
 *
 * Operand patterns:
 *   r8 r16 r32        general register of that size      rm8 rm16 rm32  register or memory
 *   m                 memory of any size (size implied)  m8 m16 m32 m64 memory of that size
 *   al ax eax cl dx es cs ss ds fs gs   that register     sreg cr dr tr  register classes
 *   i8 i16 i32        immediate                          s8  immediate that fits a sign-extended byte
 *   ib8               immediate written as `byte`        one the constant 1
 *   rel8              short jump target, chosen when it reaches; rel8! always short (LOOP, JCXZ)
 *   rel               near jump target (16/32 by operand size)
 *   far               `seg:offset` immediate             mfar memory with `far`
 *   moffs             memory with a bare displacement (the A0-A3 forms of MOV)
 * Roles, one letter per operand: r = ModRM.reg (or +r), m = ModRM.rm, b = both (IMUL r,imm),
 *   i = immediate bytes in order, - = implied by the opcode.
 * Encoding tokens: o16/o32 operand size (66 when it differs from BITS), a16/a32 address size,
 *   hex opcode bytes, xx+r register in the opcode, /r or /0../7 ModRM, ib ibs iw id immediates,
 *   rb rw rd relative targets, mo moffs displacement, fp far pointer.
 * Flags: d = unsized memory takes the BITS size (JMP/CALL [mem]); u = unsized memory is accepted
 *   at the pattern's size (MOVZX/MOVSX take a byte, like nasm); s = the immediate is the operation's
 *   size, so a size written on it sizes unsized memory (`mov [bx], word 5`, `add [bx], byte 1`:
 *   nasm's SM rows, which the shifts and BT, whose count is a byte of its own, are not).
 */

/** One encoding token, decoded once when the table is built. */
export interface Step {
  kind: 'byte' | '+r' | '/r' | '/n' | 'ib' | 'ibs' | 'iw' | 'id' | 'mo' | 'fp' | 'rb' | 'rw' | 'rd';
  /** The opcode byte (byte, +r) or the ModRM reg field (/n). */
  value: number;
}

export interface Form {
  mnemonic: string;
  operands: string[];
  roles: string;
  encoding: string[];
  steps: Step[];
  /** Operand indices: the ModRM.reg (or +r) operand, the ModRM.rm operand, the immediates in order. */
  regOperand: number;
  rmOperand: number;
  immediateOperands: number[];
  /** Encoded length without prefixes, counting a relative target's byte (for short jumps). */
  baseLength: number;
  /** 16 or 32 when the encoding has o16/o32, else 0. */
  opsize: number;
  flags: string;
}

/**
 * The rows as written, by mnemonic: [operands, roles, encoding, flags]. They become Forms only
 * when the assembler first meets the mnemonic (see formsOf): building all 666 at import cost
 * every start of minivisor 9 ms, and a source uses a few dozen mnemonics.
 */
const rows = new Map<string, Array<[string, string, string, string]>>();
const row = (mnemonic: string, operands: string, roles: string, encoding: string, flags = ''): void => {
  let list = rows.get(mnemonic);
  if (list === undefined) rows.set(mnemonic, (list = []));
  list.push([operands, roles, encoding, flags]);
};
const hex = (n: number): string => n.toString(16).padStart(2, '0');

// --- Data movement -------------------------------------------------------------------------
row('mov', 'al,moffs', '-i', 'a0 mo');
row('mov', 'ax,moffs', '-i', 'o16 a1 mo');
row('mov', 'eax,moffs', '-i', 'o32 a1 mo');
row('mov', 'moffs,al', 'i-', 'a2 mo');
row('mov', 'moffs,ax', 'i-', 'o16 a3 mo');
row('mov', 'moffs,eax', 'i-', 'o32 a3 mo');
row('mov', 'r16,sreg', 'mr', 'o16 8c /r');
row('mov', 'r32,sreg', 'mr', 'o32 8c /r');
row('mov', 'm,sreg', 'mr', '8c /r');
row('mov', 'sreg,r16', 'rm', '8e /r');
row('mov', 'sreg,r32', 'rm', '8e /r');
row('mov', 'sreg,m', 'rm', '8e /r');
row('mov', 'r32,cr', 'mr', '0f 20 /r');
row('mov', 'r32,dr', 'mr', '0f 21 /r');
row('mov', 'r32,tr', 'mr', '0f 24 /r');
row('mov', 'cr,r32', 'rm', '0f 22 /r');
row('mov', 'dr,r32', 'rm', '0f 23 /r');
row('mov', 'tr,r32', 'rm', '0f 26 /r');
row('mov', 'rm8,r8', 'mr', '88 /r');
row('mov', 'rm16,r16', 'mr', 'o16 89 /r');
row('mov', 'rm32,r32', 'mr', 'o32 89 /r');
row('mov', 'r8,rm8', 'rm', '8a /r');
row('mov', 'r16,rm16', 'rm', 'o16 8b /r');
row('mov', 'r32,rm32', 'rm', 'o32 8b /r');
row('mov', 'r8,i8', 'ri', 'b0+r ib');
row('mov', 'r16,i16', 'ri', 'o16 b8+r iw');
row('mov', 'r32,i32', 'ri', 'o32 b8+r id');
row('mov', 'rm8,i8', 'mi', 'c6 /0 ib', 's');
row('mov', 'rm16,i16', 'mi', 'o16 c7 /0 iw', 's');
row('mov', 'rm32,i32', 'mi', 'o32 c7 /0 id', 's');

for (const [name, byteOp] of [['movzx', 0xb6], ['movsx', 0xbe]] as const) {
  row(name, 'r16,rm8', 'rm', `o16 0f ${hex(byteOp)} /r`, 'u');
  row(name, 'r32,rm8', 'rm', `o32 0f ${hex(byteOp)} /r`, 'u');
  row(name, 'r16,rm16', 'rm', `o16 0f ${hex(byteOp + 1)} /r`);
  row(name, 'r32,rm16', 'rm', `o32 0f ${hex(byteOp + 1)} /r`);
}

row('xchg', 'ax,r16', '-r', 'o16 90+r');
row('xchg', 'eax,r32', '-r', 'o32 90+r');
row('xchg', 'r16,ax', 'r-', 'o16 90+r');
row('xchg', 'r32,eax', 'r-', 'o32 90+r');
row('xchg', 'r8,rm8', 'rm', '86 /r');
row('xchg', 'rm8,r8', 'mr', '86 /r');
row('xchg', 'r16,rm16', 'rm', 'o16 87 /r');
row('xchg', 'rm16,r16', 'mr', 'o16 87 /r');
row('xchg', 'r32,rm32', 'rm', 'o32 87 /r');
row('xchg', 'rm32,r32', 'mr', 'o32 87 /r');

row('push', 'r16', 'r', 'o16 50+r');
row('push', 'r32', 'r', 'o32 50+r');
row('push', 'rm16', 'm', 'o16 ff /6');
row('push', 'rm32', 'm', 'o32 ff /6');
row('push', 'es', '-', '06');
row('push', 'cs', '-', '0e');
row('push', 'ss', '-', '16');
row('push', 'ds', '-', '1e');
row('push', 'fs', '-', '0f a0');
row('push', 'gs', '-', '0f a8');
row('push', 'ib8', 'i', '6a ib');
row('push', 's8', 'i', 'o16 6a ibs');
row('push', 'i16', 'i', 'o16 68 iw');
row('push', 's8', 'i', 'o32 6a ibs');
row('push', 'i32', 'i', 'o32 68 id');
row('pop', 'r16', 'r', 'o16 58+r');
row('pop', 'r32', 'r', 'o32 58+r');
row('pop', 'rm16', 'm', 'o16 8f /0');
row('pop', 'rm32', 'm', 'o32 8f /0');
row('pop', 'es', '-', '07');
row('pop', 'ss', '-', '17');
row('pop', 'ds', '-', '1f');
row('pop', 'fs', '-', '0f a1');
row('pop', 'gs', '-', '0f a9');

// Instructions without operands whose size follows BITS unless a suffix says otherwise.
for (const [plain, op] of [['pusha', 0x60], ['popa', 0x61], ['pushf', 0x9c], ['popf', 0x9d], ['iret', 0xcf]] as const) {
  row(plain, '', '', hex(op));
  row(`${plain}w`, '', '', `o16 ${hex(op)}`);
  row(`${plain}d`, '', '', `o32 ${hex(op)}`);
}
row('cbw', '', '', 'o16 98');
row('cwde', '', '', 'o32 98');
row('cwd', '', '', 'o16 99');
row('cdq', '', '', 'o32 99');
row('lahf', '', '', '9f');
row('sahf', '', '', '9e');
row('xlat', '', '', 'd7');
row('xlatb', '', '', 'd7');

row('lea', 'r16,m', 'rm', 'o16 8d /r');
row('lea', 'r32,m', 'rm', 'o32 8d /r');
for (const [name, code] of [['lds', 'c5'], ['les', 'c4'], ['lfs', '0f b4'], ['lgs', '0f b5'], ['lss', '0f b2']] as const) {
  row(name, 'r16,m', 'rm', `o16 ${code} /r`);
  row(name, 'r32,m', 'rm', `o32 ${code} /r`);
}

row('in', 'al,i8', '-i', 'e4 ib');
row('in', 'ax,i8', '-i', 'o16 e5 ib');
row('in', 'eax,i8', '-i', 'o32 e5 ib');
row('in', 'al,dx', '--', 'ec');
row('in', 'ax,dx', '--', 'o16 ed');
row('in', 'eax,dx', '--', 'o32 ed');
row('out', 'i8,al', 'i-', 'e6 ib');
row('out', 'i8,ax', 'i-', 'o16 e7 ib');
row('out', 'i8,eax', 'i-', 'o32 e7 ib');
row('out', 'dx,al', '--', 'ee');
row('out', 'dx,ax', '--', 'o16 ef');
row('out', 'dx,eax', '--', 'o32 ef');

// String instructions: the b/w/d suffix picks the operand size.
for (const [name, op] of [['movs', 0xa4], ['cmps', 0xa6], ['stos', 0xaa], ['lods', 0xac], ['scas', 0xae], ['ins', 0x6c], ['outs', 0x6e]] as const) {
  row(`${name}b`, '', '', hex(op));
  row(`${name}w`, '', '', `o16 ${hex(op + 1)}`);
  row(`${name}d`, '', '', `o32 ${hex(op + 1)}`);
}

// --- Arithmetic and logic ------------------------------------------------------------------
for (const [name, n] of [['add', 0], ['or', 1], ['adc', 2], ['sbb', 3], ['and', 4], ['sub', 5], ['xor', 6], ['cmp', 7]] as const) {
  const base = n * 8;
  row(name, 'rm8,r8', 'mr', `${hex(base)} /r`);
  row(name, 'rm16,r16', 'mr', `o16 ${hex(base + 1)} /r`);
  row(name, 'rm32,r32', 'mr', `o32 ${hex(base + 1)} /r`);
  row(name, 'r8,rm8', 'rm', `${hex(base + 2)} /r`);
  row(name, 'r16,rm16', 'rm', `o16 ${hex(base + 3)} /r`);
  row(name, 'r32,rm32', 'rm', `o32 ${hex(base + 3)} /r`);
  row(name, 'al,i8', '-i', `${hex(base + 4)} ib`);
  row(name, 'ax,s8', 'mi', `o16 83 /${n} ibs`);
  row(name, 'ax,i16', '-i', `o16 ${hex(base + 5)} iw`);
  row(name, 'eax,s8', 'mi', `o32 83 /${n} ibs`);
  row(name, 'eax,i32', '-i', `o32 ${hex(base + 5)} id`);
  row(name, 'rm8,i8', 'mi', `80 /${n} ib`, 's');
  row(name, 'rm16,s8', 'mi', `o16 83 /${n} ibs`, 's');
  row(name, 'rm16,i16', 'mi', `o16 81 /${n} iw`, 's');
  row(name, 'rm32,s8', 'mi', `o32 83 /${n} ibs`, 's');
  row(name, 'rm32,i32', 'mi', `o32 81 /${n} id`, 's');
}

for (const [name, n] of [['inc', 0], ['dec', 1]] as const) {
  row(name, 'r16', 'r', `o16 ${hex(0x40 + n * 8)}+r`);
  row(name, 'r32', 'r', `o32 ${hex(0x40 + n * 8)}+r`);
  row(name, 'rm8', 'm', `fe /${n}`);
  row(name, 'rm16', 'm', `o16 ff /${n}`);
  row(name, 'rm32', 'm', `o32 ff /${n}`);
}
for (const [name, n] of [['not', 2], ['neg', 3], ['mul', 4], ['imul', 5], ['div', 6], ['idiv', 7]] as const) {
  row(name, 'rm8', 'm', `f6 /${n}`);
  row(name, 'rm16', 'm', `o16 f7 /${n}`);
  row(name, 'rm32', 'm', `o32 f7 /${n}`);
}
row('imul', 'r16,rm16', 'rm', 'o16 0f af /r');
row('imul', 'r32,rm32', 'rm', 'o32 0f af /r');
row('imul', 'r16,s8', 'bi', 'o16 6b /r ibs');
row('imul', 'r16,i16', 'bi', 'o16 69 /r iw');
row('imul', 'r32,s8', 'bi', 'o32 6b /r ibs');
row('imul', 'r32,i32', 'bi', 'o32 69 /r id');
row('imul', 'r16,rm16,s8', 'rmi', 'o16 6b /r ibs');
row('imul', 'r16,rm16,i16', 'rmi', 'o16 69 /r iw');
row('imul', 'r32,rm32,s8', 'rmi', 'o32 6b /r ibs');
row('imul', 'r32,rm32,i32', 'rmi', 'o32 69 /r id');

row('test', 'rm8,r8', 'mr', '84 /r');
row('test', 'rm16,r16', 'mr', 'o16 85 /r');
row('test', 'rm32,r32', 'mr', 'o32 85 /r');
row('test', 'r8,rm8', 'rm', '84 /r');
row('test', 'r16,rm16', 'rm', 'o16 85 /r');
row('test', 'r32,rm32', 'rm', 'o32 85 /r');
row('test', 'al,i8', '-i', 'a8 ib');
row('test', 'ax,i16', '-i', 'o16 a9 iw');
row('test', 'eax,i32', '-i', 'o32 a9 id');
row('test', 'rm8,i8', 'mi', 'f6 /0 ib', 's');
row('test', 'rm16,i16', 'mi', 'o16 f7 /0 iw', 's');
row('test', 'rm32,i32', 'mi', 'o32 f7 /0 id', 's');

for (const [name, op] of [['daa', '27'], ['das', '2f'], ['aaa', '37'], ['aas', '3f']] as const) row(name, '', '', op);
row('aam', '', '', 'd4 0a');
row('aam', 'i8', 'i', 'd4 ib');
row('aad', '', '', 'd5 0a');
row('aad', 'i8', 'i', 'd5 ib');

for (const [name, n] of [['rol', 0], ['ror', 1], ['rcl', 2], ['rcr', 3], ['shl', 4], ['sal', 4], ['shr', 5], ['sar', 7]] as const) {
  row(name, 'rm8,one', 'm-', `d0 /${n}`);
  row(name, 'rm8,cl', 'm-', `d2 /${n}`);
  row(name, 'rm8,i8', 'mi', `c0 /${n} ib`);
  row(name, 'rm16,one', 'm-', `o16 d1 /${n}`);
  row(name, 'rm16,cl', 'm-', `o16 d3 /${n}`);
  row(name, 'rm16,i8', 'mi', `o16 c1 /${n} ib`);
  row(name, 'rm32,one', 'm-', `o32 d1 /${n}`);
  row(name, 'rm32,cl', 'm-', `o32 d3 /${n}`);
  row(name, 'rm32,i8', 'mi', `o32 c1 /${n} ib`);
}
for (const [name, op] of [['shld', 0xa4], ['shrd', 0xac]] as const) {
  row(name, 'rm16,r16,i8', 'mri', `o16 0f ${hex(op)} /r ib`);
  row(name, 'rm32,r32,i8', 'mri', `o32 0f ${hex(op)} /r ib`);
  row(name, 'rm16,r16,cl', 'mr-', `o16 0f ${hex(op + 1)} /r`);
  row(name, 'rm32,r32,cl', 'mr-', `o32 0f ${hex(op + 1)} /r`);
}
for (const [name, n] of [['bt', 4], ['bts', 5], ['btr', 6], ['btc', 7]] as const) {
  const op = 0xa3 + (n - 4) * 8;
  row(name, 'rm16,r16', 'mr', `o16 0f ${hex(op)} /r`);
  row(name, 'rm32,r32', 'mr', `o32 0f ${hex(op)} /r`);
  row(name, 'rm16,i8', 'mi', `o16 0f ba /${n} ib`);
  row(name, 'rm32,i8', 'mi', `o32 0f ba /${n} ib`);
}
for (const [name, op] of [['bsf', 'bc'], ['bsr', 'bd']] as const) {
  row(name, 'r16,rm16', 'rm', `o16 0f ${op} /r`);
  row(name, 'r32,rm32', 'rm', `o32 0f ${op} /r`);
}

// --- Control flow --------------------------------------------------------------------------
const CONDITIONS: Array<[number, string[]]> = [
  [0, ['o']], [1, ['no']], [2, ['b', 'c', 'nae']], [3, ['nb', 'nc', 'ae']], [4, ['e', 'z']], [5, ['ne', 'nz']],
  [6, ['be', 'na']], [7, ['nbe', 'a']], [8, ['s']], [9, ['ns']], [10, ['p', 'pe']], [11, ['np', 'po']],
  [12, ['l', 'nge']], [13, ['nl', 'ge']], [14, ['le', 'ng']], [15, ['nle', 'g']],
];
for (const [cc, names] of CONDITIONS) {
  for (const suffix of names) {
    row(`j${suffix}`, 'rel8', 'i', `${hex(0x70 + cc)} rb`);
    row(`j${suffix}`, 'rel', 'i', `o16 0f ${hex(0x80 + cc)} rw`);
    row(`j${suffix}`, 'rel', 'i', `o32 0f ${hex(0x80 + cc)} rd`);
    row(`set${suffix}`, 'rm8', 'm', `0f ${hex(0x90 + cc)} /0`, 'u');
    row(`cmov${suffix}`, 'r16,rm16', 'rm', `o16 0f ${hex(0x40 + cc)} /r`);
    row(`cmov${suffix}`, 'r32,rm32', 'rm', `o32 0f ${hex(0x40 + cc)} /r`);
  }
}
row('jmp', 'rel8', 'i', 'eb rb');
row('jmp', 'rel', 'i', 'o16 e9 rw');
row('jmp', 'rel', 'i', 'o32 e9 rd');
row('jmp', 'far', 'i', 'o16 ea fp');
row('jmp', 'far', 'i', 'o32 ea fp');
row('jmp', 'mfar', 'm', 'o16 ff /5');
row('jmp', 'mfar', 'm', 'o32 ff /5');
row('jmp', 'rm16', 'm', 'o16 ff /4', 'd');
row('jmp', 'rm32', 'm', 'o32 ff /4', 'd');
row('call', 'rel', 'i', 'o16 e8 rw');
row('call', 'rel', 'i', 'o32 e8 rd');
row('call', 'far', 'i', 'o16 9a fp');
row('call', 'far', 'i', 'o32 9a fp');
row('call', 'mfar', 'm', 'o16 ff /3');
row('call', 'mfar', 'm', 'o32 ff /3');
row('call', 'rm16', 'm', 'o16 ff /2', 'd');
row('call', 'rm32', 'm', 'o32 ff /2', 'd');
for (const name of ['ret', 'retn']) {
  row(name, '', '', 'c3');
  row(name, 'i16', 'i', 'c2 iw');
}
row('retf', '', '', 'cb');
row('retf', 'i16', 'i', 'ca iw');
for (const [name, op] of [['loop', 'e2'], ['loope', 'e1'], ['loopz', 'e1'], ['loopne', 'e0'], ['loopnz', 'e0']] as const) {
  row(name, 'rel8!', 'i', `${op} rb`);
  row(name, 'rel8!,cx', 'i-', `a16 ${op} rb`);
  row(name, 'rel8!,ecx', 'i-', `a32 ${op} rb`);
}
row('jcxz', 'rel8!', 'i', 'a16 e3 rb');
row('jecxz', 'rel8!', 'i', 'a32 e3 rb');
row('int', 'i8', 'i', 'cd ib');
row('int3', '', '', 'cc');
row('int1', '', '', 'f1');
row('icebp', '', '', 'f1');
row('into', '', '', 'ce');
row('enter', 'i16,i8', 'ii', 'c8 iw ib');
row('leave', '', '', 'c9');
row('bound', 'r16,m', 'rm', 'o16 62 /r');
row('bound', 'r32,m', 'rm', 'o32 62 /r');

// --- Flags, processor control, system ------------------------------------------------------
for (const [name, op] of [
  ['hlt', 'f4'], ['clc', 'f8'], ['stc', 'f9'], ['cmc', 'f5'], ['cld', 'fc'], ['std', 'fd'], ['cli', 'fa'], ['sti', 'fb'],
  ['wait', '9b'], ['fwait', '9b'], ['pause', 'f3 90'], ['salc', 'd6'], ['ud2', '0f 0b'], ['cpuid', '0f a2'],
  ['rdtsc', '0f 31'], ['rdmsr', '0f 32'], ['wrmsr', '0f 30'], ['rdpmc', '0f 33'], ['wbinvd', '0f 09'],
  ['invd', '0f 08'], ['clts', '0f 06'], ['rsm', '0f aa'], ['vmcall', '0f 01 c1'], ['sysenter', '0f 34'], ['sysexit', '0f 35'],
] as const) {
  row(name, '', '', op);
}
row('nop', '', '', '90');
row('nop', 'rm16', 'm', 'o16 0f 1f /0');
row('nop', 'rm32', 'm', 'o32 0f 1f /0');
row('bswap', 'r32', 'r', 'o32 0f c8+r');
for (const [name, op] of [['xadd', 0xc0], ['cmpxchg', 0xb0]] as const) {
  row(name, 'rm8,r8', 'mr', `0f ${hex(op)} /r`);
  row(name, 'rm16,r16', 'mr', `o16 0f ${hex(op + 1)} /r`);
  row(name, 'rm32,r32', 'mr', `o32 0f ${hex(op + 1)} /r`);
}
row('cmpxchg8b', 'm', 'm', '0f c7 /1');
for (const [name, n] of [['sgdt', 0], ['sidt', 1], ['lgdt', 2], ['lidt', 3], ['invlpg', 7]] as const) {
  row(name, 'm', 'm', `0f 01 /${n}`);
}
for (const [name, n] of [['sldt', 0], ['str', 1]] as const) {
  row(name, 'r16', 'm', `o16 0f 00 /${n}`);
  row(name, 'r32', 'm', `o32 0f 00 /${n}`);
  row(name, 'm', 'm', `0f 00 /${n}`);
}
for (const [name, n] of [['lldt', 2], ['ltr', 3], ['verr', 4], ['verw', 5]] as const) {
  row(name, 'r16', 'm', `0f 00 /${n}`);
  row(name, 'm', 'm', `0f 00 /${n}`);
}
row('smsw', 'r16', 'm', 'o16 0f 01 /4');
row('smsw', 'r32', 'm', 'o32 0f 01 /4');
row('smsw', 'm', 'm', '0f 01 /4');
row('lmsw', 'r16', 'm', '0f 01 /6');
row('lmsw', 'm', 'm', '0f 01 /6');
row('arpl', 'rm16,r16', 'mr', '63 /r');
for (const [name, op] of [['lar', '02'], ['lsl', '03']] as const) {
  row(name, 'r16,m', 'rm', `o16 0f ${op} /r`);
  row(name, 'r16,r16', 'rm', `o16 0f ${op} /r`);
  row(name, 'r32,m', 'rm', `o32 0f ${op} /r`);
  row(name, 'r32,r16', 'rm', `o32 0f ${op} /r`);
  row(name, 'r32,r32', 'rm', `o32 0f ${op} /r`);
}

function toStep(token: string): Step {
  if (/^[0-9a-f]{2}$/.test(token)) return { kind: 'byte', value: parseInt(token, 16) };
  if (/^[0-9a-f]{2}\+r$/.test(token)) return { kind: '+r', value: parseInt(token.slice(0, 2), 16) };
  if (token === '/r') return { kind: '/r', value: 0 };
  if (/^\/[0-7]$/.test(token)) return { kind: '/n', value: Number(token.slice(1)) };
  if (['ib', 'ibs', 'iw', 'id', 'mo', 'fp', 'rb', 'rw', 'rd'].includes(token)) return { kind: token as Step['kind'], value: 0 };
  throw new Error(`bad encoding token '${token}' in the instruction table`);
}

const forms = new Map<string, readonly Form[]>();

/** The forms of `mnemonic` (lowercase), in preference order; undefined if there is no such instruction. */
export function formsOf(mnemonic: string): readonly Form[] | undefined {
  let list = forms.get(mnemonic);
  if (list === undefined) {
    const written = rows.get(mnemonic);
    if (written === undefined) return undefined;
    list = written.map(([operands, roles, encoding, flags]) => toForm(mnemonic, operands, roles, encoding, flags));
    forms.set(mnemonic, list);
  }
  return list;
}

/** Every mnemonic in the table. */
export function mnemonics(): string[] {
  return [...rows.keys()];
}

function toForm(mnemonic: string, operands: string, roles: string, encoding: string, flags: string): Form {
  const tokens = encoding.split(' ');
  const encodingTokens = tokens.filter((t) => t !== 'o16' && t !== 'o32');
  const steps = encodingTokens.filter((t) => t !== 'a16' && t !== 'a32').map(toStep);
  return {
    mnemonic,
    operands: operands === '' ? [] : operands.split(','),
    roles,
    encoding: encodingTokens,
    steps,
    regOperand: roles.split('').findIndex((r) => r === 'r' || r === 'b'),
    rmOperand: roles.split('').findIndex((r) => r === 'm' || r === 'b'),
    immediateOperands: roles.split('').flatMap((r, i) => (r === 'i' ? [i] : [])),
    baseLength: steps.length,
    opsize: tokens.includes('o16') ? 16 : tokens.includes('o32') ? 32 : 0,
    flags,
  };
}
