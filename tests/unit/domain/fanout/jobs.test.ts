import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJob, serializeJob, type FanoutJob } from '#src/domain/fanout/jobs.js';
import type { Payload } from '#src/domain/message.js';
import { isSendableCloseCode } from '#src/domain/protocol/limits.js';

const channelJob = {
  v: 1,
  kind: 'channel',
  channel: 'room',
  payload: { kind: 'text', text: 'hi' },
  partition: { from: 0, to: 65536 },
  range: { from: 100, to: 65536 },
  cursor: 'opaque',
  publishId: 'p',
  publishedAt: 1,
} as const;

const connectionsJob = {
  v: 1,
  kind: 'connections',
  connectionIds: ['a', 'b'],
  payloads: [
    { kind: 'binary', base64: 'AQI=' },
    { kind: 'close', code: 4000, reason: 'bye' },
  ],
  attempt: 2,
  graceUntil: 5,
  lastError: 'throttled',
  publishId: 'p',
  publishedAt: 1,
} as const;

const keepAliveJob = { v: 1, kind: 'keepalive', connectionId: 'a', since: 1, dueAt: 30_001 } as const;

describe('parseJob / serializeJob', () => {
  it.each([channelJob, connectionsJob, keepAliveJob])('round-trips a $kind job', (job) => {
    expect(parseJob(serializeJob(job as FanoutJob))).toEqual({ ok: true, value: job });
  });

  it('round-trips any valid payload', () => {
    const payload: fc.Arbitrary<Payload> = fc.oneof(
      fc.string().map((text) => ({ kind: 'text' as const, text })),
      fc.uint8Array().map((b) => ({ kind: 'binary' as const, base64: Buffer.from(b).toString('base64') })),
      fc.record(
        {
          kind: fc.constant('close' as const),
          code: fc.integer({ min: 1000, max: 4999 }).filter(isSendableCloseCode),
          reason: fc.string({ maxLength: 20 }),
        },
        { requiredKeys: ['kind'] },
      ),
    );
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 5 }), (payloads) => {
        const job: FanoutJob = { ...connectionsJob, payloads };
        expect(parseJob(serializeJob(job))).toEqual({ ok: true, value: job });
      }),
    );
  });

  it.each([
    ['bad JSON', '{'],
    ['an array', '[]'],
    ['a wrong version', JSON.stringify({ ...channelJob, v: 2 })],
    ['an empty range', JSON.stringify({ ...channelJob, range: { from: 5, to: 5 } })],
    ['a range past the bucket space', JSON.stringify({ ...channelJob, range: { from: 0, to: 65537 } })],
    ['a range outside its partition', JSON.stringify({ ...channelJob, partition: { from: 200, to: 300 } })],
    ['no connections', JSON.stringify({ ...connectionsJob, connectionIds: [] })],
    ['no payloads', JSON.stringify({ ...connectionsJob, payloads: [] })],
    ['a negative attempt', JSON.stringify({ ...connectionsJob, attempt: -1 })],
    ['a keep-alive job without a connection', JSON.stringify({ ...keepAliveJob, connectionId: '' })],
    ['a close code out of range', JSON.stringify({ ...connectionsJob, payloads: [{ kind: 'close', code: 999 }] })],
    ['an overlong close reason', JSON.stringify({ ...connectionsJob, payloads: [{ kind: 'close', reason: 'x'.repeat(124) }] })],
    ['a close code no server may send', JSON.stringify({ ...connectionsJob, payloads: [{ kind: 'close', code: 1005 }] })],
    [
      'a close reason over 123 bytes of UTF-8 (in fewer characters)',
      JSON.stringify({ ...connectionsJob, payloads: [{ kind: 'close', reason: 'é'.repeat(62) }] }),
    ],
  ])('rejects %s as invalid-job without throwing', (_name, body) => {
    const parsed = parseJob(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.kind).toBe('invalid-job');
  });
});
