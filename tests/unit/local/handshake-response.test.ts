import { describe, expect, it } from 'vitest';
import { parseConnectResult } from '#src/local/handshake-response.js';

describe('parseConnectResult', () => {
  it('keeps status, string headers and body', () => {
    expect(parseConnectResult({ statusCode: 403, headers: { 'X-A': 'b', 'X-N': 1 }, body: 'no' })).toEqual({
      statusCode: 403,
      headers: { 'X-A': 'b', 'X-N': '1' },
      body: 'no',
    });
    expect(parseConnectResult({ statusCode: 200, headers: null, body: null })).toEqual({ statusCode: 200 });
  });

  it('refuses results an HTTP response cannot carry', () => {
    for (const raw of [
      null,
      'ok',
      {},
      { statusCode: '200' },
      { statusCode: 101 },
      { statusCode: 600 },
      { statusCode: 200.5 },
      { statusCode: 200, body: 42 },
      { statusCode: 200, headers: { a: { nested: true } } },
    ]) {
      expect(parseConnectResult(raw)).toBeNull();
    }
  });
});
