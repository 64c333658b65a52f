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
    const signedHeaders = names.join(';');
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${(all[name] ?? '').trim().replace(/\s+/g, ' ')}\n`;
    const canonical = `${method}\n${canonicalPath(path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(credentials, day)).update(stringToSign).digest('hex');
    all['authorization'] =
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return all;
  }

  private signingKey(credentials: AwsCredentialIdentity, day: string): Buffer {
    // Credentials rotate (Lambda's role sessions do), so the cache is keyed by them as well as by the day.
    const id = `${day}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`;
    if (this.keyCache?.id !== id) {
      const hmac = (key: string | Buffer, value: string) => createHmac('sha256', key).update(value).digest();
      this.keyCache = {
        id,
        key: hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), this.region), this.service), 'aws4_request'),
      };
    }
    return this.keyCache.key;
  }
}

/**
 * The canonical URI of services other than S3: the path normalized (empty, `.` and `..` segments resolved, as
 * RFC 3986 says) and URI-encoded a second time.
 */
function canonicalPath(path: string): string {
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
function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
