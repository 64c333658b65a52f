/**
 * SigV4 verification for the local Management API: what API Gateway does before it routes an `@connections`
 * call, with the one key pair this run generated. Without it, any local user of the host could post to and
 * close connections (issue 10: a fake signature was enough).
 */
import { randomBytes, timingSafeEqual, createHmac } from 'node:crypto';
import type { AwsCredentialIdentity } from '@smithy/types';
import { deriveSigningKey, escapeSegment, stringToSign } from '../adapters/sigv4.js';

/** Signatures dated further than this from now are refused, as AWS refuses them ("Signature expired"). */
export const SIGNATURE_MAX_SKEW_MS = 15 * 60 * 1000;

/** A fresh key pair for one run of local mode: only this process (and what it hands them to) can sign. */
export function randomCredentials(): AwsCredentialIdentity {
  return { accessKeyId: `LOCAL${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

export interface SignedRequest {
  readonly method: string;
  /** The request target as received: path and optional query, URL-encoded once. */
  readonly url: string;
  /** Lower-case names, as Node's `IncomingMessage.headers` has them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** SHA-256 of the whole body, hex. */
  readonly payloadHash: string;
}

export type Verdict =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'unknown-key' | 'expired' | 'mismatch' };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Checks a request's SigV4 `Authorization` header against `credentials`: the key id, the scope's date against
 * `X-Amz-Date`, the date within 15 minutes of `now`, `host` among the signed headers, and the signature over
 * the canonical request (constant-time compare). The region in the scope is taken as given (one key pair per
 * run makes a region check add nothing); the service must be `execute-api`.
 */
export function verifySigV4(request: SignedRequest, credentials: AwsCredentialIdentity, now: number = Date.now()): Verdict {
  const authorization = single(request.headers['authorization']);
  if (authorization === undefined) return { ok: false, reason: 'missing' };
  const match = AUTHORIZATION.exec(authorization);
  const amzDate = single(request.headers['x-amz-date']) ?? '';
  const date = AMZ_DATE.exec(amzDate);
  if (!match || !date) return { ok: false, reason: 'malformed' };
  const [, keyId = '', day = '', region = '', service = '', signedList = '', signature = ''] = match;
  const signedHeaders = signedList.split(';');
  if (service !== 'execute-api' || !amzDate.startsWith(day) || !signedHeaders.includes('host')) return { ok: false, reason: 'malformed' };
  if (keyId !== credentials.accessKeyId) return { ok: false, reason: 'unknown-key' };
  const at = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4]), Number(date[5]), Number(date[6]));
  if (Math.abs(now - at) > SIGNATURE_MAX_SKEW_MS) return { ok: false, reason: 'expired' };
  const claimedHash = single(request.headers['x-amz-content-sha256']);
  if (claimedHash !== undefined && claimedHash !== request.payloadHash) return { ok: false, reason: 'mismatch' };

  const queryAt = request.url.indexOf('?');
  const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = joined(request.headers[name]);
  const toSign = stringToSign({
    method: request.method,
    path,
    canonicalQuery: queryAt === -1 ? '' : canonicalQuery(request.url.slice(queryAt + 1)),
    headers,
    signedHeaders,
    payloadHash: request.payloadHash,
    amzDate,
    scope: `${day}/${region}/${service}/aws4_request`,
  });
  const expected = createHmac('sha256', deriveSigningKey(credentials.secretAccessKey, day, region, service))
    .update(toSign)
    .digest();
  const given = Buffer.from(signature, 'hex');
  return expected.length === given.length && timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** Parameters sorted by name then value, each part decoded and re-encoded the RFC 3986 way SigV4 asks for. */
function canonicalQuery(query: string): string {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? '' : part.slice(eq + 1);
      return [escapeSegment(decode(name)), escapeSegment(decode(value))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function joined(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
