/**
 * US-layout keys as PC scan code set 1 (what the 8042 delivers with translation on): a key's
 * make code on press, make | 0x80 on release; the grey keys of the AT's enhanced keyboard
 * (arrows, Home, Delete...) send 0xE0 first. Characters that need Shift or Ctrl are typed
 * with that modifier's make and break codes around them.
 */

export const LEFT_SHIFT = 0x2a, LEFT_CTRL = 0x1d, EXTENDED_PREFIX = 0xe0;
const BREAK = 0x80;

/** How to type one key: its make code, whether it is an 0xE0 key, and the modifier it needs. */
const SHIFT = 0x100, CTRL = 0x200, EXTENDED = 0x400;

/** Set-1 make codes of the main block, in key order, unshifted and shifted. */
const ROWS: [number, string, string][] = [
  [0x02, '1234567890-=', '!@#$%^&*()_+'],
  [0x10, 'qwertyuiop[]', 'QWERTYUIOP{}'],
  [0x1e, "asdfghjkl;'`", 'ASDFGHJKL:"~'],
  [0x2b, '\\zxcvbnm,./', '|ZXCVBNM<>?'],
];

/** Named keys, as a terminal reports them. */
const NAMED: Record<string, number> = {
  Escape: 0x01, Backspace: 0x0e, Tab: 0x0f, Enter: 0x1c, Space: 0x39,
  F1: 0x3b, F2: 0x3c, F3: 0x3d, F4: 0x3e, F5: 0x3f, F6: 0x40, F7: 0x41, F8: 0x42, F9: 0x43, F10: 0x44,
  F11: 0x57, F12: 0x58,
  Home: EXTENDED | 0x47, Up: EXTENDED | 0x48, PageUp: EXTENDED | 0x49, Left: EXTENDED | 0x4b,
  Right: EXTENDED | 0x4d, End: EXTENDED | 0x4f, Down: EXTENDED | 0x50, PageDown: EXTENDED | 0x51,
  Insert: EXTENDED | 0x52, Delete: EXTENDED | 0x53,
};

function buildAsciiTable(): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (const [first, plain, shifted] of ROWS) {
    for (let i = 0; i < plain.length; i++) {
      table[plain.charCodeAt(i)] = first + i;
      table[shifted.charCodeAt(i)] = SHIFT | (first + i);
    }
  }
  table[0x20] = NAMED.Space;
  table[0x08] = NAMED.Backspace;
  table[0x7f] = NAMED.Backspace; // what terminals send for the Backspace key
  table[0x09] = NAMED.Tab;
  table[0x0a] = NAMED.Enter;
  table[0x0d] = NAMED.Enter;
  table[0x1b] = NAMED.Escape;
  // Ctrl-A .. Ctrl-Z, except the codes above that have keys of their own.
  for (let code = 1; code <= 26; code++) {
    if (table[code] === -1) table[code] = CTRL | (table[0x60 + code] & 0xff);
  }
  return table;
}

const ASCII_KEYS = buildAsciiTable();

/** The encoded key for a character or a key name, or -1. */
function keyFor(key: string): number {
  if (key.length === 1) {
    const code = key.charCodeAt(0);
    return code < 128 ? ASCII_KEYS[code] : -1;
  }
  return NAMED[key] ?? -1;
}

/**
 * Appends to `out` (through `push`) the set-1 bytes that type `key` once: a single character
 * ('a', 'A', '\n', '\x03') or a key name ('Enter', 'Up', 'F1'...). Returns false, typing
 * nothing, for a key the US layout does not have.
 */
export function typeKey(key: string, push: (byte: number) => void): boolean {
  const encoded = keyFor(key);
  if (encoded < 0) return false;
  const make = encoded & 0xff;
  const modifier = encoded & SHIFT ? LEFT_SHIFT : encoded & CTRL ? LEFT_CTRL : 0;
  if (modifier) push(modifier);
  if (encoded & EXTENDED) push(EXTENDED_PREFIX);
  push(make);
  if (encoded & EXTENDED) push(EXTENDED_PREFIX);
  push(make | BREAK);
  if (modifier) push(modifier | BREAK);
  return true;
}
