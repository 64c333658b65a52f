import { createHash, createHmac } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * AWS Signature Version 4 for the one request shape the fan-out worker sends thousands of times a second:
 * `POST|DELETE /{stage}/@connections/{id}` to `execute-api`. It is the documented algorithm
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), written for the hot
 * path: the signing key is derived once per day and credential, headers are fixed, and nothing is awaited but the
 * credentials. `@smithy/signature-v4` produces the same signatures (a test compares them); it is general and
 * costs about a quarter of a delivery's CPU, which on a CPU-bound worker is throughput.
 */
export class ExecuteApiSigner {
  private readonly provider: AwsCredentialIdentityProvider;
  private keyCache: { readonly id: string; readonly key: Buffer } | null = null;

  constructor(
    private readonly region: string,
    credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
    private readonly service = 'execute-api',
  ) {
    this.provider = typeof credentials === 'function' ? credentials : () => Promise.resolve(credentials);
  }

  /**
   * The headers to send: the given ones plus `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (when
   * the credentials have a session token) and `authorization`. `path` is the request path exactly as sent
   * (already URL-encoded once); `headers` must include `host` and use lower-case names.
   */
  async sign(
    method: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: Buffer | null,
    now: Date = new Date(),
  ): Promise<Record<string, string>> {
    const credentials = await this.provider();
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = createHash('sha256')
      .update(body ?? '')
      .digest('hex');
    const all: Record<string, string> = { ...headers, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
    if (credentials.sessionToken) all['x-amz-security-token'] = credentials.sessionToken;
    const names = Object.keys(all).sort();
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const toSign = stringToSign({ method, path, canonicalQuery: '', headers: all, signedHeaders: names, payloadHash, amzDate, scope });
    const signature = createHmac('sha256', this.signingKey(credentials, day)).update(toSign).digest('hex');
    all['authorization'] =
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    return all;
  }

  private signingKey(credentials: AwsCredentialIdentity, day: string): Buffer {
    // Credentials rotate (Lambda's role sessions do), so the cache is keyed by them as well as by the day.
    const id = `${day}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`;
    if (this.keyCache?.id !== id) {
      this.keyCache = { id, key: deriveSigningKey(credentials.secretAccessKey, day, this.region, this.service) };
    }
    return this.keyCache.key;
  }
}

/**
 * SigV4's string to sign for one request: the canonical request (method, canonical URI, canonical query, the
 * signed headers' trimmed values, their names, the payload hash) hashed under the algorithm, date and scope.
 * `headers` has lower-case names and holds at least every name in `signedHeaders` (sorted).
 */
export function stringToSign(r: {
  readonly method: string;
  /** As sent on the wire (URL-encoded once). */
  readonly path: string;
  readonly canonicalQuery: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
  readonly amzDate: string;
  readonly scope: string;
}): string {
  let canonicalHeaders = '';
  for (const name of r.signedHeaders) canonicalHeaders += `${name}:${(r.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`;
  const canonical = `${r.method}\n${canonicalPath(r.path)}\n${r.canonicalQuery}\n${canonicalHeaders}\n${r.signedHeaders.join(';')}\n${r.payloadHash}`;
  return `AWS4-HMAC-SHA256\n${r.amzDate}\n${r.scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
}

/** SigV4's signing key: HMAC chain over the day (`YYYYMMDD`), region, service and `aws4_request`. */
export function deriveSigningKey(secretAccessKey: string, day: string, region: string, service: string): Buffer {
  const hmac = (key: string | Buffer, value: string) => createHmac('sha256', key).update(value).digest();
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), service), 'aws4_request');
}

/**
 * The canonical URI of services other than S3: the path normalized (empty, `.` and `..` segments resolved, as
 * RFC 3986 says) and URI-encoded a second time.
 */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(escapeSegment(segment));
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
}

/** RFC 3986 encoding, as SigV4 canonical URIs require (encodeURIComponent leaves !'()* alone). */
export function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
