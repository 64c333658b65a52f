/** The ordered lane's consumer and producer (issue 11 §1), on the session logic with in-memory ports. */
import { describe, expect, it } from 'vitest';
import { decodeEvents } from '#src/domain/protocol/codec.js';
import { consumeLane, parseLaneMessage, queueClientMessage, type LaneMessage } from '#src/domain/session/lane.js';
import type { ClientMessageLane } from '#src/domain/ports.js';
import { err, ok } from '#src/domain/result.js';
import { eventsReply, queueError, storeError, textFrame } from '#test-helpers/fakes.js';
import { connectionRecord, sessionHarness } from '#test-helpers/harness.js';

const A = 'AAAAAAAAAAAAAAA=';
const B = 'BBBBBBBBBBBBBBB=';
let n = 0;
const record = (connectionId: string, text: string, receivedAt = 1000) => ({
  id: `r${++n}`,
  body: JSON.stringify({ v: 1, connectionId, text, receivedAt } satisfies LaneMessage),
  group: connectionId,
});

function harness() {
  const h = sessionHarness();
  h.store.seedConnection(connectionRecord(A));
  h.store.seedConnection(connectionRecord(B));
  return h;
}

describe('consumeLane', () => {
  it('sends each connection’s messages in one request, in arrival order, and applies the reply', async () => {
    const h = harness();
    h.backend.respond(eventsReply([textFrame('m:ok')]));
    const failed = await consumeLane(h.deps, [
      record(A, 'second', 2000),
      record(B, 'solo'),
      record(A, 'first', 1000),
      record(A, 'third', 3000),
    ]);
    expect(failed).toEqual([]);
    const texts = (id: string) =>
      h.backend.requests.flatMap((r) => {
        if (Object.entries(r.headers).find(([k]) => k.toLowerCase() === 'connection-id')?.[1] !== id) return [];
        const events = decodeEvents(r.body);
        if (!events.ok) throw new Error(events.error.message);
        return [events.value.flatMap((e) => (e.type === 'TEXT' ? [e.text] : []))];
      });
    expect(texts(A)).toEqual([['first', 'second', 'third']]);
    expect(texts(B)).toEqual([['solo']]);
    expect(h.metrics.total('MessagesIn')).toBe(4);
  });

  it('hands back every record of a connection whose record cannot be read (nothing sent), and drops malformed ones', async () => {
    const h = harness();
    h.store.failOnce('getConnection', storeError('throttled'));
    const one = record(A, 'x');
    const two = record(A, 'y');
    const failed = await consumeLane(h.deps, [one, two, { id: 'bad', body: 'not json', group: A }]);
    expect(failed.sort()).toEqual([one.id, two.id].sort());
    expect(h.backend.requests).toHaveLength(0);
    expect(h.log.find('error', 'not a client message')).toHaveLength(1);
  });
});

describe('queueClientMessage', () => {
  it('queues with the connection, the text and API Gateway’s arrival time; forwards at once when the lane fails', async () => {
    const h = harness();
    const queued: [LaneMessage, string][] = [];
    const lane: ClientMessageLane = { enqueue: async (m, d) => (queued.push([m, d]), ok(undefined)) };
    expect(await queueClientMessage({ ...h.deps, lane }, { connectionId: A, text: 'hi', dedupId: 'mid-1', receivedAt: 42 })).toBe('queued');
    expect(queued).toEqual([[{ v: 1, connectionId: A, text: 'hi', receivedAt: 42 }, 'mid-1']]);
    expect(h.backend.requests).toHaveLength(0);

    h.backend.respond(eventsReply([]));
    const failing: ClientMessageLane = { enqueue: async () => err(queueError()) };
    const outcome = await queueClientMessage({ ...h.deps, lane: failing }, { connectionId: A, text: 'hi', dedupId: 'mid-2' });
    expect(outcome).toEqual({ kind: 'handled', sent: 0 });
    expect(h.backend.requests).toHaveLength(1);
    expect(h.log.find('warn', 'forwarding it now')).toHaveLength(1);
  });

  it('parses only well-formed lane messages', () => {
    expect(parseLaneMessage('{"v":1,"connectionId":"a","text":"t","receivedAt":1}').ok).toBe(true);
    expect(parseLaneMessage('{"v":2,"connectionId":"a","text":"t","receivedAt":1}').ok).toBe(false);
    expect(parseLaneMessage('nope').ok).toBe(false);
  });

  it('a poll or refresh alone makes one empty request; with messages waiting it rides along (no extra request)', async () => {
    const h = harness();
    h.backend.respond(eventsReply([textFrame('m:polled')]));
    const poll = (connectionId: string, kind: 'interval' | 'refresh', receivedAt = 1000) => ({
      id: `r${++n}`,
      body: JSON.stringify({ v: 1, connectionId, poll: kind, receivedAt } satisfies LaneMessage),
      group: connectionId,
    });
    expect(await consumeLane(h.deps, [poll(A, 'interval'), poll(A, 'refresh'), poll(B, 'refresh'), record(B, 'hi', 2000)])).toEqual([]);
    const bodies = h.backend.requests.map((r) => {
      const events = decodeEvents(r.body);
      if (!events.ok) throw new Error(events.error.message);
      return [r.headers['Connection-Id'] ?? r.headers['connection-id'], events.value.map((e) => e.type)];
    });
    expect(bodies.sort()).toEqual([
      [A, []],
      [B, ['TEXT']],
    ]);
    expect(h.sender.posted(A)).toEqual(['polled']);
    expect(h.metrics.total('BackendPolls')).toBe(1);
  });

  it('a poll for a connection that is gone or detached sends nothing and closes nothing', async () => {
    const h = harness();
    h.store.seedConnection(connectionRecord(B, { detached: true }));
    const body = (connectionId: string) => JSON.stringify({ v: 1, connectionId, poll: 'interval', receivedAt: 1 } satisfies LaneMessage);
    expect(
      await consumeLane(h.deps, [
        { id: 'p1', body: body('GONEGONEGONEGON='), group: null },
        { id: 'p2', body: body(B), group: null },
      ]),
    ).toEqual([]);
    expect(h.backend.requests).toEqual([]);
    expect(h.sender.calls).toEqual([]);
  });
});
