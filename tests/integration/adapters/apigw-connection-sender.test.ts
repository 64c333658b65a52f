import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import { ApiGatewayConnectionSender, createManagementApiClient } from '#src/adapters/apigw-connection-sender.js';
import { SignedHttpConnectionSender } from '#src/adapters/signed-http-connection-sender.js';
import type { ConnectionSender } from '#src/domain/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';

/**
 * Checks a request's SigV4 signature from first principles (AWS's documented algorithm, node:crypto), the way
 * API Gateway does, so a gateway that signs wrongly fails here rather than on AWS.
 */
function sigV4Valid(req: IncomingMessage, body: Buffer, secret: string): boolean {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      req.headers.authorization ?? '',
    );
  if (!auth) return false;
  const [, , day, region, service, signedHeaders, signature] = auth as unknown as string[];
  const hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
  const escape = (segment: string) =>
    encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const [path = '', query = ''] = (req.url ?? '').split('?');
  const canonicalUri = path.split('/').map(escape).join('/');
  const names = (signedHeaders ?? '').split(';');
  const header = (name: string) =>
    String(req.headers[name] ?? '')
      .trim()
      .replace(/\s+/g, ' ');
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? hex(body));
  if (payloadHash !== hex(body)) return false;
  const canonical = [req.method, canonicalUri, query, ...names.map((n) => `${n}:${header(n)}`), '', signedHeaders, payloadHash].join('\n');
  const amzDate = header('x-amz-date');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\n');
  const hmac = (key: string | Buffer, value: string) => createHmac('sha256', key).update(value).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day ?? ''), region ?? ''), service ?? ''), 'aws4_request');
  return service === 'execute-api' && createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
  readonly signed: boolean;
  readonly signatureValid: boolean;
}

/** A stand-in Management API answering with AWS's real error shapes, chosen by connection id. */
function managementApi(seen: Seen[], sockets: Set<Socket>, inFlight: { now: number; max: number }): Server {
  const error = (res: ServerResponse, status: number, type: string | null, body = '{"message":null}') => {
    res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method ?? '',
        path,
        body,
        signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? ''),
        signatureValid: sigV4Valid(req, body, LOCAL_CREDENTIALS.secretAccessKey),
      });
      const id = decodeURIComponent(path.split('/').pop() ?? '');
      inFlight.now++;
      inFlight.max = Math.max(inFlight.max, inFlight.now);
      res.on('close', () => inFlight.now--);
      switch (id) {
        case 'gone':
          return error(res, 410, 'GoneException');
        case 'gone-bare':
          res.writeHead(410);
          return res.end();
        case 'limit':
          return error(res, 429, 'LimitExceededException', '{"message":"Rate exceeded"}');
        case 'big':
          return error(res, 413, 'PayloadTooLargeException');
        case 'forbidden':
          return error(res, 403, 'ForbiddenException', '{"message":"Forbidden"}');
        case 'boom':
          res.writeHead(500);
          return res.end();
        case 'hang':
          return; // never answers
        default:
          res.writeHead(req.method === 'DELETE' ? 204 : 200);
          return res.end();
      }
    });
  });
  server.on('connection', (s: Socket) => {
    s.on('error', () => undefined);
    sockets.add(s);
  });
  return server;
}

interface Made {
  readonly gateway: ConnectionSender;
  destroy(): void;
}

/** Both Management API adapters: the SDK client, and the signer on a bare keep-alive agent. Same contract. */
const implementations: { name: string; make: (endpoint: string, maxSockets: number, requestTimeoutMs?: number) => Made }[] = [
  {
    name: 'ApiGatewayConnectionSender (SDK client)',
    make: (endpoint, maxSockets, requestTimeoutMs) => {
      const client = createManagementApiClient({
        endpoint,
        region: LOCAL_REGION,
        maxSockets,
        credentials: LOCAL_CREDENTIALS,
        ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
      });
      return { gateway: new ApiGatewayConnectionSender({ client }), destroy: () => client.destroy() };
    },
  },
  {
    name: 'SignedHttpConnectionSender (SigV4 signer + keep-alive agent)',
    make: (endpoint, maxSockets, requestTimeoutMs) => {
      const gateway = new SignedHttpConnectionSender({
        endpoint,
        region: LOCAL_REGION,
        maxSockets,
        credentials: LOCAL_CREDENTIALS,
        ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
      });
      return { gateway, destroy: () => gateway.destroy() };
    },
  },
];

describe.each(implementations)('$name against an HTTP server with AWS error shapes', ({ make }) => {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const inFlight = { now: 0, max: 0 };
  let server: Server;
  let endpoint: string;
  let gateway: ConnectionSender;
  let made: Made;

  beforeAll(async () => {
    server = managementApi(seen, sockets, inFlight);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
    made = make(endpoint, 3, 300);
    gateway = made.gateway;
  });
  afterAll(async () => {
    made.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('posts the raw bytes, signed, to /{stage}/@connections/{url-encoded id}', async () => {
    seen.length = 0;
    expect(await gateway.post('abc=', 'héllo')).toEqual({ kind: 'ok' });
    expect(await gateway.post('bin', new Uint8Array([0, 255, 1]))).toEqual({ kind: 'ok' });
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/prod/@connections/abc%3D', signed: true, signatureValid: true });
    expect(seen[1]).toMatchObject({ signatureValid: true });
    expect(seen[0]?.body.toString('utf8')).toBe('héllo');
    expect([...(seen[1]?.body ?? [])]).toEqual([0, 255, 1]);
  });

  it('close is a DELETE of the connection', async () => {
    seen.length = 0;
    expect(await gateway.close('abc=', { code: 4000, reason: 'ignored' })).toEqual({ kind: 'ok' });
    expect(seen[0]).toMatchObject({ method: 'DELETE', path: '/prod/@connections/abc%3D', signatureValid: true });
  });

  it('maps 410 (with or without the error header) to gone, for post and close', async () => {
    expect(await gateway.post('gone', 'x')).toEqual({ kind: 'gone' });
    expect(await gateway.post('gone-bare', 'x')).toEqual({ kind: 'gone' });
    expect(await gateway.close('gone')).toEqual({ kind: 'gone' });
  });

  it('maps 429 to throttled and 413 to too-large', async () => {
    expect(await gateway.post('limit', 'x')).toMatchObject({ kind: 'throttled', message: expect.stringMatching(/LimitExceededException/) });
    expect(await gateway.post('big', 'x')).toMatchObject({ kind: 'too-large', message: expect.stringMatching(/PayloadTooLarge/) });
  });

  it('maps 403 to a non-retryable failure and 500 to a retryable one', async () => {
    expect(await gateway.post('forbidden', 'x')).toMatchObject({
      kind: 'failed',
      retryable: false,
      message: expect.stringMatching(/Forbidden/),
    });
    expect(await gateway.post('boom', 'x')).toMatchObject({ kind: 'failed', retryable: true });
  });

  it('makes exactly one attempt per call (a 500 is not retried by the adapter)', async () => {
    seen.length = 0;
    await gateway.post('boom', 'x');
    expect(seen).toHaveLength(1);
  });

  it('fails a call with no answer within the request timeout as retryable', async () => {
    const r = await gateway.post('hang', 'x');
    expect(r).toMatchObject({ kind: 'failed', retryable: true, message: expect.stringMatching(/Timeout|timed out|no answer/i) });
  });

  it('refuses data over 128 KB without calling API Gateway', async () => {
    seen.length = 0;
    const r = await gateway.post('ok', 'x'.repeat(128 * 1024 + 1));
    expect(r).toMatchObject({ kind: 'too-large', message: expect.stringMatching(/131073 bytes/) });
    expect(seen).toHaveLength(0);
    expect(await gateway.post('ok', 'x'.repeat(128 * 1024))).toEqual({ kind: 'ok' });
  });

  it('never opens more than maxSockets connections, however many calls are in flight', async () => {
    const fresh = make(endpoint, 3);
    const capped = fresh.gateway;
    await new Promise((r) => setImmediate(r));
    sockets.clear();
    inFlight.max = 0;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => capped.post(`many-${i}`, 'x')));
    expect(results.filter((r) => r.kind !== 'ok')).toEqual([]);
    // all 12 were started at once: without the cap each would have opened its own connection
    expect(sockets.size).toBe(3);
    expect(inFlight.max).toBeLessThanOrEqual(3);
    fresh.destroy();
  });

  it('fails retryably when nothing listens on the endpoint', async () => {
    const dead = make('http://127.0.0.1:1', 1);
    const r = await dead.gateway.post('x', 'y');
    expect(r).toMatchObject({ kind: 'failed', retryable: true, message: expect.stringMatching(/ECONNREFUSED/) });
    dead.destroy();
  });
});
