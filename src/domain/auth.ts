/**
 * The shared-key JWT helpers: `Grip-Sig` on requests to the backend (`docs/grip-protocol.md` §4) and the
 * control API's `Authorization` check (§3). HS256 through `jose`, which runs on WebCrypto, so this stays pure.
 * Nothing here ever puts a key or a token in an error, a reason or a log line.
 */
import { errors, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { InvariantError } from './result.js';
import { JWT_SHAPE, keyBytes, MAX_TOKEN_LENGTH, type SharedKey } from './shared-key.js';

export { keyBytes, type SharedKey };

/**
 * Grip-Sig tokens live 5 minutes (Pushpin: an hour). A backend verifies one while it handles the request (at most
 * API Gateway's 29 s), so 5 minutes covers that plus minutes of clock skew; a token copied from a log or a proxy
 * is useless soon after, and it is never a control credential (`authorizeControl` refuses its issuer).
 */
export const DEFAULT_GRIP_SIG_TTL_SECONDS = 300;
const utf8Encoder = new TextEncoder();

/**
 * Mints a `Grip-Sig` value: an HS256 JWT with header `{"alg":"HS256","typ":"JWT"}` and claims
 * `{iss, exp: nowSeconds + ttlSeconds}` (Pushpin's form: no `iat`, no `aud`). js-grip's `validateSig(token, key)`
 * accepts it. Not idempotent: call it for every request, as Pushpin does.
 *
 * @throws InvariantError `INVALID_SHARED_KEY` (see {@link keyBytes}) or `INVALID_TTL` for a non-positive TTL.
 * @example
 * const gripSig = await signGripSig({ key: 'changeme', iss: 'grip-server', nowSeconds: Math.floor(Date.now() / 1000) });
 */
export async function signGripSig(input: { key: SharedKey; iss: string; nowSeconds: number; ttlSeconds?: number }): Promise<string> {
  const ttl = input.ttlSeconds ?? DEFAULT_GRIP_SIG_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new InvariantError('INVALID_TTL', `Grip-Sig TTL must be a positive integer, got ${ttl}`);
  return new SignJWT({ iss: input.iss })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime(Math.floor(input.nowSeconds) + ttl)
    .sign(keyBytes(input.key));
}

export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-issuer' | 'wrong-algorithm' };

/**
 * Verifies an HS256 JWT: the algorithm must be HS256 (so `alg: none` and asymmetric algorithms are
 * `wrong-algorithm`), the signature must match the key, `exp` must be present and in the future (a future `nbf`
 * also counts as `expired`), and `iss` must equal `input.iss` when one is given. No clock tolerance, like
 * Pushpin. Never rejects for a bad token; only an invalid key throws (see {@link keyBytes}).
 *
 * @example
 * const check = await verifyHs256(token, { key: 'changeme', iss: 'pushpin', nowSeconds: 1_700_000_000 });
 * if (!check.ok) log.warn('bad token', { reason: check.reason });
 */
export async function verifyHs256(token: string, input: { key: SharedKey; iss?: string; nowSeconds?: number }): Promise<TokenCheck> {
  const key = keyBytes(input.key);
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return { ok: false, reason: 'malformed' };
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (alg !== 'HS256') return { ok: false, reason: 'wrong-algorithm' };
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      ...(input.iss !== undefined ? { issuer: input.iss } : {}),
      ...(input.nowSeconds !== undefined ? { currentDate: new Date(input.nowSeconds * 1000) } : {}),
    });
    return { ok: true, claims: { ...payload } };
  } catch (e) {
    return { ok: false, reason: failureReason(e) };
  }
}

function failureReason(e: unknown): Exclude<TokenCheck, { ok: true }>['reason'] {
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad-signature';
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'wrong-algorithm';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'wrong-issuer';
    if (e.claim === 'nbf') return 'expired';
  }
  return 'malformed';
}

export type ControlAuth = { ok: true; scheme: 'jwt' | 'key' } | { ok: false; reason: string };

/**
 * Checks a control API `Authorization` header. Accepted:
 * - `Bearer <the key>`: what js-grip's Publisher sends with only `key` configured (compared in constant time
 *   with the key as configured, including a literal `base64:…` string, and with the key's bytes);
 * - `Bearer <HS256 JWT>`: what it sends with `control_iss` and `key`; `exp` must be present and in the future
 *   (and no further ahead than `maxLifetimeSeconds`), `iss` must equal `input.iss` when one is given and must not
 *   be `refuseIss` (the Grip-Sig issuer: anyone who saw one backend request must not be able to publish).
 *
 * Everything else fails with a reason fit for a 401 body or a log line; it never contains the key or the token.
 *
 * @example
 * const auth = await authorizeControl(request.headers.get('authorization') ?? undefined, { key: sharedKey });
 * if (!auth.ok) return new Response(auth.reason, { status: 401 });
 */
export async function authorizeControl(
  authorization: string | undefined,
  input: {
    key: SharedKey;
    iss?: string;
    nowSeconds?: number;
    /** Refuse JWTs with this `iss`: the Grip-Sig tokens this server signs for backends are no control credential. */
    refuseIss?: string;
    /** Refuse JWTs whose `exp` is further ahead than this: a leaked token must not be valid for years. */
    maxLifetimeSeconds?: number;
  },
): Promise<ControlAuth> {
  if (authorization === undefined || authorization.trim().length === 0) return { ok: false, reason: 'missing Authorization header' };
  const match = /^\s*(\S+)\s+(\S.*?)\s*$/.exec(authorization);
  if (match === null) return { ok: false, reason: 'malformed Authorization header: expected "Bearer <token>"' };
  const scheme = match[1] ?? '';
  const token = match[2] ?? '';
  if (scheme.toLowerCase() !== 'bearer') {
    return { ok: false, reason: `unsupported Authorization scheme ${JSON.stringify(scheme.slice(0, 16))}: use Bearer` };
  }
  const tokenBytes = utf8Encoder.encode(token);
  const bytes = keyBytes(input.key);
  const asConfigured = typeof input.key === 'string' ? utf8Encoder.encode(input.key) : bytes;
  // Both comparisons always run, so timing does not reveal which form (if any) matched.
  const matchesKey = constantTimeEqual(tokenBytes, bytes) | constantTimeEqual(tokenBytes, asConfigured);
  if (matchesKey === 1) return { ok: true, scheme: 'key' };

  if (!JWT_SHAPE.test(token)) return { ok: false, reason: 'bearer token is neither the key nor a JWT' };
  const check = await verifyHs256(token, input);
  if (!check.ok) return { ok: false, reason: `bearer JWT rejected: ${check.reason}` };
  const { iss, exp } = check.claims;
  if (input.refuseIss !== undefined && iss === input.refuseIss) {
    return {
      ok: false,
      reason: 'bearer JWT rejected: its iss is the Grip-Sig issuer (a backend request token is not a control credential)',
    };
  }
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (input.maxLifetimeSeconds !== undefined && typeof exp === 'number' && exp - now > input.maxLifetimeSeconds) {
    return { ok: false, reason: `bearer JWT rejected: exp is more than ${input.maxLifetimeSeconds} s ahead` };
  }
  return { ok: true, scheme: 'jwt' };
}

/** 1 if equal, else 0, in time that depends only on the lengths. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): number {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0 ? 1 : 0;
}
