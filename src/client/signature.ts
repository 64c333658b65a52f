import { keyBytes, type SharedKey } from '../domain/shared-key.js';
import { verifyHs256 } from './jwt.js';
import { GripUsageError } from './errors.js';

export type { SharedKey };

/**
 * The outcome of checking `Grip-Sig`. `signed: false` comes with why: `missing` (no header), `malformed`,
 * `wrong-algorithm` (not HS256), `bad-signature` (another key), `expired` (or not yet valid), `wrong-issuer`.
 * A request that is not signed must be treated as if it did not come through the GRIP proxy.
 */
export type GripSigResult =
  | { readonly signed: true; readonly claims: Readonly<Record<string, unknown>> }
  | {
      readonly signed: false;
      readonly reason: 'missing' | 'malformed' | 'wrong-algorithm' | 'bad-signature' | 'expired' | 'wrong-issuer';
    };

export interface VerifyGripSigOptions {
  /** The shared key the server signs with (`base64:` prefix for binary keys, as Pushpin's `sig_key`). */
  readonly key: SharedKey;
  /** When given, the token's `iss` must equal it. */
  readonly iss?: string;
  /** The current time in epoch milliseconds (default `Date.now()`); for tests. */
  readonly now?: () => number;
}

/**
 * Checks the request's `Grip-Sig` header: an HS256 JWT signed with the shared key, not expired (`exp` is
 * required), and issued by `iss` when one is given. Never throws for a bad or missing token; it throws a
 * {@link GripUsageError} (`invalid-config`) only for an unusable key (empty, or bad base64 after `base64:`).
 *
 * @example
 * const sig = await verifyGripSig(request, { key: process.env.GRIP_KEY!, iss: 'grip-server' });
 * if (!sig.signed) return new Response(`not from the GRIP proxy: ${sig.reason}`, { status: 401 });
 */
export async function verifyGripSig(request: Request, options: VerifyGripSigOptions): Promise<GripSigResult> {
  checkKey(options.key);
  const token = request.headers.get('grip-sig');
  if (token === null || token.trim() === '') return { signed: false, reason: 'missing' };
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  const check = await verifyHs256(token.trim(), options.key, {
    nowSeconds,
    ...(options.iss !== undefined ? { iss: options.iss } : {}),
  });
  return check.ok ? { signed: true, claims: check.claims } : { signed: false, reason: check.reason };
}

/**
 * Throws a {@link GripUsageError} (`invalid-config`) for a key that cannot sign or verify anything.
 *
 * @example
 * checkKey('base64:!!'); // throws: not base64
 */
export function checkKey(key: SharedKey): void {
  try {
    keyBytes(key);
  } catch (cause) {
    throw new GripUsageError('invalid-config', cause instanceof Error ? cause.message : 'invalid shared key', { cause });
  }
}
