/**
 * The GRIP shared key and the token limits that both the server (`auth.ts`) and the backend client library
 * (`src/client/jwt.ts`) apply. Dependency-free, so the client package can compile it in.
 */
import { decodeBase64 } from './protocol/base64.js';
import { InvariantError } from './result.js';

/** A shared secret. A string starting `base64:` is the base64 of the key bytes (Pushpin's `sig_key` convention). */
export type SharedKey = string | Uint8Array;

/** Tokens longer than this are rejected unparsed; ours and js-grip's are ~150 bytes. */
export const MAX_TOKEN_LENGTH = 8192;
/** Three base64url segments (the signature may be empty, as in `alg: none`, which is then refused). */
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const BASE64_PREFIX = 'base64:';
const utf8Encoder = new TextEncoder();

/**
 * The key's bytes: `base64:<b64>` is decoded, any other string is its UTF-8 bytes (as js-grip and Pushpin do).
 *
 * @throws InvariantError `INVALID_SHARED_KEY` for an empty key or invalid base64 after `base64:` (a
 *   configuration error; the message never contains the key).
 * @example
 * keyBytes('base64:aGk=') // Uint8Array [0x68, 0x69]
 * keyBytes('changeme')    // the 8 UTF-8 bytes of "changeme"
 */
export function keyBytes(key: SharedKey): Uint8Array {
  let bytes: Uint8Array | null;
  if (typeof key !== 'string') bytes = key;
  else if (key.startsWith(BASE64_PREFIX)) bytes = decodeBase64(key.slice(BASE64_PREFIX.length));
  else bytes = utf8Encoder.encode(key);
  if (bytes === null) throw new InvariantError('INVALID_SHARED_KEY', 'shared key starts with "base64:" but the rest is not valid base64');
  if (bytes.length === 0) throw new InvariantError('INVALID_SHARED_KEY', 'shared key is empty');
  return bytes;
}
