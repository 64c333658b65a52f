/**
 * Strict standard base64 (RFC 4648 §4), written out because the domain may not use `Buffer` and `atob` is
 * lenient in ways that hide publisher bugs. Used for `content-bin` (publish items, keep-alive control messages)
 * and `base64:` shared keys.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes standard base64. Padding is optional but, when present, must be correct; ASCII whitespace (line
 * breaks from MIME-style encoders) is skipped. Returns `null` for anything else: other characters, a lone
 * trailing character, padding in the middle, or non-zero bits left over in the last character.
 *
 * @example
 * decodeBase64('aGk=') // Uint8Array [0x68, 0x69]
 * decodeBase64('a$')   // null
 */
export function decodeBase64(text: string): Uint8Array | null {
  const values: number[] = [];
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0x3d) {
      padding++;
      continue;
    }
    // Data after padding ("ab=c") is malformed.
    if (padding > 0) return null;
    const v = c < 128 ? (DECODE[c] ?? -1) : -1;
    if (v < 0) return null;
    values.push(v);
  }
  const rest = values.length % 4;
  if (rest === 1) return null;
  if (padding > 0 && (padding > 2 || (values.length + padding) % 4 !== 0)) return null;
  const out = new Uint8Array(Math.floor((values.length * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 4 <= values.length; i += 4) {
    const n = ((values[i] ?? 0) << 18) | ((values[i + 1] ?? 0) << 12) | ((values[i + 2] ?? 0) << 6) | (values[i + 3] ?? 0);
    out[o++] = (n >> 16) & 0xff;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rest === 2) {
    const a = values[i] ?? 0;
    const b = values[i + 1] ?? 0;
    if ((b & 0x0f) !== 0) return null;
    out[o] = ((a << 2) | (b >> 4)) & 0xff;
  } else if (rest === 3) {
    const a = values[i] ?? 0;
    const b = values[i + 1] ?? 0;
    const c = values[i + 2] ?? 0;
    if ((c & 0x03) !== 0) return null;
    out[o] = ((a << 2) | (b >> 4)) & 0xff;
    out[o + 1] = ((b << 4) | (c >> 2)) & 0xff;
  }
  return out;
}

/**
 * Encodes bytes as padded standard base64.
 *
 * @example
 * encodeBase64(new Uint8Array([0x68, 0x69])) // 'aGk='
 */
export function encodeBase64(bytes: Uint8Array): string {
  const chunks: string[] = [];
  let line = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    line += ALPHABET.charAt((n >> 18) & 63) + ALPHABET.charAt((n >> 12) & 63) + ALPHABET.charAt((n >> 6) & 63) + ALPHABET.charAt(n & 63);
    // Flush periodically so large payloads do not build one enormous rope string.
    if (line.length >= 8192) {
      chunks.push(line);
      line = '';
    }
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] ?? 0) << 16;
    line += ALPHABET.charAt((n >> 18) & 63) + ALPHABET.charAt((n >> 12) & 63) + '==';
  } else if (rest === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8);
    line += ALPHABET.charAt((n >> 18) & 63) + ALPHABET.charAt((n >> 12) & 63) + ALPHABET.charAt((n >> 6) & 63) + '=';
  }
  chunks.push(line);
  return chunks.join('');
}
