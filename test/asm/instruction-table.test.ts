/**
 * The assembler's instruction table turns its rows into forms only when a source first uses a
 * mnemonic (to keep start-up short). A row with a bad encoding token would then fail only in
 * the source that uses it: every row is built here.
 */
import { describe, expect, it } from 'vitest';
import { formsOf, mnemonics } from '../../src/asm/instruction-table.ts';

describe('instruction table', () => {
  it('every mnemonic has forms, and every row builds', () => {
    const names = mnemonics();
    expect(names.length).toBeGreaterThan(200);
    for (const name of names) {
      const forms = formsOf(name);
      expect(forms, name).toBeDefined();
      expect(forms!.length, name).toBeGreaterThan(0);
      for (const form of forms!) expect(form.steps.length, `${name} ${form.operands.join(',')}`).toBeGreaterThan(0);
    }
  });

  it('gives the same forms each time, and none for a word that is no instruction', () => {
    expect(formsOf('mov')).toBe(formsOf('mov'));
    expect(formsOf('mov')![0].mnemonic).toBe('mov');
    expect(formsOf('movv')).toBeUndefined();
  });
});
