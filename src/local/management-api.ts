/**
 * A local API Gateway Management API (`@connections`), over the local gateway's connection registry. It speaks
 * AWS's wire format (docs/local-services.md §3), so the real `@aws-sdk/client-apigatewaymanagementapi`
 * client works against it unchanged and raises the exceptions it raises on AWS.
 *
 * For benchmarks and fault tests it can add latency, enforce a token-bucket rate limit and inject throttles and
 * server errors; it counts requests by status.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AwsCredentialIdentity } from '@smithy/types';
import { performance } from 'node:perf_hooks';
import type { SendOutcome, Log } from '../domain/ports.js';
import { decodeUtf8Strict } from '../domain/protocol/values.js';
import { isConnectionIdShaped, MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import type { LocalConnections } from './connections.js';
import { listen } from './http.js';
import { describeError, stderrLog } from './log.js';
import { numberOption } from './options.js';
import { verifySigV4, type Verdict } from './sigv4-verify.js';

export interface RateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size (and the initial fill). */
  readonly burst: number;
}

export interface Faults {
  /** Fraction of authorized calls answered 429 `LimitExceededException` (0–1). */
  readonly throttleRate?: number;
  /** Fraction of authorized calls answered 500 (0–1). Drawn from the same random number, after `throttleRate`. */
  readonly errorRate?: number;
}

/** The options that can change while the server runs. */
export interface ManagementApiTuning {
  /** Added before every request is handled. Default 0. */
  readonly latencyMs?: number | undefined;
  /** Token bucket over all requests; an empty bucket answers 429 `LimitExceededException`. Default: none. */
  readonly rateLimit?: RateLimit | null | undefined;
  readonly faults?: Faults;
  /** Random source in [0, 1) for `faults`. Default `Math.random`. */
  readonly random?: () => number;
}

export interface ManagementApiOptions extends ManagementApiTuning {
  readonly connections: LocalConnections;
  /**
   * The only key pair whose SigV4 signatures are accepted (as IAM would check them on AWS). Local mode makes a
   * fresh random pair per run (`randomCredentials`) and gives it only to its own senders.
   */
  readonly credentials: AwsCredentialIdentity;
  readonly host?: string;
  /** 0 picks a free port. Default 0. */
  readonly port?: number;
  /** When set, `endpoint` ends in `/{stage}` as on AWS. Requests are accepted with or without any stage prefix. */
  readonly stage?: string;
  readonly log?: Log;
}

export interface ManagementApiStats {
  /** Requests received (counted on arrival, before latency, auth and limits). */
  readonly requests: number;
  /** Responses sent, by HTTP status. */
  readonly byStatus: Readonly<Record<number, number>>;
}

export interface ManagementApi {
  /** Pass as `endpoint` to `ApiGatewayManagementApiClient`: `http://host:port` or `http://host:port/{stage}`. */
  readonly endpoint: string;
  stats(): ManagementApiStats;
  /** Changes latency, rate limit, faults or random source from now on. A new `rateLimit` starts full. */
  setOptions(partial: ManagementApiTuning): void;
  /** Stops listening and drops open HTTP connections; requests waiting out `latencyMs` are answered 503. */
  stop(): Promise<void>;
}

interface ErrorReply {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

const FORBIDDEN_MISSING: ErrorReply = { status: 403, type: 'ForbiddenException', message: 'Missing Authentication Token' };
/** API Gateway's answers to a request whose signature does not verify (all 403). */
const REFUSED: Record<Exclude<Verdict, { ok: true }>['reason'], ErrorReply> = {
  missing: FORBIDDEN_MISSING,
  malformed: { status: 403, type: 'IncompleteSignatureException', message: 'Authorization header is malformed' },
  'unknown-key': { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
  expired: { status: 403, type: 'InvalidSignatureException', message: 'Signature expired' },
  mismatch: {
    status: 403,
    type: 'InvalidSignatureException',
    message:
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  },
};
const GONE: ErrorReply = { status: 410, type: 'GoneException', message: 'Connection is gone' };
const LIMIT: ErrorReply = { status: 429, type: 'LimitExceededException', message: 'Rate exceeded' };
const INTERNAL: ErrorReply = { status: 500, type: 'InternalServerErrorException', message: 'Internal server error' };

/** Requests whose body exceeds this are not drained but cut off (nothing legitimate comes close). */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

const ROUTE = /^(?:\/[^/]+)?\/@connections\/([^/]+)$/;

/**
 * Starts the Management API and resolves once it listens.
 *
 * Contract (per request, in this order): count it; wait `latencyMs`; verify its SigV4 signature against
 * `credentials` (key id, date within 15 minutes, signature over method, path, query, signed headers and body)
 * else 403 (`ForbiddenException` when unsigned, else the exception API Gateway names); take a token from the
 * rate limit else 429; apply `faults`; then route:
 * - An id that is not base64-shaped (API Gateway's ids are): 400 `BadRequestException` "Invalid connectionId".
 * - `POST /@connections/{id}`: the body is posted as a text frame when it is valid UTF-8, else as a binary
 *   frame. 200 with no body; 413 `PayloadTooLargeException` over 128 KB; 410 `GoneException` for unknown or
 *   pending connections; 429 `LimitExceededException` when the client's buffer is full.
 * - `GET /@connections/{id}`: 200 `{connectedAt, identity: {sourceIp, userAgent}, lastActiveAt}` (ISO 8601).
 * - `DELETE /@connections/{id}`: closes with 1000 (API Gateway sends no other code), 204.
 * The id is URL-decoded; an optional `/{stage}` prefix is ignored. Errors carry `x-amzn-errortype` and a JSON
 * `{"message": …}` body, which is what the SDK maps to its exception classes.
 *
 * @example
 * const api = await startManagementApi({ connections: gateway.connections, stage: 'local' });
 * const client = new ApiGatewayManagementApiClient({ endpoint: api.endpoint, region, credentials });
 */
export async function startManagementApi(options: ManagementApiOptions): Promise<ManagementApi> {
  const host = options.host ?? '127.0.0.1';
  const connections = options.connections;
  const log = options.log ?? stderrLog('local-management-api');
  let tuning = validateTuning({ latencyMs: 0, rateLimit: null, faults: {}, random: Math.random, ...pickTuning(options) });
  let bucket = newBucket(tuning.rateLimit);
  let requests = 0;
  const byStatus: Record<number, number> = {};
  const waiting = new Set<() => void>();
  let stopping = false;

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: string): void => {
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
  const sendError = (res: ServerResponse, reply: ErrorReply): void => {
    send(
      res,
      reply.status,
      { 'Content-Type': 'application/json', 'x-amzn-errortype': reply.type },
      JSON.stringify({ message: reply.message }),
    );
  };

  const delay = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        waiting.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        waiting.delete(wake);
        resolve(true);
      }, ms);
      waiting.add(wake);
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    const body = await readBody(req);
    if (tuning.latencyMs > 0 && !(await delay(tuning.latencyMs))) {
      sendError(res, { status: 503, type: 'ServiceUnavailableException', message: 'Shutting down' });
      return;
    }
    const verdict = verifySigV4(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, payloadHash: body.sha256 },
      options.credentials,
    );
    if (!verdict.ok) {
      if (verdict.reason !== 'missing')
        log.warn('refused a Management API call whose signature does not verify', { reason: verdict.reason });
      sendError(res, REFUSED[verdict.reason]);
      return;
    }
    if (bucket && !bucket.take()) {
      sendError(res, LIMIT);
      return;
    }
    const { throttleRate = 0, errorRate = 0 } = tuning.faults;
    if (throttleRate > 0 || errorRate > 0) {
      const r = tuning.random();
      if (r < throttleRate) return sendError(res, LIMIT);
      if (r < throttleRate + errorRate) return sendError(res, INTERNAL);
    }
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const match = ROUTE.exec(path);
    const rawId = match?.[1];
    let connectionId: string;
    try {
      if (rawId === undefined) throw new URIError('no route');
      connectionId = decodeURIComponent(rawId);
    } catch {
      sendError(res, FORBIDDEN_MISSING); // API Gateway's answer to a path no route matches
      return;
    }
    if (!isConnectionIdShaped(connectionId)) {
      sendError(res, { status: 400, type: 'BadRequestException', message: 'Invalid connectionId' });
      return;
    }
    switch (req.method) {
      case 'POST': {
        if (body.bytes === 'too-large') {
          sendError(res, { status: 413, type: 'PayloadTooLargeException', message: 'Message too long' });
          return;
        }
        const outcome = connections.post(connectionId, decodeBody(body.bytes));
        return outcome.kind === 'ok' ? send(res, 200, {}, '') : sendOutcome(res, outcome);
      }
      case 'GET': {
        const info = connections.info(connectionId);
        if (!info) return sendError(res, GONE);
        const json = JSON.stringify({
          connectedAt: new Date(info.connectedAt).toISOString(),
          identity: { sourceIp: info.identity.sourceIp, userAgent: info.identity.userAgent },
          lastActiveAt: new Date(info.lastActiveAt).toISOString(),
        });
        return send(res, 200, { 'Content-Type': 'application/json' }, json);
      }
      case 'DELETE': {
        const outcome = connections.close(connectionId, { code: 1000 });
        return outcome.kind === 'ok' ? send(res, 204, {}, '') : sendOutcome(res, outcome);
      }
      default:
        return sendError(res, FORBIDDEN_MISSING);
    }
  }

  function sendOutcome(res: ServerResponse, outcome: Exclude<SendOutcome, { kind: 'ok' }>): void {
    switch (outcome.kind) {
      case 'gone':
        return sendError(res, GONE);
      case 'throttled':
        return sendError(res, { ...LIMIT, message: outcome.message });
      case 'too-large':
        return sendError(res, { status: 413, type: 'PayloadTooLargeException', message: outcome.message });
      case 'rejected':
        return sendError(res, { status: 400, type: 'BadRequestException', message: outcome.message });
      case 'failed':
        log.error('connection call failed', { error: outcome.message, cause: describeError(outcome.cause) });
        return sendError(res, outcome.retryable ? INTERNAL : { status: 400, type: 'BadRequestException', message: outcome.message });
    }
  }

  const server = createServer((req, res) => {
    req.on('error', (e) => log.debug('request error', { error: describeError(e) }));
    res.on('error', (e) => log.debug('response error', { error: describeError(e) }));
    handle(req, res).catch((e: unknown) => {
      log.error('management API request failed', { error: describeError(e) });
      sendError(res, INTERNAL);
    });
  });
  const base = `http://${(await listen(server, options.port ?? 0, host, log)).authority}`;

  return {
    endpoint: options.stage ? `${base}/${encodeURIComponent(options.stage)}` : base,
    stats: () => ({ requests, byStatus: { ...byStatus } }),
    setOptions(partial) {
      const next = validateTuning({ ...tuning, ...pickTuning(partial) });
      if (partial.rateLimit !== undefined) bucket = newBucket(next.rateLimit);
      tuning = next;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const wake of [...waiting]) wake();
      server.closeIdleConnections();
      await new Promise((r) => setImmediate(r));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface Tuning {
  readonly latencyMs: number;
  readonly rateLimit: RateLimit | null;
  readonly faults: Faults;
  readonly random: () => number;
}

/** Only the tuning keys that are set, so `undefined` never overwrites a value. */
function pickTuning(source: ManagementApiTuning): Partial<Tuning> {
  const out: { -readonly [K in keyof Tuning]?: Tuning[K] } = {};
  if (source.latencyMs !== undefined) out.latencyMs = source.latencyMs;
  if (source.rateLimit !== undefined) out.rateLimit = source.rateLimit;
  if (source.faults !== undefined) out.faults = source.faults;
  if (source.random !== undefined) out.random = source.random;
  return out;
}

function validateTuning(t: Tuning): Tuning {
  numberOption('latencyMs', t.latencyMs, 0, { min: 0 });
  if (t.rateLimit) {
    numberOption('rateLimit.perSecond', t.rateLimit.perSecond, 0, { min: 0 });
    numberOption('rateLimit.burst', t.rateLimit.burst, 1, { min: 1 });
  }
  for (const [name, rate] of Object.entries(t.faults)) numberOption(`faults.${name}`, rate, 0, { min: 0, max: 1 });
  return t;
}

function newBucket(limit: RateLimit | null): { take(): boolean } | null {
  if (!limit) return null;
  let tokens = limit.burst;
  let last = performance.now();
  return {
    take() {
      const now = performance.now();
      tokens = Math.min(limit.burst, tokens + ((now - last) / 1000) * limit.perSecond);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/**
 * The whole body, or `'too-large'` once it passes 128 KB (the rest is drained, up to a bound, then cut off), with
 * the SHA-256 of every byte received (what the signature covers).
 */
async function readBody(req: IncomingMessage): Promise<{ readonly bytes: Uint8Array | 'too-large'; readonly sha256: string }> {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAIN_BYTES) {
      req.destroy();
      return { bytes: 'too-large', sha256: '' };
    }
    hash.update(chunk);
    if (size <= MAX_MESSAGE_BYTES) chunks.push(chunk);
  }
  return { bytes: size > MAX_MESSAGE_BYTES ? 'too-large' : Buffer.concat(chunks), sha256: hash.digest('hex') };
}

/** Valid UTF-8 becomes a string (a text frame, a leading BOM kept); anything else stays bytes (a binary frame). */
function decodeBody(body: Uint8Array): string | Uint8Array {
  return decodeUtf8Strict(body) ?? body;
}
