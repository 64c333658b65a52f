import { describe, expect, it } from 'vitest';
import type { HttpApiEvent } from '#src/handlers/aws-events.js';
import { makeControlHandler } from '#src/handlers/control.js';
import { controlHarness, SHARED_KEY } from '#test-helpers/harness.js';

const BODY = JSON.stringify({ items: [{ channel: 'room', formats: { 'ws-message': { content: 'hi' } } }] });

function httpEvent(method: string, path: string, headers: Record<string, string>, body?: string, isBase64Encoded = false): HttpApiEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers,
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded,
    requestContext: { http: { method, path }, requestId: 'r', timeEpoch: 0 },
  };
}

describe('control handler', () => {
  it('lower-cases header names, passes method and path, and maps the response', async () => {
    const h = controlHarness();
    let flushed = 0;
    const handler = makeControlHandler(h.deps, () => flushed++);

    const result = await handler(
      httpEvent('POST', '/publish/', { Authorization: `Bearer ${SHARED_KEY}`, Accept: 'application/json' }, BODY),
    );

    expect(result).toEqual({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"message":"Published"}' });
    expect(h.queue.jobs()).toHaveLength(1);
    expect(flushed).toBe(1);
  });

  it('decodes a base64 body', async () => {
    const h = controlHarness();
    const result = await makeControlHandler(h.deps)(
      httpEvent('POST', '/publish', { authorization: `Bearer ${SHARED_KEY}` }, Buffer.from(BODY).toString('base64'), true),
    );
    expect(result.statusCode).toBe(200);
    expect(h.queue.jobs()).toHaveLength(1);
  });

  it('answers 400, not a crash, for a body that is not valid base64', async () => {
    const h = controlHarness();
    const result = await makeControlHandler(h.deps)(httpEvent('POST', '/publish', { authorization: `Bearer ${SHARED_KEY}` }, '@@@', true));
    expect(result.statusCode).toBe(400);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('survives an event with parts missing', async () => {
    const h = controlHarness();
    const result = await makeControlHandler(h.deps)({ rawPath: '/' } as unknown as HttpApiEvent);
    expect(result.statusCode).toBe(200);
  });

  it('refuses a publish without credentials with 401', async () => {
    const h = controlHarness();
    const result = await makeControlHandler(h.deps)(httpEvent('POST', '/publish/', {}, BODY));
    expect(result.statusCode).toBe(401);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });
});
