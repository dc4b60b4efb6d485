/**
 * The GDB remote serial protocol's framing: `$payload#cs` packets with a two-digit checksum,
 * `+`/`-` acknowledgements, and the lone 0x03 byte gdb sends to interrupt a running target.
 * Bytes are kept as a latin1 string (one character per byte), so binary payloads (`X`) pass
 * through unchanged.
 */

export type Incoming =
  | { kind: 'packet'; data: string }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' }
  /** A packet whose checksum did not match: answered with '-', so that gdb sends it again. */
  | { kind: 'corrupt'; data: string };

/** The most bytes of payload one packet may hold (what qSupported announces as PacketSize). */
export const PACKET_SIZE = 0x4000;

/** Splits what arrives from gdb into packets, interrupts and acknowledgements. */
export class PacketReader {
  private buffer = '';

  push(chunk: string): Incoming[] {
    this.buffer += chunk;
    const out: Incoming[] = [];
    for (;;) {
      // Outside a packet only '+', '-', 0x03 and '$' mean anything; other bytes are line noise.
      let i = 0;
      while (i < this.buffer.length && this.buffer[i] !== '$') {
        const c = this.buffer[i++];
        if (c === '+') out.push({ kind: 'ack' });
        else if (c === '-') out.push({ kind: 'nack' });
        else if (c === '\x03') out.push({ kind: 'interrupt' });
      }
      this.buffer = this.buffer.slice(i);
      if (this.buffer.length === 0) return out;
      const end = this.buffer.indexOf('#');
      if (end < 0 || this.buffer.length < end + 3) {
        // Not all here yet; a runaway packet (no '#' in far more than a packet's size) is dropped.
        if (this.buffer.length > 4 * PACKET_SIZE) this.buffer = '';
        return out;
      }
      const raw = this.buffer.slice(1, end);
      const sum = parseInt(this.buffer.slice(end + 1, end + 3), 16);
      this.buffer = this.buffer.slice(end + 3);
      out.push(sum === checksum(raw) ? { kind: 'packet', data: unescape(raw) } : { kind: 'corrupt', data: raw });
    }
  }
}

function checksum(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum = (sum + text.charCodeAt(i)) & 0xff;
  return sum;
}

/** '}' escapes the next byte (XOR 0x20); '*' would start a run-length encoding, which gdb never sends. */
function unescape(raw: string): string {
  if (!raw.includes('}')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '}' && i + 1 < raw.length) out += String.fromCharCode(raw.charCodeAt(++i) ^ 0x20);
    else out += raw[i];
  }
  return out;
}

/** A payload as a packet on the wire: `$`, the payload with `$ # } *` escaped, `#`, the checksum. */
export function framePacket(payload: string): string {
  const body = payload.replace(/[$#}*]/g, (c) => `}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}`);
  return `$${body}#${checksum(body).toString(16).padStart(2, '0')}`;
}

/** Text as gdb's hex (qRcmd's command, O packets' output). TextEncoder, not Buffer: the page uses this too. */
export function toHex(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** gdb's hex as text; null when it is not hex. */
export function fromHex(hex: string): string | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return new TextDecoder().decode(bytes);
}
