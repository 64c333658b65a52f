/** Resumes in the session (issue 14): a subscribe with `since` writes the subscription catching up and queues its catch-up. */
import { describe, expect, it } from 'vitest';
import { parseJob } from '#src/domain/fanout/jobs.js';
import { onConnect } from '#src/domain/session/connect.js';
import { onMessage } from '#src/domain/session/message.js';
import { eventsReply, gripAccept, textFrame } from '#test-helpers/fakes.js';
import { connectionRecord, sessionHarness } from '#test-helpers/harness.js';

const ID = 'L0SM9cOFvHcCIhw=';
const resumeFrame = (channel: string, since: string, extra = '') =>
  textFrame(`c:{"type":"subscribe","channel":"${channel}","since":"${since}"${extra}}`);

function catchUps(h: ReturnType<typeof sessionHarness>) {
  return h.queue.queued.flatMap((m) => {
    const parsed = parseJob(m.body);
    if (!parsed.ok) throw new Error(parsed.error.message);
    return parsed.value.kind === 'catchup' ? [{ job: parsed.value, orderKey: m.entry.orderKey }] : [];
  });
}

describe('a subscribe with since', () => {
  it('in an OPEN reply: the subscription is written catching up and its catch-up job queued in the channel group', async () => {
    const h = sessionHarness();
    h.backend.respond(
      gripAccept(resumeFrame('room', 'm-41', ',"recovery-failed":"reload"') + textFrame('c:{"type":"subscribe","channel":"plain"}')),
    );

    const outcome = await onConnect(h.deps, { connectionId: ID, headers: {}, path: '/', query: '' });

    expect(outcome.kind).toBe('accepted');
    const token = h.store.resumeStates.get(ID)?.get('room')?.resume;
    expect(token).toEqual(expect.any(String));
    expect(h.store.resumeStates.get(ID)?.get('plain')).toBeUndefined();
    expect(catchUps(h)).toEqual([
      {
        orderKey: 'ch:room',
        job: {
          v: 1,
          kind: 'catchup',
          channel: 'room',
          connectionId: ID,
          since: 'm-41',
          recoveryFailed: 'reload',
          token,
          connectedAt: h.time.now,
          requestedAt: h.time.now,
        },
      },
    ]);
  });

  it('in a message reply: a new or an existing subscription is (re)written catching up; the last op per channel wins', async () => {
    const h = sessionHarness();
    h.store.seedConnection(connectionRecord(ID));
    h.store.seedSubscribers('old', [ID]);
    h.backend.respond(
      eventsReply([
        resumeFrame('old', 'o-1'),
        resumeFrame('new', 'n-1'),
        resumeFrame('gone', 'g-1'),
        textFrame('c:{"type":"unsubscribe","channel":"gone"}'),
        resumeFrame('new', 'n-2'),
      ]),
    );

    await onMessage(h.deps, { connectionId: ID, text: 'reconnected' });

    expect(catchUps(h).map((c) => [c.job.channel, c.job.since])).toEqual([
      ['old', 'o-1'],
      ['new', 'n-2'],
    ]);
    for (const channel of ['old', 'new']) {
      expect(h.store.resumeStates.get(ID)?.get(channel)?.resume).toBe(catchUps(h).find((c) => c.job.channel === channel)?.job.token);
    }
    expect(h.store.subscriptions.get(ID)?.has('gone')).toBe(false);
  });

  it('when the catch-up cannot be queued: the subscription goes live at once (no replay) and the failure is counted', async () => {
    const h = sessionHarness();
    h.store.seedConnection(connectionRecord(ID));
    h.queue.fail('enqueue');
    h.backend.respond(eventsReply([resumeFrame('room', 'm-1')]));

    await onMessage(h.deps, { connectionId: ID, text: 'x' });

    expect(h.store.resumeStates.get(ID)?.get('room')).toEqual({ liveAfter: '0' });
    expect(h.metrics.total('ResumesFailed')).toBe(1);
    expect(h.log.find('error', 'could not queue catch-up jobs')).toHaveLength(1);
  });

  it('a subscribe the cap ignores resumes nothing', async () => {
    const h = sessionHarness({ maxSubscriptionsPerConnection: 1 });
    h.store.seedConnection(connectionRecord(ID));
    h.store.seedSubscribers('a', [ID]);
    h.backend.respond(eventsReply([resumeFrame('b', 'm-1')]));

    await onMessage(h.deps, { connectionId: ID, text: 'x' });

    expect(catchUps(h)).toEqual([]);
    expect(h.store.subscriptions.get(ID)?.has('b')).toBe(false);
  });
});
