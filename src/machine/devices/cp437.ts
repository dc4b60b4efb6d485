/**
 * Code page 437, the VGA's character ROM, as Unicode: the glyphs the text mode draws for
 * each byte, including the control-range symbols, box drawing and the Greek and maths signs.
 * Byte 0 (and 0xFF, a non-breaking space) is drawn as a space.
 */
const CONTROL_GLYPHS = ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼';
const HIGH_HALF =
  'ÇüéâäàåçêëèïîìÄÅ' +
  'ÉæÆôöòûùÿÖÜ¢£¥₧ƒ' +
  'áíóúñÑªº¿⌐¬½¼¡«»' +
  '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧' +
  '╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩' +
  '≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ';

function buildTable(): readonly string[] {
  const table: string[] = [];
  for (const glyph of CONTROL_GLYPHS) table.push(glyph);
  for (let code = 0x20; code < 0x7f; code++) table.push(String.fromCharCode(code));
  table.push('⌂');
  for (const glyph of HIGH_HALF) table.push(glyph);
  if (table.length !== 256) throw new Error(`CP437 table has ${table.length} entries`);
  return table;
}

/** CP437_TO_UNICODE[byte] is the character the VGA shows for `byte`. */
export const CP437_TO_UNICODE: readonly string[] = buildTable();
