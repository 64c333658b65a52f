import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { BackendClient, BackendError, BackendRequest, BackendResponse } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';

export interface HttpBackendClientOptions {
  /** The whole exchange (connect, request, response headers and body) must finish within this. */
  readonly timeoutMs: number;
  /** Largest response body accepted; a larger one is a `too-large` error. Default 1,000,000 bytes. */
  readonly maxResponseBytes?: number;
  /** Sockets kept open per backend host (idle ones are reused). Default 128. */
  readonly maxSockets?: number;
}

/**
 * Hop-by-hop and framing headers that never belong on the forwarded request: Node sets `host`, `content-length`
 * and `connection` itself.
 */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-connection',
  'host',
  'content-length',
]);

/** Errors (by `code`) that mean the connection failed before any response began. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

function codeOf(thrown: unknown): string | undefined {
  const code = typeof thrown === 'object' && thrown !== null ? (thrown as Record<string, unknown>).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The URL as error messages (and so logs) may show it: without the query, which carries the client's own query
 * string (`?token=…` is common) in the request to the backend.
 */
function withoutQuery(url: string): string {
  const at = url.search(/[?#]/);
  return at === -1 ? url : url.slice(0, at);
}

function describe(thrown: unknown): string {
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  const code = codeOf(thrown);
  return `${message}${code && !message.includes(code) ? ` (${code})` : ''}`;
}

/**
 * `BackendClient` on `node:http`/`node:https`: one `POST` per call, with the given headers and body, no retries,
 * over keep-alive sockets (one pool per client). Chosen over `fetch` because undici's web streams, abort signals
 * and request objects cost more CPU than the exchange itself when thousands of requests go out at once (a local
 * stop telling the backend about every client).
 *
 * Contract: any HTTP status is a success (`ok`) with lower-cased header names (repeated headers joined with
 * `, `) and the whole body. Transport trouble is an error value, never a throw: `connect` when the connection
 * was refused, not resolvable, or reset before a response began (a reset after the request was written also
 * lands here: the backend may have seen it); `timeout` when the exchange, body included, took longer than
 * `timeoutMs` (or the request's own shorter `timeoutMs`); `too-large` when the body exceeds `maxResponseBytes`
 * (reading stops there); `protocol` for anything else (not HTTP, a connection dropped mid-body, an invalid URL or
 * header value).
 *
 * @example
 * const backend = new HttpBackendClient({ timeoutMs: 10_000 });
 * const r = await backend.send({ url: 'http://localhost:3000/ws', headers, body });
 * if (!r.ok && r.error.kind === 'timeout') log.warn('backend slow', { connectionId });
 */
export class HttpBackendClient implements BackendClient {
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(options: HttpBackendClientOptions) {
    this.timeoutMs = options.timeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? 1_000_000;
    const agent = { keepAlive: true, maxSockets: options.maxSockets ?? 128, scheduling: 'lifo' as const };
    this.http = new HttpAgent(agent);
    this.https = new HttpsAgent(agent);
  }

  send(request: BackendRequest): Promise<Result<BackendResponse, BackendError>> {
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, request.timeoutMs ?? Infinity));
    const shown = withoutQuery(request.url);
    let url: URL;
    try {
      url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
    } catch (e) {
      return Promise.resolve(err({ kind: 'protocol', message: `request to the backend at ${shown} failed: ${describe(e)}`, cause: e }));
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) if (!NOT_FORWARDED.has(name.toLowerCase())) headers[name] = value;
    headers['content-length'] = request.body.byteLength;

    return new Promise((resolve) => {
      let settled = false;
      let responded = false;
      const finish = (result: Result<BackendResponse, BackendError>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const fail = (kind: BackendError['kind'], message: string, cause?: unknown) =>
        finish(err({ kind, message, ...(cause !== undefined ? { cause } : {}) }));
      const timer = setTimeout(() => {
        fail('timeout', `the backend at ${shown} did not answer within ${timeoutMs} ms`);
        outgoing.destroy();
      }, timeoutMs);

      const onError = (e: unknown) => {
        const code = codeOf(e);
        // ETIMEDOUT may come after the request was written: a timeout (never re-sent), as the fetch client had it.
        if (code === 'ETIMEDOUT') {
          fail('timeout', `the backend at ${shown} did not answer in time: ${describe(e)}`, e);
        } else if (!responded && code !== undefined && CONNECT_CODES.has(code)) {
          fail('connect', `could not reach the backend at ${shown}: ${describe(e)}`, e);
        } else {
          const what = responded ? `reading the backend's response from ${shown} failed` : `request to the backend at ${shown} failed`;
          fail('protocol', `${what}: ${describe(e)}`, e);
        }
      };
      const options = { method: 'POST', headers, agent: url.protocol === 'https:' ? this.https : this.http };
      let outgoing: ReturnType<typeof httpRequest>;
      try {
        outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (response) => {
          responded = true;
          this.readBody(response, shown, fail, (body) =>
            finish(ok({ status: response.statusCode ?? 0, headers: collectHeaders(response), body })),
          );
        });
      } catch (e) {
        // An invalid header name or value throws synchronously.
        clearTimeout(timer);
        resolve(err({ kind: 'protocol', message: `request to the backend at ${shown} failed: ${describe(e)}`, cause: e }));
        return;
      }
      outgoing.on('error', onError);
      outgoing.end(request.body);
    });
  }

  /** Reads the body up to `maxResponseBytes`; stops reading (and drops the socket) as soon as it is over. */
  private readBody(
    response: IncomingMessage,
    shown: string,
    fail: (kind: BackendError['kind'], message: string, cause?: unknown) => void,
    done: (body: Uint8Array) => void,
  ): void {
    const tooLarge = () => {
      fail('too-large', `the backend's response exceeds ${this.maxResponseBytes} bytes`);
      response.destroy();
    };
    const declared = Number(response.headers['content-length'] ?? NaN);
    if (declared > this.maxResponseBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > this.maxResponseBytes) return tooLarge();
      chunks.push(chunk);
    });
    response.on('error', (e) => fail('protocol', `reading the backend's response from ${shown} failed: ${describe(e)}`, e));
    response.on('aborted', () => fail('protocol', `reading the backend's response from ${shown} failed: the connection closed mid-body`));
    response.on('end', () => {
      if (!response.complete) {
        fail('protocol', `reading the backend's response from ${shown} failed: the connection closed mid-body`);
        return;
      }
      const joined = Buffer.concat(chunks, size);
      done(new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength));
    });
  }

  /** Closes the idle keep-alive sockets (a process that stops should not wait for them). */
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function collectHeaders(response: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}
