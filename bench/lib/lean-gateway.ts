/**
 * EVIDENCE ONLY, not production code: a `ConnectionGateway` that signs `PostToConnection` with SigV4 by hand
 * (node:crypto) and sends it on a keep-alive `node:http` agent, bypassing the SDK's middleware stack. The CPU
 * benchmark measures it next to the SDK path to show what the "lean path" of reference/performance.md §4.3
 * would save. It lacks what a real adapter needs (HTTPS, credential refresh and session tokens, timeouts,
 * retries of socket errors), and replacing the SDK client is a design decision, not a benchmark's.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { CloseRequest, ConnectionGateway, GatewayOutcome } from '../../src/domain/ports.js';

export interface LeanGatewayOptions {
  /** `http://host:port/stage` (plain HTTP: the local Management API). */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly maxSockets: number;
}

const SERVICE = 'execute-api';

export class LeanSigV4Gateway implements ConnectionGateway {
  readonly #url: URL;
  readonly #agent: Agent;
  readonly #options: LeanGatewayOptions;
  #keyDate = '';
  #signingKey: Buffer = Buffer.alloc(0);

  constructor(options: LeanGatewayOptions) {
    this.#options = options;
    this.#url = new URL(options.endpoint);
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  }

  destroy(): void {
    this.#agent.destroy();
  }

  post(connectionId: string, data: string | Uint8Array): Promise<GatewayOutcome> {
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const path = `${this.#url.pathname.replace(/\/$/, '')}/@connections/${encodeURIComponent(connectionId)}`;
    const host = this.#url.host;
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = createHash('sha256').update(body).digest('hex');
    const headers: [string, string][] = [
      ['content-length', String(body.length)],
      ['content-type', 'application/octet-stream'],
      ['host', host],
      ['x-amz-content-sha256', payloadHash],
      ['x-amz-date', amzDate],
    ];
    const signedHeaders = headers.map(([k]) => k).join(';');
    // Non-S3 services sign the path URI-encoded once more, as the SDK's signer does.
    const canonicalUri = path.split('/').map((s) => encodeURIComponent(s)).join('/');
    const canonical = ['POST', canonicalUri, '', ...headers.map(([k, v]) => `${k}:${v}`), '', signedHeaders, payloadHash].join('\n');
    const scope = `${day}/${this.#options.region}/${SERVICE}/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    const signature = createHmac('sha256', this.#key(day)).update(toSign).digest('hex');
    const authorization = `AWS4-HMAC-SHA256 Credential=${this.#options.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return new Promise((resolve) => {
      const req = request(
        { host: this.#url.hostname, port: this.#url.port, method: 'POST', path, agent: this.#agent, headers: { ...Object.fromEntries(headers), authorization } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(outcomeOf(res.statusCode ?? 0)));
          res.on('error', (e) => resolve({ kind: 'failed', retryable: true, message: e.message, cause: e }));
        },
      );
      req.on('error', (e) => resolve({ kind: 'failed', retryable: true, message: e.message, cause: e }));
      req.end(body);
    });
  }

  close(_connectionId: string, _request?: CloseRequest): Promise<GatewayOutcome> {
    return Promise.resolve({ kind: 'failed', retryable: false, message: 'not implemented in the benchmark prototype' });
  }

  #key(day: string): Buffer {
    if (day !== this.#keyDate) {
      const hmac = (key: string | Buffer, value: string) => createHmac('sha256', key).update(value).digest();
      this.#signingKey = hmac(hmac(hmac(hmac(`AWS4${this.#options.credentials.secretAccessKey}`, day), this.#options.region), SERVICE), 'aws4_request');
      this.#keyDate = day;
    }
    return this.#signingKey;
  }
}

function outcomeOf(status: number): GatewayOutcome {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 410) return { kind: 'gone' };
  if (status === 429) return { kind: 'throttled', message: 'LimitExceededException' };
  if (status === 413) return { kind: 'too-large', message: 'PayloadTooLargeException' };
  return { kind: 'failed', retryable: status >= 500, message: `HTTP ${status}` };
}
