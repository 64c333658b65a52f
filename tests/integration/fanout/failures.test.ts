/**
 * What the worker does with work that cannot be done now or ever, against the real queues (fauxqs), the real
 * channel index (dynalite) and the local Management API over HTTP: deliveries that are throttled every time are
 * dead-lettered with a reason and come back with a redrive; queue messages that are not jobs are dead-lettered
 * without holding up anything else; payloads API Gateway refuses as too large are logged and skipped once.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeJob, type ChannelJob } from '#src/domain/fanout/jobs.js';
import { WHOLE_SPACE } from '#src/domain/fanout/ranges.js';
import { redrive } from '#src/ops/redrive.js';
import { queueDepth, waitFor } from '#test-helpers/e2e.js';
import { fixedIds, peekAll, startRig, type Rig } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('fan-out failures against the real queues and Management API', () => {
  let rig: Rig | null = null;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  it('dead-letters deliveries throttled on every attempt, with the reason; a redrive delivers them once the cause is gone', async () => {
    const maxAttempts = 2;
    rig = await startRig({ delivery: 'management-api', config: { maxAttempts }, log: new RecordingLog() });
    const r = rig;
    const ids = fixedIds('dl-', 20);
    const stuck = ids.slice(0, 3);
    await r.seed('dl', ids);
    for (const id of stuck) r.sink.throttled.add(id);
    await r.publish('dl', { kind: 'text', text: 'd-0' }, 'd-0');

    await waitFor(
      async () => (await queueDepth(r.sqs, r.urls.delayedDeadLetterQueueUrl)) > 0 && (await r.drained()),
      'the stuck deliveries to be dead-lettered',
      20_000,
    );
    for (const id of ids.slice(3)) expect(r.sink.received(id)).toEqual(['d-0']);
    for (const id of stuck) expect(r.sink.received(id)).toEqual([]);
    // Three tries inside each of the two jobs, then no more: a bounded number of calls, not a loop.
    expect(r.managementApi?.stats().byStatus[429]).toBe(stuck.length * 3 * maxAttempts);

    const dead = await peekAll(r.sqs, r.urls.delayedDeadLetterQueueUrl);
    expect(dead).toHaveLength(1);
    const [letter] = dead;
    expect(letter?.reason).toMatch(/^delivery failed 2 times: throttled: /);
    expect(letter?.job).toMatchObject({ kind: 'connections', attempt: 0, payloads: [{ kind: 'text', text: 'd-0' }], publishId: 'd-0' });
    expect(letter?.job?.kind === 'connections' ? [...letter.job.connectionIds].sort() : null).toEqual([...stuck].sort());
    expect(r.metrics.counter('DeliveriesDeadLettered')).toBe(stuck.length);

    r.sink.throttled.clear();
    const moved = await redrive({
      sqs: r.sqs,
      deadLetterQueueUrl: r.urls.delayedDeadLetterQueueUrl,
      destinationQueueUrl: r.urls.delayedQueueUrl,
    });
    expect(moved.moved).toBe(1);
    await waitFor(
      async () => stuck.every((id) => r.sink.received(id).length > 0) && (await r.drained()),
      'the redriven deliveries',
      20_000,
    );
    for (const id of ids) expect(r.sink.received(id)).toEqual(['d-0']);
    expect(await queueDepth(r.sqs, r.urls.delayedDeadLetterQueueUrl)).toBe(0);
  }, 60_000);

  it('dead-letters queue messages that are not jobs, with the reason, and keeps processing their group and others', async () => {
    // A short visibility and few receives: a job that failed instead of being dead-lettered would show up fast.
    rig = await startRig({ delivery: 'direct', visibilityTimeoutSeconds: 2, maxReceiveCount: 2, log: new RecordingLog() });
    const r = rig;
    const channels = ['poison', 'cursor', 'other'];
    const ids = new Map(channels.map((c) => [c, fixedIds(`${c}-`, 5)]));
    for (const [channel, list] of ids) await r.seed(channel, list);

    const badCursor: ChannelJob = {
      v: 1,
      kind: 'channel',
      channel: 'cursor',
      payload: { kind: 'text', text: 'never' },
      partition: WHOLE_SPACE,
      range: WHOLE_SPACE,
      cursor: 'not-a-cursor!',
      publishId: 'bad-cursor',
      publishedAt: Date.now(),
    };
    const poison = [
      { body: 'this is not JSON {', group: 'ch:poison' },
      { body: JSON.stringify({ v: 1, kind: 'channel', channel: 'poison' }), group: 'ch:poison' },
      { body: serializeJob(badCursor), group: 'ch:cursor' },
    ];
    const sent = await r.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: r.urls.orderedQueueUrl,
        Entries: poison.map((p, i) => ({
          Id: String(i),
          MessageBody: p.body,
          MessageGroupId: p.group,
          MessageDeduplicationId: `poison-${i}`,
        })),
      }),
    );
    expect(sent.Failed ?? []).toEqual([]);
    // Later jobs: in the poisoned groups themselves, and in another group.
    for (const channel of channels) await r.publish(channel, { kind: 'text', text: `after-${channel}` }, `after-${channel}`);

    await waitFor(
      async () => channels.every((c) => r.sink.reached(`after-${c}`) === 5) && (await r.drained()),
      'the jobs queued after the poison to be delivered',
      15_000,
    );
    for (const [channel, list] of ids) for (const id of list) expect(r.sink.received(id)).toEqual([`after-${channel}`]);

    const dead = await peekAll(r.sqs, r.urls.delayedDeadLetterQueueUrl);
    const reasons = new Map(dead.map((d) => [d.body, d.reason]));
    expect(reasons.get(poison[0]?.body ?? '')).toMatch(/not JSON/);
    expect(reasons.get(poison[1]?.body ?? '')).toMatch(/not a job/);
    expect(reasons.get(poison[2]?.body ?? '')).toMatch(/cursor/);
    expect(dead).toHaveLength(3);
    // Dead-lettered by the worker, not retried into SQS's own redrive (which would carry no reason).
    expect(await queueDepth(r.sqs, r.urls.orderedDeadLetterQueueUrl)).toBe(0);
    expect(r.pollers.reduce((n, p) => n + p.stats().failed, 0)).toBe(0);
  }, 60_000);

  it('logs and skips a payload the Management API refuses as too large (413), without retrying it', async () => {
    const log = new RecordingLog();
    rig = await startRig({ delivery: 'management-api', log });
    const r = rig;
    const ids = fixedIds('big-', 5);
    await r.seed('big', ids);
    // Below the client's own 128 KB check, so the request goes out and the server answers 413...
    r.sink.maxBytes = 1_000;
    await r.publish('big', { kind: 'text', text: 'x'.repeat(2_000) }, 'refused-by-server');
    // ...and above it, refused before any request, as API Gateway would refuse it.
    await r.publish('big', { kind: 'text', text: 'y'.repeat(130 * 1024) }, 'refused-by-client');
    await r.publish('big', { kind: 'text', text: 'after' }, 'after');

    await waitFor(
      async () => r.sink.reached('after') === ids.length && (await r.drained()),
      'the publish after the oversized ones',
      15_000,
    );
    for (const id of ids) expect(r.sink.received(id)).toEqual(['after']);
    expect(r.managementApi?.stats().byStatus[413]).toBe(ids.length);
    const skipped = log.entries.filter((l) => l.message === 'a payload can never be delivered; skipped');
    expect(skipped).toHaveLength(2 * ids.length);
    for (const line of skipped) expect(String(line.attributes?.['reason'])).toMatch(/too large/);
    expect(r.metrics.counter('DeliveriesRetried')).toBe(0);
    expect(await queueDepth(r.sqs, r.urls.delayedDeadLetterQueueUrl)).toBe(0);
    expect(r.pollers.reduce((n, p) => n + p.stats().failed, 0)).toBe(0);
  }, 60_000);
});
