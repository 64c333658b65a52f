import type { BackendClient, BackendError, BackendRequest, BackendResponse } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';

export interface FetchBackendClientOptions {
  /** The whole exchange (connect, request, response headers and body) must finish within this. */
  readonly timeoutMs: number;
  /** Largest response body accepted; a larger one is a `too-large` error. Default 1,000,000 bytes. */
  readonly maxResponseBytes?: number;
  /** The `fetch` to use; defaults to the global one (Node's undici, which keeps connections alive). */
  readonly fetch?: typeof fetch;
}

/**
 * Headers `fetch` computes itself or refuses outright (undici throws on `connection`, `keep-alive`,
 * `transfer-encoding`, `upgrade` and `expect`): hop-by-hop and framing headers that never belong on the
 * forwarded request.
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
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function codeOf(thrown: unknown): string | undefined {
  const read = (v: unknown): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>).code : undefined);
  const cause = typeof thrown === 'object' && thrown !== null ? (thrown as Record<string, unknown>).cause : undefined;
  const code = read(cause) ?? read(thrown);
  return typeof code === 'string' ? code : undefined;
}

/**
 * The URL as error messages (and so logs) may show it: without the query, which carries the client's own query
 * string (`?token=…` is common) in the request to the backend.
 */
export function withoutQuery(url: string): string {
  const at = url.search(/[?#]/);
  return at === -1 ? url : url.slice(0, at);
}

function describe(thrown: unknown): string {
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  const cause = thrown instanceof Error && thrown.cause instanceof Error ? `: ${thrown.cause.message}` : '';
  const code = codeOf(thrown);
  return `${message}${cause}${code ? ` (${code})` : ''}`;
}

/**
 * Classifies a failure of `fetch` before a response arrived: refused, unresolvable or reset connections are
 * `connect`; undici's own header/body timeouts are `timeout`; anything else (an HTTP parser error, an invalid
 * URL or header value) is `protocol`.
 */
export function backendErrorFrom(thrown: unknown, fullUrl: string): BackendError {
  const url = withoutQuery(fullUrl);
  const code = codeOf(thrown);
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return { kind: 'connect', message: `could not reach the backend at ${url}: ${describe(thrown)}`, cause: thrown };
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return { kind: 'timeout', message: `the backend at ${url} did not answer in time: ${describe(thrown)}`, cause: thrown };
  }
  return { kind: 'protocol', message: `request to the backend at ${url} failed: ${describe(thrown)}`, cause: thrown };
}

/**
 * `BackendClient` on the Fetch API: one `POST` per call, with the given headers and body, no retries.
 *
 * Contract: any HTTP status is a success (`ok`) with lower-cased header names (repeated headers joined with
 * `, `) and the whole body. Transport trouble is an error value, never a throw: `connect` when the connection
 * was refused, not resolvable, or reset before a response began (a reset after the request was written also
 * lands here: the backend may have seen it); `timeout` when the exchange, body included, took longer than
 * `timeoutMs`; `too-large` when the body exceeds `maxResponseBytes` (reading stops there); `protocol` for
 * anything else (not HTTP, a connection dropped mid-body, an invalid URL or header value).
 *
 * Hop-by-hop and framing headers (`connection`, `keep-alive`, `transfer-encoding`, `upgrade`, `expect`, `te`,
 * `trailer`, `proxy-connection`, `host`, `content-length`) are not forwarded: fetch sets or refuses them.
 *
 * @example
 * const backend = new FetchBackendClient({ timeoutMs: 10_000 });
 * const r = await backend.send({ url: 'http://localhost:3000/ws', headers, body });
 * if (!r.ok && r.error.kind === 'timeout') log.warn('backend slow', { connectionId });
 */
export class FetchBackendClient implements BackendClient {
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly fetch: typeof fetch;

  constructor(options: FetchBackendClientOptions) {
    this.timeoutMs = options.timeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? 1_000_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async send(request: BackendRequest): Promise<Result<BackendResponse, BackendError>> {
    const controller = new AbortController();
    let timedOut = false;
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, request.timeoutMs ?? Infinity));
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const timeout = (): Result<BackendResponse, BackendError> =>
      err({ kind: 'timeout', message: `the backend at ${withoutQuery(request.url)} did not answer within ${timeoutMs} ms` });
    try {
      const headers: [string, string][] = Object.entries(request.headers).filter(([name]) => !NOT_FORWARDED.has(name.toLowerCase()));
      let response: Response;
      try {
        response = await this.fetch(request.url, {
          method: 'POST',
          headers,
          // a copy typed as backed by an ArrayBuffer, which BodyInit requires (bodies are small)
          body: new Uint8Array(request.body),
          signal: controller.signal,
          redirect: 'manual',
        });
      } catch (e) {
        return timedOut ? timeout() : err(backendErrorFrom(e, request.url));
      }
      const body = await this.readBody(response, request.url);
      if (timedOut) return timeout();
      if (!body.ok) return body;
      return ok({ status: response.status, headers: collectHeaders(response.headers), body: body.value });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads the body up to `maxResponseBytes`; cancels the stream as soon as it is over. */
  private async readBody(response: Response, url: string): Promise<Result<Uint8Array, BackendError>> {
    const tooLarge = (): Result<Uint8Array, BackendError> => {
      void response.body?.cancel().catch(() => undefined);
      return err({ kind: 'too-large', message: `the backend's response exceeds ${this.maxResponseBytes} bytes` });
    };
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > this.maxResponseBytes) return tooLarge();
    if (response.body === null) return ok(new Uint8Array(0));
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > this.maxResponseBytes) {
          void reader.cancel().catch(() => undefined);
          return err({ kind: 'too-large', message: `the backend's response exceeds ${this.maxResponseBytes} bytes` });
        }
        chunks.push(value);
      }
    } catch (e) {
      return err({
        kind: 'protocol',
        message: `reading the backend's response from ${withoutQuery(url)} failed: ${describe(e)}`,
        cause: e,
      });
    }
    const joined = Buffer.concat(chunks, size);
    return ok(new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength));
  }
}

function collectHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  // Headers iterates names in lower case; set-cookie comes once per value, everything else already joined
  headers.forEach((value, name) => {
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  });
  return out;
}
