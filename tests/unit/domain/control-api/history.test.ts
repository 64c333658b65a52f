/** `GET /channels/{channel}/messages` (issue 14), read back with the client library's own parser. */
import { describe, expect, it } from 'vitest';
import { parseHistoryPage, sinceUnknown } from '#src/client/history.js';
import { handleControlApiRequest } from '#src/domain/control-api/handle-request.js';
import type { HistoryEntry } from '#src/domain/history.js';
import { storeError } from '#test-helpers/fakes.js';
import { controlHarness, SHARED_KEY } from '#test-helpers/harness.js';

const NOW = 1_800_000_000_000;

function harness(count: number) {
  const h = controlHarness();
  h.time.now = NOW;
  for (let i = 1; i <= count; i++) {
    const entry: HistoryEntry = {
      channel: 'room/1',
      sequence: String(100 + i),
      id: `m-${i}`,
      publishedAt: NOW - 1000 + i,
      message: i === 2 ? { kind: 'binary', base64: 'AQID' } : { kind: 'text', text: `hello ${i}` },
      expiresAt: NOW + 60_000,
    };
    void h.history.record(entry);
  }
  return h;
}

const get = (h: ReturnType<typeof controlHarness>, path: string, query = '', auth = `Bearer ${SHARED_KEY}`) =>
  handleControlApiRequest(h.deps, { method: 'GET', path, query, headers: { authorization: auth }, body: new Uint8Array() });

describe('GET /channels/{channel}/messages', () => {
  it('pages after since, in publish order, with more; the channel is percent-decoded', async () => {
    const h = harness(5);
    const answer = await get(h, '/channels/room%2F1/messages', 'since=m-1&limit=2');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    const page = parseHistoryPage(answer.body);
    expect(page.ok && page.value.more).toBe(true);
    expect(page.ok && page.value.items).toEqual([
      { id: 'm-2', published: new Date(NOW - 998), type: 'binary', content: new Uint8Array([1, 2, 3]) },
      { id: 'm-3', published: new Date(NOW - 997), type: 'text', content: 'hello 3' },
    ]);
    const rest = parseHistoryPage((await get(h, '/channels/room%2F1/messages', 'since=m-3')).body);
    expect(rest.ok && rest.value.items.map((i) => i.id)).toEqual(['m-4', 'm-5']);
    expect(rest.ok && rest.value.more).toBe(false);
  });

  it('without since: the last limit items (default 100), oldest first', async () => {
    const h = harness(5);
    const page = parseHistoryPage((await get(h, '/channels/room%2F1/messages', 'limit=2')).body);
    expect(page.ok && page.value.items.map((i) => i.id)).toEqual(['m-4', 'm-5']);
    const all = parseHistoryPage((await get(h, '/channels/room%2F1/messages/')).body);
    expect(all.ok && all.value.items).toHaveLength(5);
  });

  it('answers 410 since-unknown for an id not retained (never published or expired)', async () => {
    const h = harness(2);
    const unknown = await get(h, '/channels/room%2F1/messages', 'since=nope');
    expect(unknown.status).toBe(410);
    expect(sinceUnknown(unknown.body)).toContain('"nope"');
    h.time.now = NOW + 60_001;
    expect((await get(h, '/channels/room%2F1/messages', 'since=m-1')).status).toBe(410);
  });

  it('answers 400 for a bad limit, since or channel, 401 without credentials, 405 for other methods, 503 on a store failure', async () => {
    const h = harness(1);
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'since=']) {
      expect((await get(h, '/channels/room/messages', query)).status, query).toBe(400);
    }
    expect((await get(h, '/channels/%E0%A4%A/messages')).status).toBe(400);
    expect((await get(h, '/channels/%24connection/messages')).status).toBe(400);
    expect((await get(h, '/channels/room/messages', '', 'Bearer wrong')).status).toBe(401);
    const post = await handleControlApiRequest(h.deps, {
      method: 'POST',
      path: '/channels/room/messages',
      query: '',
      headers: { authorization: `Bearer ${SHARED_KEY}` },
      body: new Uint8Array(),
    });
    expect(post).toMatchObject({ status: 405, headers: { allow: 'GET' } });
    h.history.failOnce('readLatest', storeError('throttled'));
    expect((await get(h, '/channels/room/messages')).status).toBe(503);
  });
});
