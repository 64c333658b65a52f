import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { keyBytes, type SharedKey } from '../domain/shared-key.js';

/** Handshake headers that carry credentials: stored encrypted, replayed to the backend in clear. */
export const SEALED_HEADERS: ReadonlySet<string> = new Set(['cookie', 'authorization']);

const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts credential headers (`Cookie`, `Authorization`) of a stored handshake with AES-256-GCM, under a key
 * derived (HKDF-SHA256) from the GRIP key, which only the functions that replay handshakes hold: a read of the
 * table (a backup, a scan by another role, dynalite locally) does not reveal users' sessions.
 *
 * Contract: `seal` is randomized (a fresh IV each time); `open` returns the clear value, passes a value that was
 * never sealed through unchanged (records from before sealing), and returns `null` for a value it cannot
 * decrypt (the GRIP key changed): such a header is dropped, never replayed garbled.
 *
 * @example
 * const sealer = new HeaderSealer(gripKey);
 * sealer.open(sealer.seal('sid=1')); // 'sid=1'
 */
export class HeaderSealer {
  readonly #key: Buffer;

  constructor(gripKey: SharedKey) {
    this.#key = Buffer.from(hkdfSync('sha256', keyBytes(gripKey), 'grip-channel-server', 'handshake-headers v1', 32));
  }

  seal(value: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  open(value: string): string | null {
    if (!value.startsWith(PREFIX)) return value;
    const raw = Buffer.from(value.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** The headers with every credential header sealed. */
  sealHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, SEALED_HEADERS.has(name) ? this.seal(value) : value]));
  }

  /** The headers with every credential header opened; one that cannot be opened is left out. */
  openHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(headers).flatMap(([name, value]) => {
        if (!SEALED_HEADERS.has(name)) return [[name, value]];
        const clear = this.open(value);
        return clear === null ? [] : [[name, clear]];
      }),
    );
  }
}
