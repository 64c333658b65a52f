import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsFanoutQueue } from '#src/adapters/sqs-fanout-queue.js';
import { parseJob, type ChannelJob, type FanoutJob } from '#src/domain/fanout/jobs.js';
import type { QueueEntry } from '#src/domain/ports.js';
import { createFanoutQueues, type FanoutQueueUrls } from '#src/local/provision.js';
import { receiveAndDelete } from './sqs-receive.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

function job(publishId: string, text = 'hello'): ChannelJob {
  return {
    v: 1,
    kind: 'channel',
    channel: 'room',
    payload: { kind: 'text', text },
    partition: { from: 0, to: 65_536 },
    range: { from: 0, to: 65_536 },
    cursor: null,
    publishId,
    publishedAt: 1,
  };
}

const pid = (j: FanoutJob): string =>
  j.kind === 'keepalive' || j.kind === 'catchup' || j.kind === 'poll' ? j.connectionId : j.kind === 'release' ? j.channel : j.publishId;

interface Received {
  readonly job: FanoutJob;
  readonly groupId: string | undefined;
}

async function receiveAll(sqs: SQSClient, queueUrl: string, count: number): Promise<Received[]> {
  return (await receiveAndDelete(sqs, queueUrl, count)).map((m) => {
    const parsed = parseJob(m.Body ?? '');
    if (!parsed.ok) throw new Error(parsed.error.message);
    return { job: parsed.value, groupId: m.Attributes?.MessageGroupId };
  });
}

async function visibleCount(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; delayed: number }> {
  const a = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return {
    visible: Number(a.Attributes?.ApproximateNumberOfMessages),
    delayed: Number(a.Attributes?.ApproximateNumberOfMessagesDelayed),
  };
}

describe('SqsFanoutQueue against fauxqs', () => {
  let services: LocalAwsServices;
  let sqs: SQSClient;
  let seq = 0;
  const freshQueues = async (): Promise<FanoutQueueUrls> =>
    createFanoutQueues(sqs, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3, namePrefix: `t${++seq}-` });

  beforeAll(async () => {
    services = await startLocalAwsServices();
    sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  });
  afterAll(async () => {
    sqs.destroy();
    await services.stop();
  });

  it('keeps FIFO order within each group across more than 10 entries (several batches)', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls, concurrency: 4 });
    const groups = ['ch:a', 'ch:b', 'conn:x=', 'ch:room with spaces ✓'];
    const entries: QueueEntry[] = Array.from({ length: 47 }, (_, i) => ({
      job: job(`${i}`),
      orderKey: groups[i % groups.length] ?? 'ch:a',
    }));
    entries.push({ job: job('no-key') });
    expect(await queue.enqueue(entries)).toEqual({ ok: true, value: undefined });

    const got = await receiveAll(sqs, urls.orderedQueueUrl, entries.length);
    expect(got).toHaveLength(entries.length);
    const byGroup = new Map<string, number[]>();
    for (const r of got) {
      const list = byGroup.get(r.groupId ?? '?') ?? [];
      if (pid(r.job) !== 'no-key') list.push(Number(pid(r.job)));
      byGroup.set(r.groupId ?? '?', list);
    }
    expect(byGroup.get('ch:a')).toEqual(entries.map((_, i) => i).filter((i) => i < 47 && i % 4 === 0));
    expect(byGroup.get('ch:b')).toEqual(entries.map((_, i) => i).filter((i) => i < 47 && i % 4 === 1));
    expect(byGroup.get('conn:x=')).toEqual(entries.map((_, i) => i).filter((i) => i < 47 && i % 4 === 2));
    // the non-ASCII key became a hashed group that SQS accepts, still ordered
    const hashed = [...byGroup.keys()].find((g) => g.startsWith('h:'));
    expect(byGroup.get(hashed ?? '')).toEqual(entries.map((_, i) => i).filter((i) => i < 47 && i % 4 === 3));
    expect(got.find((r) => pid(r.job) === 'no-key')?.groupId).toBe('default');
    expect(await visibleCount(sqs, urls.delayedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it('sends delayed entries to the standard queue with their DelaySeconds', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    expect((await queue.enqueue([{ job: job('later'), delaySeconds: 600, orderKey: 'ignored' }])).ok).toBe(true);
    expect(await visibleCount(sqs, urls.delayedQueueUrl)).toEqual({ visible: 0, delayed: 1 });
    expect(await visibleCount(sqs, urls.orderedQueueUrl)).toEqual({ visible: 0, delayed: 0 });

    expect(
      (
        await queue.enqueue([
          { job: job('soon'), delaySeconds: 1 },
          { job: job('now'), delaySeconds: 0 },
        ])
      ).ok,
    ).toBe(true);
    const soon = await receiveAll(sqs, urls.delayedQueueUrl, 1);
    expect(soon.map((r) => pid(r.job))).toEqual(['soon']);
    const now = await receiveAll(sqs, urls.orderedQueueUrl, 1);
    expect(now.map((r) => pid(r.job))).toEqual(['now']);
  });

  it('splits batches by bytes so no SendMessageBatch exceeds 1 MiB', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    const big = 'x'.repeat(300_000);
    const entries = Array.from({ length: 7 }, (_, i) => ({ job: job(`big-${i}`, big), orderKey: 'ch:big' }));
    expect(await queue.enqueue(entries)).toEqual({ ok: true, value: undefined });
    const got = await receiveAll(sqs, urls.orderedQueueUrl, 7);
    expect(got.map((r) => pid(r.job))).toEqual(entries.map((e) => e.job.publishId));
  });

  it('rejects an oversize job as invalid, naming its size, and queues nothing of the call', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    const r = await queue.enqueue([
      { job: job('small'), orderKey: 'a' },
      { job: job('huge', 'y'.repeat(1_100_000)), orderKey: 'a' },
    ]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('invalid');
    expect(!r.ok && r.error.message).toMatch(/huge is 11\d{5} bytes.*at most 1048576/);
    expect(await visibleCount(sqs, urls.orderedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it('rejects a delay outside 0–900 seconds as invalid', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    for (const delaySeconds of [901, -1, 1.5]) {
      const r = await queue.enqueue([{ job: job('d'), delaySeconds }]);
      expect(!r.ok && r.error.kind).toBe('invalid');
    }
  });

  it('without a delayed lane (a function granted only the ordered queue) refuses a delayed entry and sends nothing', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, orderedQueueUrl: urls.orderedQueueUrl });
    const r = await queue.enqueue([
      { job: job('now'), orderKey: 'ch:a' },
      { job: job('later'), delaySeconds: 2 },
    ]);
    expect(!r.ok && r.error).toMatchObject({ kind: 'invalid', message: 'entry 1: no delayed queue configured (delayedQueueUrl)' });
    expect(await visibleCount(sqs, urls.orderedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
    expect((await queue.enqueue([{ job: job('now'), orderKey: 'ch:a' }])).ok).toBe(true);
  });

  it('without an ordered lane (ws-message only schedules keep-alives) refuses an ordered entry and sends nothing', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, delayedQueueUrl: urls.delayedQueueUrl });
    const r = await queue.enqueue([
      { job: job('later'), delaySeconds: 1 },
      { job: job('now'), orderKey: 'ch:a' },
    ]);
    expect(!r.ok && r.error).toMatchObject({ kind: 'invalid', message: 'entry 1: no ordered queue configured (orderedQueueUrl)' });
    expect(await visibleCount(sqs, urls.delayedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
    expect((await queue.enqueue([{ job: job('later'), delaySeconds: 1 }])).ok).toBe(true);
  });

  it('carries characters SQS forbids in bodies (U+FFFF) through escaped, reading back the same job', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    const text = 'a\uFFFFb\uFFFEc\u0000d😀';
    expect((await queue.enqueue([{ job: job('odd', text) }])).ok).toBe(true);
    const [got] = await receiveAll(sqs, urls.orderedQueueUrl, 1);
    expect(got?.job).toEqual(job('odd', text));
  });

  it("reports messages SQS refuses as the sender's fault as invalid", async () => {
    const small = await sqs.send(
      new CreateQueueCommand({ QueueName: 'tiny.fifo', Attributes: { FifoQueue: 'true', MaximumMessageSize: '1024' } }),
    );
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls, orderedQueueUrl: small.QueueUrl ?? '' });
    const r = await queue.enqueue([{ job: job('too-big-for-this-queue', 'z'.repeat(2000)) }]);
    expect(!r.ok && r.error.kind).toBe('invalid');
    expect(!r.ok && r.error.message).toMatch(/InvalidParameterValue/);
  });

  it('translates a missing queue into invalid and an unreachable endpoint into unavailable', async () => {
    const urls = await freshQueues();
    const missing = new SqsFanoutQueue({ client: sqs, ...urls, orderedQueueUrl: `${services.sqsEndpoint}/000000000000/nope.fifo` });
    const r = await missing.enqueue([{ job: job('m') }]);
    expect(!r.ok && r.error.kind).toBe('invalid');

    const deadClient = new SQSClient({
      endpoint: 'http://127.0.0.1:1',
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    const dead = new SqsFanoutQueue({ client: deadClient, ...urls });
    const d = await dead.enqueue([{ job: job('m') }]);
    expect(!d.ok && d.error.kind).toBe('unavailable');
    deadClient.destroy();
  });

  it('drops an ordered entry whose dedupId was already sent, even when the id is too long for SQS as it is', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    const longId = `msg-1:continue:${'c'.repeat(200)}`;
    expect((await queue.enqueue([{ job: job('first'), orderKey: 'g', dedupId: longId }])).ok).toBe(true);
    expect(
      (
        await queue.enqueue([
          { job: job('again'), orderKey: 'g', dedupId: longId },
          { job: job('other'), orderKey: 'g', dedupId: 'x y' },
        ])
      ).ok,
    ).toBe(true);
    const got = await receiveAll(sqs, urls.orderedQueueUrl, 2);
    expect(got.map((r) => pid(r.job))).toEqual(['first', 'other']);
    expect(await visibleCount(sqs, urls.orderedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it('enqueues nothing and succeeds for an empty list', async () => {
    const urls = await freshQueues();
    const queue = new SqsFanoutQueue({ client: sqs, ...urls });
    expect(await queue.enqueue([])).toEqual({ ok: true, value: undefined });
    expect(await visibleCount(sqs, urls.orderedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
    expect(await visibleCount(sqs, urls.delayedQueueUrl)).toEqual({ visible: 0, delayed: 0 });
  });
});
