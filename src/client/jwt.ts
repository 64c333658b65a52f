/**
 * HS256 JWTs on WebCrypto alone, for the client package, which may not depend on `jose` (the server's JWT library)
 * or on anything else outside the Web platform. It signs and checks exactly what the server's `src/domain/auth.ts`
 * does, with the same failure reasons; `tests/unit/client/jwt.test.ts` holds the two (and js-grip) to each other.
 * Nothing here puts a key or a token in an error.
 */
import { decodeBase64, encodeBase64 } from '../domain/protocol/base64.js';
import { decodeUtf8Strict, isRecord, parseJson } from '../domain/protocol/values.js';
import { JWT_SHAPE, keyBytes, MAX_TOKEN_LENGTH, type SharedKey } from '../domain/shared-key.js';

/** Why a token was refused: the same reasons as the server's `verifyHs256`. */
export type TokenFailure = 'malformed' | 'wrong-algorithm' | 'bad-signature' | 'expired' | 'wrong-issuer';

export type TokenCheck =
  { readonly ok: true; readonly claims: Record<string, unknown> } | { readonly ok: false; readonly reason: TokenFailure };

const utf8 = new TextEncoder();
const HEADER = base64Url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));

/**
 * Signs `claims` as an HS256 JWT with header `{"alg":"HS256","typ":"JWT"}`.
 *
 * @throws InvariantError `INVALID_SHARED_KEY` for an unusable key (see `keyBytes`).
 * @example
 * const token = await signHs256({ iss: 'backend', exp: Math.floor(Date.now() / 1000) + 600 }, 'changeme');
 */
export async function signHs256(claims: Record<string, unknown>, key: SharedKey): Promise<string> {
  const input = `${HEADER}.${base64Url(utf8.encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(key), utf8.encode(input));
  return `${input}.${base64Url(new Uint8Array(signature))}`;
}

/**
 * Verifies an HS256 JWT as the server does: the header's `alg` must be HS256 (`none` and asymmetric algorithms are
 * `wrong-algorithm`), the signature must match (compared by WebCrypto, in constant time), `exp` must be a number in
 * the future (a future `nbf` also counts as `expired`), and `iss` must equal `options.iss` when one is given. No
 * clock tolerance, like Pushpin. Never rejects for a bad token; an unusable key throws.
 *
 * @example
 * const check = await verifyHs256(token, 'changeme', { iss: 'pushpin', nowSeconds: Math.floor(Date.now() / 1000) });
 * if (!check.ok) console.warn(check.reason);
 */
export async function verifyHs256(token: string, key: SharedKey, options: { iss?: string; nowSeconds: number }): Promise<TokenCheck> {
  const cryptoKey = await hmacKey(key);
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return fail('malformed');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = token.split('.');
  const header = jsonObject(headerPart);
  if (header === null || header['crit'] !== undefined) return fail('malformed');
  if (header['alg'] !== 'HS256') return fail('wrong-algorithm');
  const signature = decodeBase64Url(signaturePart);
  if (signature === null) return fail('malformed');
  // A GRIP proxy reuses one token for many requests: a token whose signature this key verified is not verified
  // again (the time and issuer checks below still run every time).
  const seen = `${keyIdOf(key)}\n${token}`;
  if (!verifiedTokens.has(seen)) {
    const signed = await crypto.subtle.verify('HMAC', cryptoKey, signature, utf8.encode(`${headerPart}.${payloadPart}`));
    if (!signed) return fail('bad-signature');
    if (verifiedTokens.size >= MAX_VERIFIED_TOKENS) verifiedTokens.clear();
    verifiedTokens.add(seen);
  }
  const claims = jsonObject(payloadPart);
  if (claims === null) return fail('malformed');
  // jose's checks, in jose's order, so both sides give the same reason for a token with several faults.
  const { exp, nbf, iat } = claims;
  if (options.iss !== undefined && !Object.hasOwn(claims, 'iss')) return fail('wrong-issuer');
  if (exp === undefined) return fail('malformed');
  if (options.iss !== undefined && claims['iss'] !== options.iss) return fail('wrong-issuer');
  if (iat !== undefined && typeof iat !== 'number') return fail('malformed');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > options.nowSeconds)) return fail('expired');
  if (typeof exp !== 'number') return fail('malformed');
  if (exp <= options.nowSeconds) return fail('expired');
  return { ok: true, claims };
}

function fail(reason: TokenFailure): TokenCheck {
  return { ok: false, reason };
}

/**
 * Imported keys by key material: importing costs more than the HMAC itself, and a backend verifies every request
 * with the same key or two. Keyed by content (a byte key is copied first), so a key changed in place is imported
 * afresh; bounded, in case an app rotates through many keys.
 */
const importedKeys = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED_KEYS = 16;

/** Tokens (with the key that verified them) whose signature is known good; bounded. */
const verifiedTokens = new Set<string>();
const MAX_VERIFIED_TOKENS = 256;

function keyIdOf(key: SharedKey): string {
  return typeof key === 'string' ? `s:${key}` : `b:${encodeBase64(key)}`;
}

function hmacKey(key: SharedKey): Promise<CryptoKey> {
  const id = keyIdOf(key);
  const cached = importedKeys.get(id);
  if (cached !== undefined) return cached;
  if (importedKeys.size >= MAX_IMPORTED_KEYS) importedKeys.clear();
  const imported = crypto.subtle.importKey('raw', new Uint8Array(keyBytes(key)), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  // A failed import (a key WebCrypto refuses) is not remembered.
  imported.catch(() => importedKeys.delete(id));
  importedKeys.set(id, imported);
  return imported;
}

function jsonObject(segment: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(segment);
  if (bytes === null) return null;
  const text = decodeUtf8Strict(bytes);
  const parsed = text === null ? null : parseJson(text);
  return parsed?.ok === true && isRecord(parsed.value) ? parsed.value : null;
}

function base64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

function decodeBase64Url(segment: string): Uint8Array<ArrayBuffer> | null {
  const bytes = decodeBase64(segment.replace(/-/g, '+').replace(/_/g, '/'));
  return bytes === null ? null : new Uint8Array(bytes);
}
