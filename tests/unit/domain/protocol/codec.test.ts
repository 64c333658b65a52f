import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvents, encodeEvents } from '#src/domain/protocol/codec.js';
import type { WsEvent } from '#src/domain/protocol/events.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Bytes of a string whose chars are all U+0000–U+00FF, one byte each (the captures' `\xNN` notation). */
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ascii = (b: Uint8Array): string => String.fromCharCode(...b);

function decodeOk(body: Uint8Array): WsEvent[] {
  const result = decodeEvents(body);
  if (!result.ok) throw new Error(`expected a decodable body, got ${result.error.message}`);
  return result.value;
}

describe('encodeEvents', () => {
  it.each<[string, WsEvent[], string]>([
    ['OPEN', [{ type: 'OPEN' }], 'OPEN\r\n'],
    ['DISCONNECT', [{ type: 'DISCONNECT' }], 'DISCONNECT\r\n'],
    ['TEXT', [{ type: 'TEXT', text: 'hello' }], 'TEXT 5\r\nhello\r\n'],
    ['empty TEXT', [{ type: 'TEXT', text: '' }], 'TEXT 0\r\n\r\n'],
    [
      'TEXT with lower-case hex length',
      [{ type: 'TEXT', text: 'here is another nice message' }],
      'TEXT 1c\r\nhere is another nice message\r\n',
    ],
    ['BINARY', [{ type: 'BINARY', data: new Uint8Array([1, 2, 3]) }], 'BINARY 3\r\n\x01\x02\x03\r\n'],
    ['empty BINARY', [{ type: 'BINARY', data: new Uint8Array(0) }], 'BINARY 0\r\n\r\n'],
    ['PING without payload', [{ type: 'PING', data: new Uint8Array(0) }], 'PING\r\n'],
    ['PONG with payload', [{ type: 'PONG', data: utf8('abcd') }], 'PONG 4\r\nabcd\r\n'],
    ['CLOSE 1000', [{ type: 'CLOSE', code: 1000, reason: '' }], 'CLOSE 2\r\n\x03\xe8\r\n'],
    ['CLOSE 1000 bye', [{ type: 'CLOSE', code: 1000, reason: 'bye' }], 'CLOSE 5\r\n\x03\xe8bye\r\n'],
    ['CLOSE without code', [{ type: 'CLOSE', code: null, reason: '' }], 'CLOSE\r\n'],
    [
      'several events, concatenated',
      [{ type: 'OPEN' }, { type: 'TEXT', text: 'a' }, { type: 'DISCONNECT' }],
      'OPEN\r\nTEXT 1\r\na\r\nDISCONNECT\r\n',
    ],
  ])('%s', (_name, events, wire) => {
    expect(ascii(encodeEvents(events))).toBe(wire);
  });

  it('counts UTF-8 bytes, not characters, in the length', () => {
    // "héllo €😀": h é(2) l l o space €(3) 😀(4) = 1+2+1+1+1+1+3+4 = 14 bytes = 0xe
    const body = encodeEvents([{ type: 'TEXT', text: 'héllo €😀' }]);
    expect(ascii(body.subarray(0, 8))).toBe('TEXT e\r\n');
    expect(body.length).toBe(8 + 14 + 2);
  });

  it('encodes a CLOSE reason as UTF-8 after the 2-byte code', () => {
    const body = encodeEvents([{ type: 'CLOSE', code: 4000, reason: 'ö' }]);
    expect([...body]).toEqual([...latin1('CLOSE 4\r\n\x0f\xa0'), 0xc3, 0xb6, 0x0d, 0x0a]);
  });

  it('encodes no events as an empty body', () => {
    expect(encodeEvents([]).length).toBe(0);
  });
});

describe('decodeEvents', () => {
  it.each<[string, string, WsEvent[]]>([
    ['OPEN', 'OPEN\r\n', [{ type: 'OPEN' }]],
    ['OPEN with empty content (legal, ignored)', 'OPEN 0\r\n\r\n', [{ type: 'OPEN' }]],
    ['OPEN with content (ignored)', 'OPEN 3\r\nabc\r\n', [{ type: 'OPEN' }]],
    ['DISCONNECT', 'DISCONNECT\r\n', [{ type: 'DISCONNECT' }]],
    ['TEXT, lower-case hex', 'TEXT 1c\r\nhere is another nice message\r\n', [{ type: 'TEXT', text: 'here is another nice message' }]],
    [
      'TEXT, upper-case hex (the spec examples)',
      'TEXT 1C\r\nhere is another nice message\r\n',
      [{ type: 'TEXT', text: 'here is another nice message' }],
    ],
    ['TEXT, mixed-case hex with leading zeros', 'TEXT 0000000B\r\nhello world\r\n', [{ type: 'TEXT', text: 'hello world' }]],
    ['TEXT containing CRLF', 'TEXT 4\r\na\r\nb\r\n', [{ type: 'TEXT', text: 'a\r\nb' }]],
    ['BINARY', 'BINARY 3\r\n\x01\x02\x03\r\n', [{ type: 'BINARY', data: new Uint8Array([1, 2, 3]) }]],
    ['PING without payload', 'PING\r\n', [{ type: 'PING', data: new Uint8Array(0) }]],
    ['PING with payload', 'PING 2\r\nhi\r\n', [{ type: 'PING', data: utf8('hi') }]],
    ['PONG without payload', 'PONG\r\n', [{ type: 'PONG', data: new Uint8Array(0) }]],
    ['PONG with payload', 'PONG 4\r\nabcd\r\n', [{ type: 'PONG', data: utf8('abcd') }]],
    ['CLOSE with code', 'CLOSE 2\r\n\x03\xe8\r\n', [{ type: 'CLOSE', code: 1000, reason: '' }]],
    ['CLOSE with code and reason', 'CLOSE 5\r\n\x03\xe8bye\r\n', [{ type: 'CLOSE', code: 1000, reason: 'bye' }]],
    ['CLOSE without code', 'CLOSE\r\n', [{ type: 'CLOSE', code: null, reason: '' }]],
    ['CLOSE with empty content', 'CLOSE 0\r\n\r\n', [{ type: 'CLOSE', code: null, reason: '' }]],
    ['CLOSE with one content byte has no code', 'CLOSE 1\r\n\x03\r\n', [{ type: 'CLOSE', code: null, reason: '' }]],
    ['CLOSE code 0 (js-grip close())', 'CLOSE 2\r\n\x00\x00\r\n', [{ type: 'CLOSE', code: 0, reason: '' }]],
    ['CLOSE code 65535', 'CLOSE 2\r\n\xff\xff\r\n', [{ type: 'CLOSE', code: 65535, reason: '' }]],
    ['empty body', '', []],
  ])('%s', (_name, wire, events) => {
    expect(decodeOk(latin1(wire))).toEqual(events);
  });

  it('decodes multi-byte UTF-8 by byte length', () => {
    const text = 'ünïcödé ✓ 𝄞';
    const body = encodeEvents([
      { type: 'TEXT', text },
      { type: 'CLOSE', code: 1001, reason: 'gehe weg ✌' },
    ]);
    expect(decodeOk(body)).toEqual([
      { type: 'TEXT', text },
      { type: 'CLOSE', code: 1001, reason: 'gehe weg ✌' },
    ]);
  });

  it('keeps a leading byte-order mark in TEXT', () => {
    expect(decodeOk(utf8('TEXT 4\r\n\ufeffa\r\n'))).toEqual([{ type: 'TEXT', text: '\ufeffa' }]);
  });

  it('turns invalid UTF-8 in TEXT into U+FFFD instead of failing', () => {
    expect(decodeOk(latin1('TEXT 2\r\na\xff\r\n'))).toEqual([{ type: 'TEXT', text: 'a\ufffd' }]);
  });

  it('copies BINARY content so it does not alias the body', () => {
    const body = latin1('BINARY 1\r\nx\r\n');
    const [event] = decodeOk(body);
    body[10] = 0x79;
    expect(event).toEqual({ type: 'BINARY', data: utf8('x') });
  });

  it.each<[string, string, string, number]>([
    ['no CRLF at all', 'OPEN', 'missing-crlf', 0],
    ['a lone CR', 'OPEN\r', 'missing-crlf', 0],
    ['a bare LF', 'OPEN\n', 'missing-crlf', 0],
    ['an unterminated second event', 'TEXT 5\r\nhello\r\nOPEN', 'missing-crlf', 15],
    ['a line longer than 32 bytes', `TEXT ${'0'.repeat(40)}\r\n`, 'missing-crlf', 0],
    ['an unknown event', 'FOO\r\n', 'unknown-event', 0],
    ['a lower-case event name', 'open\r\n', 'unknown-event', 0],
    ['an empty line', '\r\n', 'unknown-event', 0],
    ['an unknown event after a good one', 'OPEN\r\nHELLO 1\r\nx\r\n', 'unknown-event', 6],
    ['a non-hex length', 'TEXT zz\r\nhi\r\n', 'bad-length', 5],
    ['an empty length', 'TEXT \r\n', 'bad-length', 5],
    ['a negative length', 'TEXT -1\r\n', 'bad-length', 5],
    ['a length with two spaces', 'TEXT  1\r\nx\r\n', 'bad-length', 5],
    ['a 0x-prefixed length', 'TEXT 0x1\r\nx\r\n', 'bad-length', 5],
    ['nine hex digits', 'TEXT 000000001\r\nx\r\n', 'bad-length', 5],
    ['content shorter than declared', 'TEXT 5\r\nhel', 'truncated', 8],
    ['a huge declared length', 'TEXT ffffffff\r\nx\r\n', 'truncated', 15],
    ['content followed by other bytes', 'TEXT 5\r\nhelloXX', 'missing-content-crlf', 13],
    ['content at the very end', 'TEXT 5\r\nhello', 'missing-content-crlf', 13],
    ['content followed by a lone CR', 'TEXT 5\r\nhello\r', 'missing-content-crlf', 13],
    ['an OPEN 0 without the empty content CRLF', 'OPEN 0\r\n', 'missing-content-crlf', 8],
  ])('fails on %s with a typed error at the right offset', (_name, wire, reason, offset) => {
    const result = decodeEvents(latin1(wire));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'decode', reason, offset });
    expect(result.error.message).toContain(`(at byte ${offset})`);
  });
});

describe('the byte-exact Pushpin captures (docs/local-services.md)', () => {
  // Bodies copied from the captures, with the HTTP chunked framing removed (the chunk sizes are checked).
  const captures: { name: string; body: string; chunkSize?: number; events: WsEvent[] }[] = [
    { name: '1. OPEN request', body: 'OPEN\r\n', events: [{ type: 'OPEN' }] },
    {
      name: '2. OPEN response: accept + subscribe',
      body: 'OPEN\r\nTEXT 27\r\nc:{"type":"subscribe","channel":"test"}\r\n',
      chunkSize: 0x38,
      events: [{ type: 'OPEN' }, { type: 'TEXT', text: 'c:{"type":"subscribe","channel":"test"}' }],
    },
    { name: '3. client TEXT ping', body: 'TEXT 4\r\nping\r\n', events: [{ type: 'TEXT', text: 'ping' }] },
    {
      name: '3. backend reply: unprefixed + prefixed',
      body: 'TEXT f\r\npong-unprefixed\r\nTEXT f\r\nm:pong-prefixed\r\n',
      chunkSize: 0x32,
      events: [
        { type: 'TEXT', text: 'pong-unprefixed' },
        { type: 'TEXT', text: 'm:pong-prefixed' },
      ],
    },
    { name: '4. client TEXT unsub', body: 'TEXT 5\r\nunsub\r\n', events: [{ type: 'TEXT', text: 'unsub' }] },
    {
      name: '4. backend unsubscribe',
      body: 'TEXT 29\r\nc:{"type":"unsubscribe","channel":"test"}\r\n',
      chunkSize: 0x34,
      events: [{ type: 'TEXT', text: 'c:{"type":"unsubscribe","channel":"test"}' }],
    },
    {
      name: '5. client close(1000, "done"), and its echo',
      body: 'CLOSE 6\r\n\x03\xe8done\r\n',
      chunkSize: 0x11,
      events: [{ type: 'CLOSE', code: 1000, reason: 'done' }],
    },
    { name: '6. abrupt client drop, and the echo', body: 'DISCONNECT\r\n', chunkSize: 0xc, events: [{ type: 'DISCONNECT' }] },
    {
      name: '7. server close 4000 server-bye',
      body: 'CLOSE c\r\n\x0f\xa0server-bye\r\n',
      chunkSize: 0x17,
      events: [{ type: 'CLOSE', code: 4000, reason: 'server-bye' }],
    },
    { name: '8. TEXT ping with meta', body: 'TEXT 4\r\nping\r\n', events: [{ type: 'TEXT', text: 'ping' }] },
  ];

  it.each(captures)('$name', ({ body, chunkSize, events }) => {
    const bytes = latin1(body);
    if (chunkSize !== undefined) expect(bytes.length).toBe(chunkSize);
    expect(decodeOk(bytes)).toEqual(events);
    // What we would send is byte-identical to what Pushpin and the backend sent.
    expect([...encodeEvents(events)]).toEqual([...bytes]);
  });

  it('the request Content-Length values match the bodies', () => {
    expect(latin1('OPEN\r\n').length).toBe(6);
    expect(latin1('TEXT 4\r\nping\r\n').length).toBe(14);
    expect(latin1('TEXT 5\r\nunsub\r\n').length).toBe(15);
    expect(latin1('CLOSE 6\r\n\x03\xe8done\r\n').length).toBe(17);
    expect(latin1('DISCONNECT\r\n').length).toBe(12);
    expect(latin1('CLOSE c\r\n\x0f\xa0server-bye\r\n').length).toBe(23);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const bytesArb = fc.uint8Array({ maxLength: 64 });
/** Any event as the encoder accepts it; strings are well-formed (lone surrogates cannot survive UTF-8). */
const wsEventArb: fc.Arbitrary<WsEvent> = fc.oneof(
  fc.constant<WsEvent>({ type: 'OPEN' }),
  fc.constant<WsEvent>({ type: 'DISCONNECT' }),
  fc.string({ unit: 'binary', maxLength: 40 }).map((text): WsEvent => ({ type: 'TEXT', text })),
  bytesArb.map((data): WsEvent => ({ type: 'BINARY', data })),
  bytesArb.map((data): WsEvent => ({ type: 'PING', data })),
  bytesArb.map((data): WsEvent => ({ type: 'PONG', data })),
  fc.constant<WsEvent>({ type: 'CLOSE', code: null, reason: '' }),
  fc
    .record({ code: fc.integer({ min: 0, max: 65535 }), reason: fc.string({ unit: 'binary', maxLength: 40 }) })
    .map(({ code, reason }): WsEvent => ({ type: 'CLOSE', code, reason })),
);

/** Random bodies built from protocol tokens, so the decoder's deeper branches are reached, not just line one. */
const tokenSoupArb = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'OPEN',
        'TEXT',
        'BINARY',
        'PING',
        'PONG',
        'CLOSE',
        'DISCONNECT',
        'text',
        ' ',
        '\r\n',
        '\r',
        '\n',
        '0',
        '1',
        'a',
        'F',
        'ffffffff',
        'g',
      ),
      fc.uint8Array({ maxLength: 8 }).map((b) => String.fromCharCode(...b)),
    ),
    { maxLength: 24 },
  )
  .map((parts) => latin1(parts.join('')));

/** Checks what every decode result must satisfy; returns whether it decoded. */
function checkDecodeContract(body: Uint8Array): boolean {
  const result = decodeEvents(body);
  if (result.ok) {
    // Whatever decoded re-encodes into a body that decodes to the same events.
    expect(decodeEvents(encodeEvents(result.value))).toEqual(result);
    return true;
  }
  expect(result.error.kind).toBe('decode');
  expect(result.error.offset).toBeGreaterThanOrEqual(0);
  expect(result.error.offset).toBeLessThanOrEqual(body.length);
  return false;
}

describe('codec properties (fast-check)', () => {
  it('encode → decode is the identity for any list of events (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(wsEventArb, { maxLength: 12 }), (events) => {
        expect(decodeOk(encodeEvents(events))).toEqual(events);
      }),
      { numRuns: 10_000 },
    );
  });

  it('decoding arbitrary bytes never throws and always returns events or an in-range error (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (body) => void checkDecodeContract(body)),
      { numRuns: 10_000 },
    );
  });

  it('decoding token soup never throws (10,000 runs), and some of it decodes', () => {
    let decoded = 0;
    fc.assert(
      fc.property(tokenSoupArb, (body) => {
        if (checkDecodeContract(body)) decoded++;
      }),
      { numRuns: 10_000 },
    );
    // Proves the generator reaches past the first line: a fair share of the soup is valid framing.
    expect(decoded).toBeGreaterThan(100);
  });

  it('truncating a valid body gives the events so far or an error, never a throw (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(wsEventArb, { minLength: 1, maxLength: 8 }), fc.nat(), (events, cut) => {
        const body = encodeEvents(events);
        const at = cut % (body.length + 1);
        const result = decodeEvents(body.subarray(0, at));
        checkDecodeContract(body.subarray(0, at));
        if (result.ok) {
          // A cut at an event boundary decodes to a prefix of the events.
          expect(events.slice(0, result.value.length)).toEqual(result.value);
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('flipping bytes of a valid body never throws (10,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.array(wsEventArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (events, flips) => {
          const body = encodeEvents(events).slice();
          for (const [position, mask] of flips) {
            const i = position % body.length;
            body[i] = (body[i] ?? 0) ^ mask;
          }
          checkDecodeContract(body);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
