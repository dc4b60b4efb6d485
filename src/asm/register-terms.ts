/**
 * Registers as terms of a value, as nasm's evaluator keeps them: `ebx + eax*2 - 4` is the vector
 * {ebx: 1, eax: 2} plus the number -4. Only preprocessor conditions evaluate such values (a macro
 * tests `%if %1 = cs`); in instructions, registers are split off into the address syntactically
 * (operands.ts) before anything is evaluated.
 */

/** Register name (lowercase) → its coefficient; registers whose coefficient is 0 are left out. */
export type RegisterTerms = Readonly<Record<string, bigint>>;

/** `a + sign*b`, dropping the registers that cancel out; undefined when none is left. */
export function addTerms(a: RegisterTerms | undefined, b: RegisterTerms | undefined, sign: bigint): RegisterTerms | undefined {
  if (!b) return a;
  const out: Record<string, bigint> = { ...a };
  for (const [name, k] of Object.entries(b)) {
    const sum = (out[name] ?? 0n) + sign * k;
    if (sum === 0n) delete out[name];
    else out[name] = sum;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `a * factor`; undefined when nothing is left (factor 0). */
export function scaleTerms(a: RegisterTerms | undefined, factor: bigint): RegisterTerms | undefined {
  if (!a || factor === 0n) return undefined;
  const out: Record<string, bigint> = {};
  for (const [name, k] of Object.entries(a)) out[name] = k * factor;
  return out;
}

/** The registers of a value, for messages: `eax`, `2*eax+ebx`. */
export function describeTerms(a: RegisterTerms): string {
  return Object.entries(a)
    .map(([name, k]) => (k === 1n ? name : k === -1n ? `-${name}` : `${k}*${name}`))
    .join('+')
    .replace(/\+-/g, '-');
}
