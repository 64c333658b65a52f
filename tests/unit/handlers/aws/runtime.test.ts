import { describe, expect, it } from 'vitest';
import type { FanoutQueue, QueueEntry } from '#src/domain/ports.js';
import { ok } from '#src/domain/result.js';
import { EnvironmentError, laneCheckedQueue, loadAwsEnvironment } from '#src/handlers/aws/runtime.js';

describe('loadAwsEnvironment', () => {
  it('accepts every log level the stack offers (its logLevel context), in either case', () => {
    for (const level of ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']) {
      expect(loadAwsEnvironment({ LOG_LEVEL: level }).LOG_LEVEL).toBe(level);
      expect(loadAwsEnvironment({ LOG_LEVEL: level.toLowerCase() }).LOG_LEVEL).toBe(level);
    }
  });

  it('defaults the log level to INFO', () => {
    expect(loadAwsEnvironment({}).LOG_LEVEL).toBe('INFO');
  });

  it('refuses an unknown log level, naming the variable', () => {
    expect(() => loadAwsEnvironment({ LOG_LEVEL: 'LOUD' })).toThrow(EnvironmentError);
    expect(() => loadAwsEnvironment({ LOG_LEVEL: 'LOUD' })).toThrow(/^LOG_LEVEL: /);
  });
});

describe('laneCheckedQueue: a function sends only to the queue lanes the stack gave it', () => {
  const keepAlive: QueueEntry = { job: { v: 1, kind: 'keepalive', connectionId: 'c1', since: 1, dueAt: 2 }, delaySeconds: 30 };
  const ordered: QueueEntry = { job: keepAlive.job, orderKey: 'conn:c1' };

  /** Records which URLs the real queue was built with and what reached it. */
  function recording() {
    const built: [string, string][] = [];
    const sent: (readonly QueueEntry[])[] = [];
    const connect = (orderedUrl: string, delayedUrl: string): FanoutQueue => {
      built.push([orderedUrl, delayedUrl]);
      return { enqueue: (entries) => (sent.push(entries), Promise.resolve(ok(undefined))) };
    };
    return { built, sent, connect };
  }

  it('with only the delayed lane (ws-message), schedules keep-alives and refuses ordered entries naming ORDERED_QUEUE_URL', async () => {
    const r = recording();
    const queue = laneCheckedQueue({ ordered: undefined, delayed: 'https://sqs/delayed' }, r.connect);
    expect(await queue.enqueue([keepAlive])).toEqual(ok(undefined));
    const refused = await queue.enqueue([keepAlive, ordered]);
    expect(refused).toEqual({ ok: false, error: { kind: 'invalid', message: 'ORDERED_QUEUE_URL is not configured for this function' } });
    expect(r.sent).toEqual([[keepAlive]]);
    expect(r.built).toEqual([['https://sqs/delayed', 'https://sqs/delayed']]);
  });

  it('with only the ordered lane (control), refuses delayed entries naming DELAYED_QUEUE_URL', async () => {
    const r = recording();
    const queue = laneCheckedQueue({ ordered: 'https://sqs/ordered.fifo', delayed: undefined }, r.connect);
    expect(await queue.enqueue([ordered])).toEqual(ok(undefined));
    expect(await queue.enqueue([keepAlive])).toEqual({
      ok: false,
      error: { kind: 'invalid', message: 'DELAYED_QUEUE_URL is not configured for this function' },
    });
    expect(r.sent).toEqual([[ordered]]);
  });

  it('with both lanes passes everything through; with none refuses everything', async () => {
    const both = recording();
    await laneCheckedQueue({ ordered: 'o', delayed: 'd' }, both.connect).enqueue([ordered, keepAlive]);
    expect(both.built).toEqual([['o', 'd']]);
    expect(both.sent).toEqual([[ordered, keepAlive]]);
    const none = recording();
    const refused = await laneCheckedQueue({ ordered: undefined, delayed: undefined }, none.connect).enqueue([keepAlive]);
    expect(refused.ok).toBe(false);
    expect(none.built).toEqual([]);
  });
});
