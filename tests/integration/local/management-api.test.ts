import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway, type LocalGateway } from '#src/local/gateway.js';
import { startManagementApi, type ManagementApi } from '#src/local/management-api.js';
import { LOCAL_REGION } from '#src/local/services.js';
import { randomCredentials } from '#src/local/sigv4-verify.js';
import { ExecuteApiSigner } from '#src/adapters/sigv4.js';
import { deferred, openClient, recordingHandlers, waitFor, type TestClient } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

/** The SDK's error for a call, so tests can check its class and status. */
async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number }; $fault?: string }> {
  return promise.then(
    () => {
      throw new Error('call unexpectedly succeeded');
    },
    (e: Error) => e,
  );
}

/** This run's key pair: the API accepts signatures made with it and nothing else. */
const CREDENTIALS = randomCredentials();

describe('local Management API through the real SDK client', () => {
  const handlers = recordingHandlers();
  let gateway: LocalGateway;
  let api: ManagementApi;
  let client: ApiGatewayManagementApiClient;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gateway = await startLocalGateway({ port: 0, handlers, log: new RecordingLog() });
    api = await startManagementApi({ connections: gateway.connections, credentials: CREDENTIALS, stage: 'prod', log: new RecordingLog() });
    client = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint,
      region: LOCAL_REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterEach(() => {
    api.setOptions({ latencyMs: 0, rateLimit: null, faults: {}, random: Math.random });
    for (const c of clients.splice(0)) c.ws.terminate();
  });
  afterAll(async () => {
    client.destroy();
    await api.stop();
    await gateway.stop();
  });

  async function connected(): Promise<{ id: string; ws: TestClient }> {
    const before = handlers.of('CONNECT').length;
    const ws = await openClient(gateway.url, undefined, { headers: { 'User-Agent': 'sdk-test/1' } });
    clients.push(ws);
    const id = handlers.of('CONNECT')[before]!.requestContext.connectionId;
    return { id, ws };
  }

  it('serves its endpoint under the stage and accepts requests without it too', async () => {
    expect(api.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/prod$/);
    const { id, ws } = await connected();
    const bare = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint.replace(/\/prod$/, ''),
      region: LOCAL_REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    await bare.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'no stage' }));
    bare.destroy();
    await waitFor(() => ws.received.length === 1, 5_000, 'the post');
    expect(ws.received[0]).toEqual({ data: 'no stage', isBinary: false });
  });

  it('PostToConnection delivers UTF-8 as a text frame and other bytes as a binary frame (id URL-encoded)', async () => {
    const { id, ws } = await connected();
    expect(id).toMatch(/=$/);
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'héllo ✓' }));
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: new Uint8Array([0xc3, 0x28, 0x00]) }));
    await waitFor(() => ws.received.length === 2, 5_000, 'two frames');
    expect(ws.received[0]).toEqual({ data: 'héllo ✓', isBinary: false });
    expect(ws.received[1]).toEqual({ data: Buffer.from([0xc3, 0x28, 0x00]), isBinary: true });
  });

  it('GetConnection returns connectedAt, lastActiveAt and the identity', async () => {
    const { id } = await connected();
    const out = await client.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(out.ConnectedAt).toBeInstanceOf(Date);
    expect(out.LastActiveAt).toBeInstanceOf(Date);
    expect(out.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(out.ConnectedAt!.getTime());
    expect(out.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'sdk-test/1' });
  });

  it('DeleteConnection closes with 1000; the connection is then gone', async () => {
    const { id, ws } = await connected();
    await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect((await ws.closed).code).toBe(1000);
    const e = await failure(client.send(new DeleteConnectionCommand({ ConnectionId: id })));
    expect(e).toBeInstanceOf(GoneException);
    expect(e.name).toBe('GoneException');
  });

  it('answers GoneException for unknown connections on every operation', async () => {
    for (const command of [
      new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' }),
      new GetConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=' }),
      new DeleteConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=' }),
    ]) {
      const e = await failure(client.send(command as PostToConnectionCommand));
      expect(e).toBeInstanceOf(GoneException);
      expect(e.$metadata?.httpStatusCode).toBe(410);
    }
  });

  it('answers PayloadTooLargeException above 128 KB and accepts exactly 128 KB', async () => {
    const { id, ws } = await connected();
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'a'.repeat(131_072) }));
    const e = await failure(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'a'.repeat(131_073) })));
    expect(e).toBeInstanceOf(PayloadTooLargeException);
    await waitFor(() => ws.received.length === 1, 5_000, 'the 128 KB post');
  });

  it('answers ForbiddenException when the request is not signed', async () => {
    const { id } = await connected();
    const unsigned = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint,
      region: LOCAL_REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    // Strip the signature after the signer ran, as a misconfigured proxy would.
    unsigned.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers?: Record<string, string> };
        if (req.headers) delete req.headers.authorization;
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'stripAuthorization' },
    );
    const e = await failure(unsigned.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' })));
    unsigned.destroy();
    expect(e).toBeInstanceOf(ForbiddenException);
    expect(e.$metadata?.httpStatusCode).toBe(403);

    const raw = await fetch(`${api.endpoint}/@connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'x' });
    expect(raw.status).toBe(403);
    expect(raw.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(await raw.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('verifies signatures: another key, a forged signature, an altered body or an old date are refused, and nothing reaches the client', async () => {
    const { id, ws } = await connected();
    const path = `${new URL(api.endpoint).pathname}/@connections/${encodeURIComponent(id)}`;
    const host = new URL(api.endpoint).host;
    const post = async (headers: Record<string, string>, body: string) => {
      const res = await fetch(`${api.endpoint}/@connections/${encodeURIComponent(id)}`, { method: 'POST', headers, body });
      return { status: res.status, type: res.headers.get('x-amzn-errortype') };
    };
    const signWith = (credentials: { accessKeyId: string; secretAccessKey: string }, body: string, when = new Date()) =>
      new ExecuteApiSigner(LOCAL_REGION, credentials).sign('POST', path, { host }, Buffer.from(body), when);

    // The attack from the review: a well-formed header with a made-up signature.
    const forged = await signWith(CREDENTIALS, 'hi');
    forged['authorization'] = forged['authorization']!.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`);
    expect(await post(forged, 'hi')).toEqual({ status: 403, type: 'InvalidSignatureException' });
    // The right key id with a guessed secret, and another key altogether.
    expect(await post(await signWith({ ...CREDENTIALS, secretAccessKey: 'guess' }, 'hi'), 'hi')).toEqual({
      status: 403,
      type: 'InvalidSignatureException',
    });
    expect(await post(await signWith(randomCredentials(), 'hi'), 'hi')).toEqual({ status: 403, type: 'UnrecognizedClientException' });
    // A captured request replayed with another body, or 20 minutes later.
    const good = await signWith(CREDENTIALS, 'hi');
    expect(await post(good, 'bye')).toEqual({ status: 403, type: 'InvalidSignatureException' });
    expect(await post(await signWith(CREDENTIALS, 'hi', new Date(Date.now() - 20 * 60_000)), 'hi')).toEqual({
      status: 403,
      type: 'InvalidSignatureException',
    });
    expect(ws.received).toEqual([]);

    // The genuine request goes through.
    expect(await post(good, 'hi')).toEqual({ status: 200, type: null });
    await waitFor(() => ws.received.length === 1, 5_000, 'the signed post');
  });

  it('answers 400 BadRequestException for an id that is not API Gateway-shaped, 410 for a well-shaped unknown one', async () => {
    const bad = await failure(client.send(new PostToConnectionCommand({ ConnectionId: 'not an id!', Data: 'x' })));
    expect(bad.$metadata?.httpStatusCode).toBe(400);
    expect(bad.name).toBe('BadRequestException');
    const gone = await failure(client.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' })));
    expect(gone).toBeInstanceOf(GoneException);
  });

  it('answers GoneException to a post made while $connect runs, as on AWS', async () => {
    const seen = deferred<string>();
    const box: { sdk?: ApiGatewayManagementApiClient } = {};
    const local = recordingHandlers({
      onConnect: async (event) => {
        const outcome = await box
          .sdk!.send(new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: 'too early' }))
          .then(
            () => 'delivered',
            (e: Error) => e.name,
          );
        seen.resolve(outcome);
        return { statusCode: 200 };
      },
    });
    const g = await startLocalGateway({ port: 0, handlers: local, log: new RecordingLog() });
    const a = await startManagementApi({ connections: g.connections, credentials: CREDENTIALS, log: new RecordingLog() });
    box.sdk = new ApiGatewayManagementApiClient({
      endpoint: a.endpoint,
      region: LOCAL_REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const ws = await openClient(g.url);
      clients.push(ws);
      expect(await seen.promise).toBe('GoneException');
      // The same id works once the handshake is complete, so the 410 was the pending state, not a bad id.
      const id = local.of('CONNECT')[0]!.requestContext.connectionId;
      await box.sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'after' }));
      await waitFor(() => ws.received.length === 1, 5_000, 'the post after $connect');
      expect(ws.received[0]?.data).toBe('after');
    } finally {
      box.sdk.destroy();
      await a.stop();
      await g.stop();
    }
  });

  it('rate limit: an empty token bucket answers LimitExceededException', async () => {
    const { id } = await connected();
    api.setOptions({ rateLimit: { perSecond: 0.001, burst: 2 } });
    await client.send(new GetConnectionCommand({ ConnectionId: id }));
    await client.send(new GetConnectionCommand({ ConnectionId: id }));
    const e = await failure(client.send(new GetConnectionCommand({ ConnectionId: id })));
    expect(e).toBeInstanceOf(LimitExceededException);
    expect(e.$metadata?.httpStatusCode).toBe(429);
  });

  it('faults: throttleRate and errorRate follow the injected random source', async () => {
    const { id } = await connected();
    const draws = [0.05, 0.2, 0.9];
    api.setOptions({ faults: { throttleRate: 0.1, errorRate: 0.2 }, random: () => draws.shift() ?? 0.99 });
    const before = api.stats();
    const throttled = await failure(client.send(new GetConnectionCommand({ ConnectionId: id })));
    expect(throttled).toBeInstanceOf(LimitExceededException);
    const broken = await failure(client.send(new GetConnectionCommand({ ConnectionId: id })));
    expect(broken.$metadata?.httpStatusCode).toBe(500);
    expect(broken.$fault).toBe('server');
    await client.send(new GetConnectionCommand({ ConnectionId: id }));
    const after = api.stats();
    expect(after.requests - before.requests).toBe(3);
    expect((after.byStatus[429] ?? 0) - (before.byStatus[429] ?? 0)).toBe(1);
    expect((after.byStatus[500] ?? 0) - (before.byStatus[500] ?? 0)).toBe(1);
    expect((after.byStatus[200] ?? 0) - (before.byStatus[200] ?? 0)).toBe(1);
  });

  it('latencyMs holds every request at least that long', async () => {
    const { id } = await connected();
    api.setOptions({ latencyMs: 300 });
    const started = performance.now();
    await client.send(new GetConnectionCommand({ ConnectionId: id }));
    // A lower bound only: the added latency can make a call slower, never faster.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('rejects invalid options', () => {
    expect(() => api.setOptions({ faults: { throttleRate: 2 } })).toThrow(RangeError);
    expect(() => api.setOptions({ rateLimit: { perSecond: 1, burst: 0 } })).toThrow(RangeError);
  });
});
