import { describe, expect, it } from 'vitest';
import { GripUsageError } from '#src/client/errors.js';
import { closeItem, connectionTextItem, textItem } from '#src/client/items.js';
import { ControlClient, parseRetryAfter, PublishError, type ControlClientOptions } from '#src/client/publisher.js';
import { verifyHs256 } from '#src/domain/auth.js';

interface Call {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: unknown;
}

type Step = Response | Error | ((init: RequestInit) => Promise<Response>);

/** A scripted fetch: answers each call with the next step, and records what it was asked. */
function fakeFetch(steps: Step[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fn = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    calls.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body,
    });
    const step = steps.shift();
    if (step === undefined) throw new Error('fake fetch: no more scripted responses');
    if (step instanceof Error) throw step;
    if (typeof step === 'function') return step(init);
    return step;
  };
  return { fetch: fn, calls };
}

const published = () => new Response('Published\n', { status: 200 });
const NOW_MS = 1_700_000_000_000;

function client(steps: Step[], options: Partial<ControlClientOptions> = {}) {
  const fake = fakeFetch(steps);
  const sleeps: number[] = [];
  const control = new ControlClient({
    url: 'http://127.0.0.1:5561',
    fetch: fake.fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    now: () => NOW_MS,
    ...options,
  });
  return { control, calls: fake.calls, sleeps };
}

async function publishError(promise: Promise<unknown>): Promise<PublishError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof PublishError) return e;
    throw e;
  }
  throw new Error('expected a PublishError');
}

describe('ControlClient requests', () => {
  it('POSTs the exact GRIP body to <url>/publish/ with a bearer key', async () => {
    const { control, calls } = client([published()], { key: 'changeme' });
    await control.publish('room', 'hello', { id: 'm2', prevId: 'm1' });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('http://127.0.0.1:5561/publish/');
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.headers.get('content-type')).toBe('application/json');
    expect(calls[0]?.headers.get('authorization')).toBe('Bearer changeme');
    expect(calls[0]?.body).toEqual({
      items: [{ channel: 'room', id: 'm2', 'prev-id': 'm1', formats: { 'ws-message': { content: 'hello' } } }],
    });
  });

  it('appends publish/ the way js-grip does', () => {
    const url = (u: string) => new ControlClient({ url: u }).publishUrl;
    expect(url('http://h:5561/')).toBe('http://h:5561/publish/');
    expect(url('https://h/prefix')).toBe('https://h/prefix/publish/');
    expect(url('https://h/prefix/')).toBe('https://h/prefix/publish/');
  });

  it('signs a fresh HS256 JWT {iss, exp: now + 600} when iss is set', async () => {
    const { control, calls } = client([published()], { key: 'changeme', iss: 'backend' });
    await control.publish('room', 'x');
    const token = calls[0]?.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
    const check = await verifyHs256(token, { key: 'changeme', iss: 'backend', nowSeconds: NOW_MS / 1000 });
    expect(check).toEqual({ ok: true, claims: { iss: 'backend', exp: NOW_MS / 1000 + 600 } });
  });

  it('sends no Authorization without a key', async () => {
    const { control, calls } = client([published()]);
    await control.publish('room', 'x');
    expect(calls[0]?.headers.has('authorization')).toBe(false);
  });

  it('builds binary, close and per-connection items in the GRIP format', async () => {
    const { control, calls } = client([published(), published(), published(), published(), published()]);
    await control.publishBinary('bin', new Uint8Array([0, 255, 1]));
    await control.closeChannel('room', { code: 4000, reason: 'closed' });
    await control.closeChannel('room');
    await control.sendToConnection('L0SM9cOFvHcCIhw=', 'hi');
    await control.closeConnection('L0SM9cOFvHcCIhw=', { code: 1000 });
    expect(calls.map((c) => c.body)).toEqual([
      { items: [{ channel: 'bin', formats: { 'ws-message': { 'content-bin': 'AP8B' } } }] },
      { items: [{ channel: 'room', formats: { 'ws-message': { action: 'close', code: 4000, reason: 'closed' } } }] },
      { items: [{ channel: 'room', formats: { 'ws-message': { action: 'close' } } }] },
      { items: [{ connection: 'L0SM9cOFvHcCIhw=', formats: { 'ws-message': { content: 'hi' } } }] },
      { items: [{ connection: 'L0SM9cOFvHcCIhw=', formats: { 'ws-message': { action: 'close', code: 1000 } } }] },
    ]);
  });

  it('sends several items in one request, in order', async () => {
    const { control, calls } = client([published()]);
    await control.publishItems([textItem('a', '1'), connectionTextItem('c', '2'), closeItem('a', { code: 4001 })]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({
      items: [
        { channel: 'a', formats: { 'ws-message': { content: '1' } } },
        { connection: 'c', formats: { 'ws-message': { content: '2' } } },
        { channel: 'a', formats: { 'ws-message': { action: 'close', code: 4001 } } },
      ],
    });
  });
});

describe('ControlClient argument checks', () => {
  it('rejects invalid items with a usage error naming the field, before any request', async () => {
    const { control, calls } = client([]);
    await expect(control.publish('', 'x')).rejects.toMatchObject({
      name: 'GripUsageError',
      code: 'invalid-item',
      message: expect.stringContaining('items[0].channel'),
    });
    await expect(control.publishItems([textItem('ok', 'x'), textItem('$connection', 'x')])).rejects.toThrow(/items\[1\]\.channel/);
    await expect(control.publishItems([])).rejects.toThrow(/must not be empty/);
    await expect(control.closeChannel('room', { code: 1005 })).rejects.toThrow(/code/);
    await expect(control.closeConnection('conn', { code: 1000, reason: 'x'.repeat(124) })).rejects.toThrow(/reason/);
    await expect(control.sendToConnection('has space', 'x')).rejects.toThrow(/connection/);
    await expect(control.publish('room', 'x'.repeat(131_073))).rejects.toThrow(/131072/);
    await expect(control.publishBinary('room', [1, 2] as unknown as Uint8Array)).rejects.toBeInstanceOf(GripUsageError);
    expect(calls).toHaveLength(0);
  });

  it('refuses unusable configuration', () => {
    const config = (options: ControlClientOptions) => () => new ControlClient(options);
    expect(config({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(config({ url: 'ftp://h/' })).toThrow(/http or https/);
    expect(config({ url: 'http://user:pass@h/' })).toThrow(/credentials/);
    expect(config({ url: 'http://h/', iss: 'x' })).toThrow(/needs a key/);
    expect(config({ url: 'http://h/', key: new Uint8Array([1]) })).toThrow(/binary key/);
    expect(config({ url: 'http://h/', key: '' })).toThrow(GripUsageError);
    expect(config({ url: 'http://h/', retry: { retries: 1.5 } })).toThrow(/retries/);
  });

  it('reads iss and key from a GRIP URL', async () => {
    const fake = fakeFetch([published()]);
    const control = ControlClient.fromGripUrl('http://h:5561/?iss=backend&key=base64:AQID', { fetch: fake.fetch, now: () => NOW_MS });
    expect(control.publishUrl).toBe('http://h:5561/publish/');
    await control.publish('room', 'x');
    const token = fake.calls[0]?.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
    expect((await verifyHs256(token, { key: new Uint8Array([1, 2, 3]), iss: 'backend', nowSeconds: NOW_MS / 1000 })).ok).toBe(true);
  });
});

describe('ControlClient retries', () => {
  it('retries 5xx with full-jitter exponential backoff, then succeeds', async () => {
    const { control, calls, sleeps } = client([new Response('busy', { status: 503 }), new Response('oops', { status: 500 }), published()]);
    await control.publish('room', 'x');
    expect(calls).toHaveLength(3);
    // random() = 0.5 of windows 100 and 200 ms.
    expect(sleeps).toEqual([50, 100]);
    // Each attempt is the same request.
    expect(calls[2]?.body).toEqual(calls[0]?.body);
  });

  it('caps the backoff window and gives up after the configured retries with the last status and body', async () => {
    const steps = Array.from({ length: 4 }, () => new Response('down', { status: 502 }));
    const { control, calls, sleeps } = client(steps, { retry: { retries: 3, baseDelayMs: 1000, maxDelayMs: 1500 }, random: () => 0.999 });
    const error = await publishError(control.publish('room', 'x'));
    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([999, 1498, 1498]);
    expect(error).toMatchObject({ name: 'PublishError', code: 'server-error', status: 502, body: 'down', attempts: 4, retryable: true });
    expect(error.message).toContain('HTTP 502');
  });

  it('waits exactly what Retry-After asks on 429, in seconds or as a date', async () => {
    const date = new Date(NOW_MS + 3000).toUTCString();
    const { control, sleeps } = client([
      new Response('slow down', { status: 429, headers: { 'Retry-After': '2' } }),
      new Response('slow down', { status: 429, headers: { 'Retry-After': date } }),
      published(),
    ]);
    await control.publish('room', 'x');
    expect(sleeps).toEqual([2000, 3000]);
  });

  it('gives up at once when Retry-After is longer than maxRetryAfterMs', async () => {
    const { control, calls, sleeps } = client([new Response('later', { status: 429, headers: { 'Retry-After': '120' } })]);
    const error = await publishError(control.publish('room', 'x'));
    expect(error).toMatchObject({ code: 'rate-limited', status: 429, attempts: 1 });
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('never retries other 4xx, and classifies 401/403 as unauthorized', async () => {
    const rejected = client([new Response('items[0].channel: required', { status: 400 })]);
    const error = await publishError(rejected.control.publish('room', 'x'));
    expect(error).toMatchObject({ code: 'rejected', status: 400, body: 'items[0].channel: required', attempts: 1, retryable: false });
    expect(rejected.calls).toHaveLength(1);
    const denied = client([new Response('bad token', { status: 401 })], { key: 'k' });
    expect(await publishError(denied.control.publish('room', 'x'))).toMatchObject({ code: 'unauthorized', status: 401, retryable: false });
    const forbidden = client([new Response('', { status: 403 })]);
    expect(await publishError(forbidden.control.publish('room', 'x'))).toMatchObject({ code: 'unauthorized', status: 403 });
  });

  it('retries network errors and reports the last one as the cause', async () => {
    const failure = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:5561') });
    const { control, calls, sleeps } = client([failure, failure, failure, failure]);
    const error = await publishError(control.publish('room', 'x'));
    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([50, 100, 200]);
    expect(error).toMatchObject({ code: 'network', status: null, body: null, attempts: 4, retryable: true });
    expect(error.cause).toBe(failure);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('aborts an attempt that exceeds timeoutMs and counts it as a network error', async () => {
    const hang = (init: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const { control, calls } = client([hang], { timeoutMs: 5, retry: false });
    const error = await publishError(control.publish('room', 'x'));
    expect(error.code).toBe('network');
    expect(calls).toHaveLength(1);
  });

  it('makes one attempt with retry: false', async () => {
    const { control, calls } = client([new Response('', { status: 503 })], { retry: false });
    expect((await publishError(control.publish('room', 'x'))).attempts).toBe(1);
    expect(calls).toHaveLength(1);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    expect(parseRetryAfter('0', NOW_MS)).toBe(0);
    expect(parseRetryAfter(' 5 ', NOW_MS)).toBe(5000);
    expect(parseRetryAfter(new Date(NOW_MS + 1000).toUTCString(), NOW_MS)).toBe(1000);
    expect(parseRetryAfter(new Date(NOW_MS - 1000).toUTCString(), NOW_MS)).toBe(0);
    expect(parseRetryAfter('-1', NOW_MS)).toBeNull();
    expect(parseRetryAfter('soon', NOW_MS)).toBeNull();
    expect(parseRetryAfter(null, NOW_MS)).toBeNull();
  });
});
