import { describe, expect, it } from 'vitest';
import { signGripSig } from '#src/domain/auth.js';
import { handleControlApiRequest, type ControlApiRequest } from '#src/domain/control-api/handle-request.js';
import { parseJob } from '#src/domain/fanout/jobs.js';
import { queueError } from '#test-helpers/fakes.js';
import { controlHarness, SHARED_KEY } from '#test-helpers/harness.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const KEY_AUTH = `Bearer ${SHARED_KEY}`;
const publishBody = (items: unknown[]) => utf8(JSON.stringify({ items }));
const sendItem = (channel: string, content: string, extra: Record<string, unknown> = {}) => ({
  channel,
  formats: { 'ws-message': { content } },
  ...extra,
});

function request(overrides: Partial<ControlApiRequest> = {}): ControlApiRequest {
  return {
    method: 'POST',
    path: '/publish/',
    query: '',
    headers: { authorization: KEY_AUTH, 'content-type': 'application/json' },
    body: publishBody([sendItem('room', 'hello')]),
    ...overrides,
  };
}

describe('control API: routes', () => {
  it.each(['/publish/', '/publish', '/publish//'])('POST %s publishes', async (path) => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ path }));
    expect(response.status).toBe(200);
    expect(response.body).toBe('Published\n');
    expect(h.queue.queued).toHaveLength(1);
  });

  it('GET / answers 200; other methods on / get 405 with Allow: GET', async () => {
    const h = controlHarness();
    expect((await handleControlApiRequest(h.deps, request({ method: 'GET', path: '/', headers: {} }))).status).toBe(200);
    const post = await handleControlApiRequest(h.deps, request({ method: 'POST', path: '/' }));
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET');
  });

  it.each([
    ['GET', '/publish/'],
    ['PUT', '/publish'],
    ['GET', '/connections/abc=/messages'],
    ['DELETE', '/connections/abc=/close'],
  ])('%s %s is 405 with Allow: POST and queues nothing', async (method, path) => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ method, path }));
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe('POST');
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it.each(['/nope', '/publishx', '/connections/abc=', '/connections/abc=/other', '/connections//messages', '/connections/a/b/messages'])(
    '%s is 404',
    async (path) => {
      const h = controlHarness();
      expect((await handleControlApiRequest(h.deps, request({ path }))).status).toBe(404);
      expect(h.queue.enqueueCalls).toHaveLength(0);
    },
  );

  it('answers 406 when Accept allows neither text/plain nor JSON', async () => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ headers: { authorization: KEY_AUTH, accept: 'image/png' } }));
    expect(response.status).toBe(406);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('answers JSON when Accept asks for JSON only, text otherwise', async () => {
    const h = controlHarness();
    const json = await handleControlApiRequest(h.deps, request({ headers: { authorization: KEY_AUTH, accept: 'application/json' } }));
    expect(json).toEqual({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"message":"Published"}' });
    const text = await handleControlApiRequest(
      h.deps,
      request({ headers: { authorization: KEY_AUTH, accept: 'text/plain, application/json;q=0.5' } }),
    );
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toBe('Published\n');
    const any = await handleControlApiRequest(h.deps, request({ headers: { authorization: KEY_AUTH, accept: '*/*' } }));
    expect(any.body).toBe('Published\n');
  });
});

describe('control API: authentication', () => {
  const now = () => Math.floor(controlHarness().time.now / 1000);

  it('accepts Bearer <key>', async () => {
    const h = controlHarness();
    expect((await handleControlApiRequest(h.deps, request({ headers: { authorization: KEY_AUTH } }))).status).toBe(200);
  });

  it('accepts a Bearer HS256 JWT signed with the key, and checks iss when one is configured', async () => {
    const token = await signGripSig({ key: SHARED_KEY, iss: 'publisher', nowSeconds: now() });
    const h = controlHarness({ iss: 'publisher' });
    expect((await handleControlApiRequest(h.deps, request({ headers: { authorization: `Bearer ${token}` } }))).status).toBe(200);

    const strict = controlHarness({ iss: 'someone-else' });
    const refused = await handleControlApiRequest(strict.deps, request({ headers: { authorization: `Bearer ${token}` } }));
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('wrong-issuer');
    expect(strict.queue.enqueueCalls).toHaveLength(0);
  });

  it.each([
    ['no Authorization header', async () => undefined],
    ['the wrong key', async () => 'Bearer not-the-key'],
    [
      'a JWT signed with the wrong key',
      async () => `Bearer ${await signGripSig({ key: 'other-key', iss: 'publisher', nowSeconds: now() })}`,
    ],
    ['an expired JWT', async () => `Bearer ${await signGripSig({ key: SHARED_KEY, iss: 'publisher', nowSeconds: now() - 7200 })}`],
    ['Basic auth', async () => `Basic ${Buffer.from(`user:${SHARED_KEY}`).toString('base64')}`],
  ])('refuses %s with 401 and queues nothing', async (_name, authorization) => {
    const h = controlHarness();
    const value = await authorization();
    const response = await handleControlApiRequest(h.deps, request({ headers: value === undefined ? {} : { authorization: value } }));
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.body).not.toContain(SHARED_KEY);
    expect(h.queue.enqueueCalls).toHaveLength(0);
    expect(h.log.at('warn')).toHaveLength(1);
    expect(JSON.stringify(h.log.entries)).not.toContain(SHARED_KEY);
  });

  it('checks authentication before reading the body', async () => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ headers: {}, body: utf8('not json') }));
    expect(response.status).toBe(401);
  });
});

describe('control API: publishing', () => {
  it('refuses a connection id API Gateway never makes with a 400 naming the item, and queues nothing', async () => {
    const h = controlHarness();
    const body = publishBody([sendItem('room', 'one'), { connection: 'conn_1', formats: { 'ws-message': { content: 'x' } } }]);
    const response = await handleControlApiRequest(h.deps, request({ body }));
    expect(response.status).toBe(400);
    expect(String(response.body)).toContain('items[1].connection');
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('queues one job per item with orderKey ch:<channel> / conn:<id>, in order', async () => {
    const h = controlHarness();
    const body = publishBody([
      sendItem('room', 'one', { id: 'pub-1' }),
      { connection: 'abc=', formats: { 'ws-message': { content: 'direct' } } },
      { channel: 'news', formats: { 'ws-message': { 'content-bin': 'AQID' } } },
      { channel: 'room', formats: { 'ws-message': { action: 'close', code: 4000, reason: 'bye' } } },
    ]);

    const response = await handleControlApiRequest(h.deps, request({ body }));

    expect(response.status).toBe(200);
    expect(h.queue.enqueueCalls).toHaveLength(1);
    expect(h.queue.entries().map((e) => e.orderKey)).toEqual(['ch:room', 'conn:abc=', 'ch:news', 'ch:room']);
    const now = h.time.now;
    expect(h.queue.jobs()).toEqual([
      {
        v: 1,
        kind: 'channel',
        channel: 'room',
        payload: { kind: 'text', text: 'one' },
        partition: { from: 0, to: 65536 },
        range: { from: 0, to: 65536 },
        cursor: null,
        publishId: 'pub-1',
        publishedAt: now,
        itemId: 'pub-1',
      },
      {
        v: 1,
        kind: 'connections',
        connectionIds: ['abc='],
        payloads: [{ kind: 'text', text: 'direct' }],
        attempt: 0,
        publishId: 'generated-1',
        publishedAt: now,
      },
      expect.objectContaining({ kind: 'channel', channel: 'news', payload: { kind: 'binary', base64: 'AQID' }, publishId: 'generated-2' }),
      expect.objectContaining({ kind: 'channel', channel: 'room', payload: { kind: 'close', code: 4000, reason: 'bye' } }),
    ]);
    for (const m of h.queue.queued) expect(parseJob(m.body).ok).toBe(true);
    expect(h.metrics.total('Published')).toBe(4);
  });

  it('ignores items without a ws-message format (multi-format publishers keep working)', async () => {
    const h = controlHarness();
    const body = publishBody([
      { channel: 'room', formats: { 'http-stream': { content: 'x\n' } } },
      sendItem('room', 'ws'),
      { channel: 'room', formats: { 'ws-message': { action: 'hint' } } },
    ]);

    const response = await handleControlApiRequest(h.deps, request({ body }));

    expect(response.status).toBe(200);
    expect(h.queue.jobs()).toHaveLength(1);
    expect(h.log.find('info', 'nothing to deliver')).toHaveLength(2);
  });

  it('answers 200 without queueing when no item has anything to deliver', async () => {
    const h = controlHarness();
    const response = await handleControlApiRequest(
      h.deps,
      request({ body: publishBody([{ channel: 'room', formats: { 'http-stream': { content: 'x' } } }]) }),
    );
    expect(response.status).toBe(200);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it.each([
    ['bad JSON', utf8('{"items": ['), 'not valid JSON'],
    ['no items', utf8('{}'), 'items'],
    ['a bad channel in a later item', publishBody([sendItem('ok', 'x'), sendItem('$connection', 'x')]), 'items[1].channel'],
    [
      'a bad content-bin',
      publishBody([{ channel: 'a', formats: { 'ws-message': { 'content-bin': '@@' } } }]),
      'items[0].formats.ws-message.content-bin',
    ],
    ['an unsendable close code', publishBody([{ channel: 'a', formats: { 'ws-message': { action: 'close', code: 1006 } } }]), 'code'],
  ])('answers 400 naming the item and field for %s, and queues nothing', async (_name, body, reason) => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ body }));
    expect(response.status).toBe(400);
    expect(response.body).toContain(reason);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('answers 503 with Retry-After when the queue fails', async () => {
    const h = controlHarness();
    h.queue.fail('enqueue', queueError('throttled'));
    const response = await handleControlApiRequest(h.deps, request());
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(h.metrics.total('Published')).toBe(0);
    expect(h.log.at('error')).toHaveLength(1);
  });
});

describe('control API: single-connection routes', () => {
  it('POST /connections/{id}/messages queues a ConnectionsJob for that connection', async () => {
    const h = controlHarness();
    const response = await handleControlApiRequest(
      h.deps,
      request({ path: '/connections/abc%3D/messages', body: utf8('{"content":"hi"}') }),
    );
    expect(response.status).toBe(200);
    expect(h.queue.entries()).toEqual([
      expect.objectContaining({
        orderKey: 'conn:abc=',
        job: expect.objectContaining({
          kind: 'connections',
          connectionIds: ['abc='],
          payloads: [{ kind: 'text', text: 'hi' }],
          attempt: 0,
        }),
      }),
    ]);
  });

  it('POST /connections/{id}/close queues a close, with or without a body', async () => {
    const h = controlHarness();
    expect(
      (await handleControlApiRequest(h.deps, request({ path: '/connections/abc=/close', body: utf8('{"code":4001,"reason":"bye"}') })))
        .status,
    ).toBe(200);
    expect((await handleControlApiRequest(h.deps, request({ path: '/connections/abc=/close/', body: new Uint8Array() }))).status).toBe(200);
    expect(h.queue.jobs().map((j) => (j.kind === 'connections' ? j.payloads : null))).toEqual([
      [{ kind: 'close', code: 4001, reason: 'bye' }],
      [{ kind: 'close' }],
    ]);
  });

  it.each([
    ['a body that is not JSON', '/connections/abc=/messages', 'nope'],
    [
      'a body that is not valid UTF-8',
      '/connections/abc=/messages',
      new Uint8Array([0x7b, 0x22, 0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    ],
    ['a body that is not an object', '/connections/abc=/messages', '[1]'],
    ['a message without content', '/connections/abc=/messages', '{}'],
    ['a bad connection id', '/connections/a%20b/messages', '{"content":"x"}'],
    ['a connection id API Gateway never makes', '/connections/conn-1/messages', '{"content":"x"}'],
    ['a malformed percent-encoding', '/connections/%E0%A4%A/messages', '{"content":"x"}'],
  ])('answers 400 for %s', async (_name, path, body) => {
    const h = controlHarness();
    const response = await handleControlApiRequest(h.deps, request({ path, body: typeof body === 'string' ? utf8(body) : body }));
    expect(response.status).toBe(400);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });
});
