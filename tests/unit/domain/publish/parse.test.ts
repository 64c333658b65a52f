import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, MAX_PUBLISH_BODY_BYTES } from '#src/domain/protocol/limits.js';
import { parsePublishBody, type PublishBodyError, type ParsedPublishItem } from '#src/domain/publish/parse.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (data: Uint8Array | string): string => Buffer.from(typeof data === 'string' ? utf8(data) : data).toString('base64');

function items(body: unknown): ParsedPublishItem[] {
  const result = parsePublishBody(typeof body === 'string' ? body : JSON.stringify(body));
  if (!result.ok) throw new Error(`expected items, got: ${result.error.message}`);
  return result.value;
}

function error(body: unknown): PublishBodyError {
  const result = parsePublishBody(typeof body === 'string' ? body : JSON.stringify(body));
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

const ws = (wsMessage: unknown, extra: Record<string, unknown> = {}) => ({
  items: [{ channel: 'room', formats: { 'ws-message': wsMessage }, ...extra }],
});
const room = { kind: 'channel', channel: 'room' } as const;

describe('parsePublishBody: accepted items', () => {
  it('parses the reference example with id and prev-id', () => {
    expect(items('{"items":[{"channel":"room","id":"m2","prev-id":"m1",\n  "formats":{"ws-message":{"content":"hello"}}}]}')).toEqual([
      { target: room, id: 'm2', prevId: 'm1', payload: { kind: 'text', text: 'hello' }, ignored: null, meta: {}, contentFilters: null },
    ]);
  });

  it('parses js-grip Publisher bodies (formats before channel), and a Uint8Array body', () => {
    const body = '{"items":[{"formats":{"ws-message":{"content":"hello"}},"channel":"room"}]}';
    const expected: ParsedPublishItem[] = [
      { target: room, id: null, prevId: null, payload: { kind: 'text', text: 'hello' }, ignored: null, meta: {}, contentFilters: null },
    ];
    expect(items(body)).toEqual(expected);
    expect(parsePublishBody(utf8(body))).toEqual({ ok: true, value: expected });
  });

  it('keeps several items in order, each with its own target', () => {
    const parsed = items({
      items: [
        { channel: 'a', formats: { 'ws-message': { content: '1' } } },
        { connection: 'L0SM9cOFvHcCIhw=', formats: { 'ws-message': { content: '2' } } },
        { channel: 'b', formats: { 'ws-message': { action: 'close' } } },
      ],
    });
    expect(parsed.map((i) => i.target)).toEqual([
      { kind: 'channel', channel: 'a' },
      { kind: 'connection', connectionId: 'L0SM9cOFvHcCIhw=' },
      { kind: 'channel', channel: 'b' },
    ]);
    expect(parsed.map((i) => i.payload)).toEqual([{ kind: 'text', text: '1' }, { kind: 'text', text: '2' }, { kind: 'close' }]);
  });

  it.each<[string, unknown, ParsedPublishItem['payload']]>([
    ['content-bin is binary', { 'content-bin': b64('\x00\x01') }, { kind: 'binary', base64: 'AAE=' }],
    ['content-bin wins over content', { content: 'text', 'content-bin': b64('bin') }, { kind: 'binary', base64: b64('bin') }],
    ['content-bin is re-encoded canonically', { 'content-bin': 'aGk' }, { kind: 'binary', base64: 'aGk=' }],
    ['content-bin with type text is text', { 'content-bin': b64('hé'), type: 'text' }, { kind: 'text', text: 'hé' }],
    ['content with type binary is binary', { content: 'hé', type: 'binary' }, { kind: 'binary', base64: b64('hé') }],
    ['explicit action send', { action: 'send', content: 'x' }, { kind: 'text', text: 'x' }],
    ['empty text', { content: '' }, { kind: 'text', text: '' }],
    ['a null action means send', { action: null, content: 'x' }, { kind: 'text', text: 'x' }],
    ['close without code', { action: 'close' }, { kind: 'close' }],
    ['close with code 0 (no code)', { action: 'close', code: 0 }, { kind: 'close' }],
    ['close with a code (js-grip WebSocketMessageFormat)', { action: 'close', code: 4000 }, { kind: 'close', code: 4000 }],
    ['close with a numeric-string code', { action: 'close', code: '4001' }, { kind: 'close', code: 4001 }],
    ['close with code and reason', { action: 'close', code: 1001, reason: 'bye' }, { kind: 'close', code: 1001, reason: 'bye' }],
    ['close with an empty reason', { action: 'close', code: 1000, reason: '' }, { kind: 'close', code: 1000 }],
    [
      'close with a reason of exactly 123 bytes',
      { action: 'close', reason: 'é'.repeat(61) + 'x' },
      { kind: 'close', reason: 'é'.repeat(61) + 'x' },
    ],
  ])('%s', (_name, wsMessage, payload) => {
    const [item] = items(ws(wsMessage));
    expect(item?.payload).toEqual(payload);
    expect(item?.ignored).toBeNull();
  });

  it.each<[string, unknown, string]>([
    ['hint', { action: 'hint' }, 'action hint is not supported'],
    ['ping', { type: 'ping', content: 'x' }, 'message type ping is not supported'],
    ['pong without content', { type: 'pong' }, 'message type pong is not supported'],
  ])('%s → payload null with a reason', (_name, wsMessage, reason) => {
    expect(items(ws(wsMessage))).toEqual([
      { target: room, id: null, prevId: null, payload: null, ignored: reason, meta: {}, contentFilters: null },
    ]);
  });

  it('refresh → a refresh payload (each subscriber’s session asks the backend)', () => {
    expect(items(ws({ action: 'refresh' }))).toEqual([
      { target: room, id: null, prevId: null, payload: { kind: 'refresh' }, ignored: null, meta: {}, contentFilters: null },
    ]);
  });

  it('items with only other formats are accepted without a payload (multi-format publishers)', () => {
    const parsed = items({
      items: [
        { channel: 'room', formats: { 'http-stream': { content: 'data\n' } } },
        { channel: 'room', formats: { 'http-response': { body: 'x' }, 'http-stream': { content: 'y' } } },
        { channel: 'room', formats: { 'some-future-format': {} } },
      ],
    });
    expect(parsed.map((i) => [i.payload, i.ignored])).toEqual([
      [null, 'no ws-message format'],
      [null, 'no ws-message format'],
      [null, 'no ws-message format'],
    ]);
  });

  it('a multi-format item uses its ws-message', () => {
    const [item] = items({ items: [{ channel: 'room', formats: { 'http-stream': { content: 'a' }, 'ws-message': { content: 'b' } } }] });
    expect(item?.payload).toEqual({ kind: 'text', text: 'b' });
  });

  it('accepts the legacy form with format keys directly on the item', () => {
    expect(items({ items: [{ channel: 'room', 'ws-message': { content: 'legacy' } }] })[0]?.payload).toEqual({
      kind: 'text',
      text: 'legacy',
    });
    expect(items({ items: [{ channel: 'room', 'http-stream': { content: 'legacy' } }] })[0]?.ignored).toBe('no ws-message format');
  });

  it('keeps meta of strings and content-filters for publish filters; accepts the Pushpin fields it does not use', () => {
    const [item] = items(ws({ content: 'x', 'content-filters': ['var-subst'] }, { meta: { sender: 'a' }, 'no-seq': true, size: 3 }));
    expect(item).toMatchObject({ payload: { kind: 'text', text: 'x' }, meta: { sender: 'a' }, contentFilters: ['var-subst'] });
    expect(items(ws({ content: 'x', 'content-filters': [] }))[0]?.contentFilters).toEqual([]);
  });

  it('accepts null id, prev-id, meta and formats-less legacy keys as absent', () => {
    expect(items({ items: [{ channel: 'room', id: null, 'prev-id': null, meta: null, 'ws-message': { content: 'x' } }] })[0]).toMatchObject(
      { id: null, prevId: null },
    );
  });

  it('accepts a text message of exactly 128 KB and a binary one too', () => {
    expect(items(ws({ content: 'x'.repeat(MAX_MESSAGE_BYTES) }))[0]?.payload).toMatchObject({ kind: 'text' });
    expect(items(ws({ 'content-bin': b64(new Uint8Array(MAX_MESSAGE_BYTES)) }))[0]?.payload).toMatchObject({ kind: 'binary' });
  });
});

describe('parsePublishBody: errors name the item and field', () => {
  it.each<[string, unknown, Partial<PublishBodyError>]>([
    ['bad JSON', '{"items":[', { itemIndex: null, field: null }],
    ['a JSON array', '[]', { itemIndex: null, field: null, message: 'publish body must be a JSON object with an "items" array' }],
    ['no items', {}, { itemIndex: null, field: 'items', message: 'items: required' }],
    ['items not an array', { items: {} }, { field: 'items', message: 'items: must be an array' }],
    ['empty items', { items: [] }, { field: 'items', message: 'items: must not be empty' }],
    ['an item that is not an object', { items: ['x'] }, { itemIndex: 0, field: 'items[0]', message: 'items[0]: must be an object' }],
    [
      'no channel',
      { items: [{ formats: { 'ws-message': { content: 'x' } } }] },
      { itemIndex: 0, field: 'items[0].channel', message: 'items[0].channel: required (or "connection")' },
    ],
    [
      'an empty channel',
      ws({ content: 'x' }, { channel: '' }),
      { field: 'items[0].channel', message: 'items[0].channel: channel must not be empty' },
    ],
    ['the reserved channel', ws({ content: 'x' }, { channel: '$connection' }), { field: 'items[0].channel' }],
    [
      'a numeric channel',
      ws({ content: 'x' }, { channel: 7 }),
      { field: 'items[0].channel', message: 'items[0].channel: channel must be a string' },
    ],
    [
      'both channel and connection',
      ws({ content: 'x' }, { connection: 'abc' }),
      { field: 'items[0].connection', message: 'items[0].connection: give either "channel" or "connection", not both' },
    ],
    ['an empty connection', { items: [{ connection: '', 'ws-message': { content: 'x' } }] }, { field: 'items[0].connection' }],
    ['a connection with spaces', { items: [{ connection: 'a b', 'ws-message': { content: 'x' } }] }, { field: 'items[0].connection' }],
    ['a numeric id', ws({ content: 'x' }, { id: 5 }), { field: 'items[0].id', message: 'items[0].id: must be a string' }],
    ['a numeric prev-id', ws({ content: 'x' }, { 'prev-id': 5 }), { field: 'items[0].prev-id' }],
    ['meta not an object', ws({ content: 'x' }, { meta: 'x' }), { field: 'items[0].meta' }],
    [
      'content-filters not an array',
      ws({ content: 'x', 'content-filters': 'var-subst' }),
      { field: 'items[0].formats.ws-message.content-filters' },
    ],
    [
      'a content filter not a string',
      ws({ content: 'x', 'content-filters': [1] }),
      { field: 'items[0].formats.ws-message.content-filters' },
    ],
    [
      'a meta value not a string',
      ws({ content: 'x' }, { meta: { n: 1 } }),
      { field: 'items[0].meta.n', message: 'items[0].meta.n: must be a string' },
    ],
    [
      'no formats at all',
      { items: [{ channel: 'room' }] },
      { field: 'items[0].formats', message: 'items[0].formats: no formats specified' },
    ],
    [
      'empty formats',
      { items: [{ channel: 'room', formats: {} }] },
      { field: 'items[0].formats', message: 'items[0].formats: no formats specified' },
    ],
    [
      'formats not an object',
      { items: [{ channel: 'room', formats: [] }] },
      { field: 'items[0].formats', message: 'items[0].formats: must be an object' },
    ],
    [
      'ws-message not an object',
      ws('hello'),
      { field: 'items[0].formats.ws-message', message: 'items[0].formats.ws-message: must be an object' },
    ],
    ['an unknown action', ws({ action: 'explode' }), { field: 'items[0].formats.ws-message.action' }],
    ['a non-string action', ws({ action: 1 }), { field: 'items[0].formats.ws-message.action' }],
    ['send without content', ws({}), { field: 'items[0].formats.ws-message.content' }],
    ['binary without content', ws({ type: 'binary' }), { field: 'items[0].formats.ws-message.content' }],
    ['an unknown type', ws({ type: 'json', content: 'x' }), { field: 'items[0].formats.ws-message.type' }],
    [
      'numeric content',
      ws({ content: 5 }),
      { field: 'items[0].formats.ws-message.content', message: 'items[0].formats.ws-message.content: must be a string' },
    ],
    [
      'invalid base64',
      ws({ 'content-bin': 'not base64!' }),
      { field: 'items[0].formats.ws-message.content-bin', message: 'items[0].formats.ws-message.content-bin: not valid base64' },
    ],
    ['non-string content-bin', ws({ 'content-bin': [1] }), { field: 'items[0].formats.ws-message.content-bin' }],
    [
      'text content-bin that is not UTF-8',
      ws({ 'content-bin': '/w==', type: 'text' }),
      { field: 'items[0].formats.ws-message.content-bin' },
    ],
    ['a close code of 999', ws({ action: 'close', code: 999 }), { field: 'items[0].formats.ws-message.code' }],
    ['a close code of 5000', ws({ action: 'close', code: 5000 }), { field: 'items[0].formats.ws-message.code' }],
    ['the reserved close code 1005', ws({ action: 'close', code: 1005 }), { field: 'items[0].formats.ws-message.code' }],
    ['a negative close code', ws({ action: 'close', code: -1 }), { field: 'items[0].formats.ws-message.code' }],
    [
      'a fractional close code',
      ws({ action: 'close', code: 1000.5 }),
      { field: 'items[0].formats.ws-message.code', message: 'items[0].formats.ws-message.code: must be an integer' },
    ],
    ['a non-string reason', ws({ action: 'close', reason: 5 }), { field: 'items[0].formats.ws-message.reason' }],
    [
      'a reason of 124 bytes',
      ws({ action: 'close', reason: 'é'.repeat(62) }),
      {
        field: 'items[0].formats.ws-message.reason',
        message: 'items[0].formats.ws-message.reason: is 124 bytes of UTF-8, more than the limit of 123',
      },
    ],
    [
      'legacy ws-message errors use the legacy path',
      { items: [{ channel: 'room', 'ws-message': { content: 1 } }] },
      { field: 'items[0].ws-message.content' },
    ],
  ])('%s', (_name, body, expected) => {
    const e = error(body);
    expect(e.kind).toBe('invalid-publish');
    expect(e).toMatchObject(expected);
    if (e.field !== null) expect(e.message.startsWith(`${e.field}: `)).toBe(true);
  });

  it('names the right item when a later one is bad', () => {
    const e = error({
      items: [
        { channel: 'a', formats: { 'ws-message': { content: 'ok' } } },
        { channel: 'b', formats: { 'ws-message': { content: 'ok' } } },
        { channel: 'c', formats: { 'ws-message': { 'content-bin': '%%%' } } },
      ],
    });
    expect(e).toEqual({
      kind: 'invalid-publish',
      message: 'items[2].formats.ws-message.content-bin: not valid base64',
      itemIndex: 2,
      field: 'items[2].formats.ws-message.content-bin',
    });
  });

  it('rejects a message over 128 KB, text by UTF-8 bytes and binary decoded', () => {
    const text = error(ws({ content: 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1) }));
    expect(text).toMatchObject({ itemIndex: 0, field: 'items[0].formats.ws-message.content' });
    expect(text.message).toContain(`message is ${MAX_MESSAGE_BYTES + 2} bytes, more than the limit of ${MAX_MESSAGE_BYTES}`);
    const binary = error(ws({ 'content-bin': b64(new Uint8Array(MAX_MESSAGE_BYTES + 1)) }));
    expect(binary).toMatchObject({ itemIndex: 0, field: 'items[0].formats.ws-message.content-bin' });
  });

  it('rejects a body over 1 MB, as string or bytes, before parsing it', () => {
    const body = `{"items":[],"pad":"${'x'.repeat(MAX_PUBLISH_BODY_BYTES)}"}`;
    expect(error(body).message).toContain(`more than the limit of ${MAX_PUBLISH_BODY_BYTES}`);
    expect(parsePublishBody(utf8(body))).toMatchObject({ ok: false, error: { itemIndex: null, field: null } });
    // Multi-byte characters count as bytes.
    const wide = `{"items":[],"pad":"${'é'.repeat(MAX_PUBLISH_BODY_BYTES / 2)}"}`;
    expect(error(wide).message).toContain('more than the limit');
  });

  it('rejects a byte body that is not UTF-8', () => {
    expect(parsePublishBody(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({
      ok: false,
      error: { kind: 'invalid-publish', message: 'publish body is not valid UTF-8', itemIndex: null, field: null },
    });
  });
});

describe('parsePublishBody properties', () => {
  const wsMessageArb = fc.record(
    {
      action: fc.oneof(fc.constantFrom('send', 'close', 'refresh', 'hint', 'bogus'), fc.anything()),
      content: fc.oneof(fc.string(), fc.anything()),
      'content-bin': fc.oneof(fc.base64String(), fc.string()),
      type: fc.oneof(fc.constantFrom('text', 'binary', 'ping', 'pong'), fc.anything()),
      code: fc.oneof(fc.integer({ min: -10, max: 6000 }), fc.string(), fc.anything()),
      reason: fc.oneof(fc.string({ maxLength: 130 }), fc.anything()),
    },
    { requiredKeys: [] },
  );
  const itemArb = fc.record(
    {
      channel: fc.oneof(fc.string({ maxLength: 10 }), fc.anything()),
      connection: fc.oneof(fc.string({ maxLength: 10 }), fc.anything()),
      id: fc.oneof(fc.string(), fc.anything()),
      'prev-id': fc.oneof(fc.string(), fc.anything()),
      formats: fc.oneof(fc.record({ 'ws-message': wsMessageArb }, { requiredKeys: [] }), fc.dictionary(fc.string(), fc.anything())),
      'ws-message': wsMessageArb,
      meta: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
    },
    { requiredKeys: [] },
  );
  // Well-formed items too: random ones almost never parse, and the checks on parsed items must run.
  const plausibleItemArb = fc.record({
    channel: fc.constantFrom('room', 'news'),
    formats: fc.record({
      'ws-message': fc.oneof(
        fc.record({ content: fc.string() }),
        fc.record({ action: fc.constant('close'), code: fc.integer({ min: -10, max: 6000 }) }, { requiredKeys: ['action'] }),
      ),
    }),
  });
  const bodyArb = fc.oneof(
    fc.record({ items: fc.array(itemArb, { maxLength: 4 }) }).map((b) => JSON.stringify(b)),
    fc.record({ items: fc.array(plausibleItemArb, { minLength: 1, maxLength: 3 }) }).map((b) => JSON.stringify(b)),
    fc.json(),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

  it('never throws; every result is items or an error naming an item that exists (10,000 runs)', () => {
    let closesWithCode = 0;
    fc.assert(
      fc.property(bodyArb, (body) => {
        const result = parsePublishBody(body);
        if (result.ok) {
          for (const item of result.value) {
            // Exactly one of payload and ignored is set.
            expect((item.payload === null) !== (item.ignored === null)).toBe(true);
            if (item.payload?.kind === 'close' && item.payload.code !== undefined) {
              closesWithCode++;
              expect(item.payload.code).toBeGreaterThanOrEqual(1000);
              expect(item.payload.code).toBeLessThanOrEqual(4999);
            }
          }
        } else {
          expect(result.error.kind).toBe('invalid-publish');
          if (result.error.itemIndex !== null) expect(result.error.field).toMatch(new RegExp(`^items\\[${result.error.itemIndex}\\]`));
        }
      }),
      { numRuns: 10_000 },
    );
    expect(closesWithCode).toBeGreaterThan(100);
  });
});
