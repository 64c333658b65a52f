import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { CloseRequest, ConnectionSender, SendOutcome } from '../domain/ports.js';
import { MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import { ExecuteApiSigner } from './sigv4.js';

export interface SignedHttpConnectionSenderOptions {
  /** The stage's callback URL, `https://{api}.execute-api.{region}.amazonaws.com/{stage}` (or a local endpoint). */
  readonly endpoint: string;
  readonly region: string;
  /** Static credentials or a provider (e.g. `defaultProvider()` from `@aws-sdk/credential-provider-node`). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Sockets kept open to the endpoint: at least the delivery concurrency, or calls queue for a socket. */
  readonly maxSockets: number;
  /** A call without an answer after this long fails (retryable). Default 5,000 ms. */
  readonly requestTimeoutMs?: number;
}

/**
 * `ConnectionSender` on the API Gateway Management API: SigV4-signed requests (`ExecuteApiSigner`) on a
 * keep-alive `node:http(s)` agent, without the SDK client's middleware stack. Same wire requests and the same
 * outcomes (`managementApiOutcome`) as the SDK client the benchmarks compare it with
 * (`bench/lib/sdk-connection-sender.ts`), at a fraction of the CPU: a fan-out worker is CPU-bound on
 * building and signing requests, so this is what it uses (`npm run bench`, benchmark 2, has the figures).
 *
 * Contract: one attempt per call (retries are the worker's); never throws. 2xx → ok; 410 → gone; 429 →
 * throttled; 413 → too-large; 403 → failed, not retryable; 5xx, timeouts and socket errors → failed, retryable.
 * `close` is `DeleteConnection`: the code and reason are ignored (API Gateway cannot send them).
 *
 * @example
 * const sender = new SignedHttpConnectionSender({ endpoint: callbackUrl, region, credentials: defaultProvider(), maxSockets: 100 });
 * await sender.post('abc=', 'hello');
 */
export class SignedHttpConnectionSender implements ConnectionSender {
  private readonly url: URL;
  private readonly basePath: string;
  private readonly signer: ExecuteApiSigner;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;

  constructor(options: SignedHttpConnectionSenderOptions) {
    this.url = new URL(options.endpoint);
    this.basePath = this.url.pathname.replace(/\/+$/, '');
    const secure = this.url.protocol === 'https:';
    this.agent = secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets })
      : new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets });
    this.send = secure ? httpsRequest : httpRequest;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.signer = new ExecuteApiSigner(options.region, options.credentials);
  }

  post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome> {
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // API Gateway would answer 413; not sending saves the call.
    if (body.length > MAX_MESSAGE_BYTES)
      return Promise.resolve({ kind: 'too-large', message: `${body.length} bytes is over API Gateway's ${MAX_MESSAGE_BYTES}` });
    return this.call('POST', connectionId, body);
  }

  /** `DeleteConnection`. API Gateway cannot send a close code or reason: clients see 1000. */
  close(connectionId: string, _request?: CloseRequest): Promise<SendOutcome> {
    return this.call('DELETE', connectionId, null);
  }

  /** Closes the kept-alive sockets (at shutdown; Lambda containers simply freeze). */
  destroy(): void {
    this.agent.destroy();
  }

  private async call(method: 'POST' | 'DELETE', connectionId: string, body: Buffer | null): Promise<SendOutcome> {
    const path = `${this.basePath}/@connections/${encodeURIComponent(connectionId)}`;
    const headers: Record<string, string> = { host: this.url.host };
    if (body !== null) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(body.length);
    }
    let signed: Record<string, string>;
    try {
      signed = await this.signer.sign(method, path, headers, body);
    } catch (e) {
      // No credentials (or a provider failure): every call would fail the same way.
      return { kind: 'failed', retryable: false, message: `could not sign the request: ${(e as Error).message}`, cause: e };
    }
    return new Promise<SendOutcome>((resolve) => {
      const req = this.send(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port || undefined,
          method,
          path,
          headers: signed,
          agent: this.agent,
          timeout: this.timeoutMs,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (chunks.length < 16) chunks.push(c);
          });
          res.on('end', () =>
            resolve(outcomeOf(res.statusCode ?? 0, res.headers['x-amzn-errortype'], Buffer.concat(chunks).toString('utf8'))),
          );
          res.on('error', (e) => resolve({ kind: 'failed', retryable: true, message: e.message, cause: e }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => resolve({ kind: 'failed', retryable: true, message: e.message, cause: e }));
      req.end(body ?? undefined);
    });
  }
}

function outcomeOf(status: number, errorType: string | string[] | undefined, body: string): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const type = (Array.isArray(errorType) ? errorType[0] : errorType)?.split(':')[0] ?? '';
  const message = `HTTP ${status}${type ? ` ${type}` : ''}${body ? `: ${body.slice(0, 200)}` : ''}`;
  return managementApiOutcome({ status, errorType: type, message });
}

/** A Management API call that did not succeed, as seen by whichever client made it. */
export interface ManagementApiFailure {
  /** The HTTP status; absent (or 0) when no answer came (timeout, reset, refused). */
  readonly status?: number | undefined;
  /** AWS's error type (`x-amzn-ErrorType`, or the SDK exception's name), e.g. `GoneException`. */
  readonly errorType?: string | undefined;
  /** The SDK's `$fault`, when an SDK client made the call. */
  readonly fault?: 'client' | 'server' | undefined;
  readonly message: string;
  readonly cause?: unknown;
}

/**
 * What a Management API failure means for the caller, the one mapping every Management API client uses:
 * - 410 / `GoneException` → `gone` (the client left; delete its items; not a failure);
 * - 429 / `LimitExceededException` → `throttled` (account rate or the client's buffer; retry with backoff);
 * - 413 / `PayloadTooLargeException` → `too-large` (never succeeds on retry);
 * - 400 / `BadRequestException` → `rejected` (this connection's call is invalid, e.g. a malformed id; others are
 *   not affected, so it must not fail a whole fan-out job);
 * - 403 / `ForbiddenException`, other 4xx and unexpected 3xx → `failed`, not retryable (configuration or a bug);
 * - 5xx, timeouts and network errors → `failed`, retryable.
 * The status is checked as well as the type: a 410 without AWS's error header has no type.
 */
export function managementApiOutcome(failure: ManagementApiFailure): SendOutcome {
  const { status, errorType, fault, message } = failure;
  const cause = failure.cause === undefined ? {} : { cause: failure.cause };
  if (errorType === 'GoneException' || status === 410) return { kind: 'gone' };
  if (errorType === 'LimitExceededException' || status === 429) return { kind: 'throttled', message };
  if (errorType === 'PayloadTooLargeException' || status === 413) return { kind: 'too-large', message };
  if (errorType === 'BadRequestException' || status === 400) return { kind: 'rejected', message };
  const serverSide = fault === 'server' || (status !== undefined && (status === 0 || status >= 500));
  const clientSide = !serverSide && (errorType === 'ForbiddenException' || fault === 'client' || (status ?? 0) >= 300);
  return { kind: 'failed', retryable: !clientSide, message, ...cause };
}
