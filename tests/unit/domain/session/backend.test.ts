/** askBackend's retries of a backend that cannot be reached (issue 9: a rolling deploy closed every client). */
import { describe, expect, it } from 'vitest';
import { askBackend, BACKEND_CONNECT_ATTEMPTS, BACKEND_MIN_RETRY_SPAN_MS } from '#src/domain/session/backend.js';
import { eventsReply } from '#test-helpers/fakes.js';
import { sessionHarness } from '#test-helpers/harness.js';

const connection = { connectionId: 'abc=', handshake: { path: '/', query: '', headers: {} }, meta: {} };
const refused = { error: { kind: 'connect' as const, message: 'ECONNREFUSED' } };

describe('askBackend', () => {
  it('tries an unreachable backend again with backoff, and succeeds once it is back', async () => {
    const h = sessionHarness();
    h.backend.respond(refused, refused, eventsReply(''));
    const result = await askBackend(h.deps, connection, []);
    expect(result.ok).toBe(true);
    expect(h.backend.requests).toHaveLength(3);
    expect(h.time.sleeps).toHaveLength(2);
    expect(h.metrics.total('BackendErrors')).toBe(0);
  });

  it('never retries a request the backend may have processed (a timeout or a bad answer)', async () => {
    const h = sessionHarness();
    h.backend.respond({ error: { kind: 'timeout', message: 'slow' } });
    expect((await askBackend(h.deps, connection, [])).ok).toBe(false);
    expect(h.backend.requests).toHaveLength(1);
    expect(h.time.sleeps).toEqual([]);
  });

  it('gives up after 5 retries, and never waits past the backend timeout', async () => {
    const h = sessionHarness({ backendTimeoutMs: 60_000 });
    h.backend.fallback = refused;
    const result = await askBackend(h.deps, connection, []);
    expect(!result.ok && result.error.kind).toBe('connect');
    expect(h.backend.requests).toHaveLength(BACKEND_CONNECT_ATTEMPTS);
    expect(h.metrics.total('BackendErrors')).toBe(1);

    const short = sessionHarness({ backendTimeoutMs: 1_000 });
    short.backend.fallback = refused;
    await askBackend(short.deps, connection, []);
    expect(short.time.sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(1_000);
  });

  it('keeps trying for at least 5.75 s whatever the random source says, so a 3 s outage closes no client', async () => {
    for (const dice of [0, 0.5, 0.999]) {
      const h = sessionHarness({ backendTimeoutMs: 28_000 });
      h.backend.fallback = refused;
      await askBackend({ ...h.deps, random: () => dice }, connection, []);
      const waited = h.time.sleeps.reduce((a, b) => a + b, 0);
      expect(waited).toBeGreaterThanOrEqual(BACKEND_MIN_RETRY_SPAN_MS);
      expect(BACKEND_MIN_RETRY_SPAN_MS).toBe(5_750);
    }
  });
});
