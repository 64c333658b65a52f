import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateChannel } from '#src/domain/channel.js';
import {
  encodeGripControlMessage,
  parseGripControlMessage,
  type GripControlMessage,
  type GripControlParse,
} from '#src/domain/protocol/grip-control.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function parsedMessage(json: string): GripControlMessage {
  const result = parseGripControlMessage(json);
  if (result.kind !== 'control') throw new Error(`expected a control message, got: ${result.reason}`);
  return result.message;
}

function ignoredReason(json: string): string {
  const result = parseGripControlMessage(json);
  if (result.kind !== 'ignored') throw new Error(`expected ignored, got ${JSON.stringify(result.message)}`);
  return result.reason;
}

describe('parseGripControlMessage: subscribe / unsubscribe / detach', () => {
  it.each<[string, string, GripControlMessage]>([
    [
      'js-grip subscribe (channel before type)',
      '{"channel":"room","type":"subscribe"}',
      { type: 'subscribe', channel: 'room', filters: [] },
    ],
    ['hand-written subscribe', '{"type":"subscribe","channel":"test"}', { type: 'subscribe', channel: 'test', filters: [] }],
    ['whitespace everywhere', ' {\n  "type" : "subscribe" ,\t"channel" :"a b" } ', { type: 'subscribe', channel: 'a b', filters: [] }],
    [
      'filters',
      '{"type":"subscribe","channel":"test","filters":["skip-self"]}',
      { type: 'subscribe', channel: 'test', filters: ['skip-self'] },
    ],
    [
      'since and recovery-failed (this server’s resume extension)',
      '{"type":"subscribe","channel":"test","since":"m-41","recovery-failed":"{\\"type\\":\\"reload\\"}"}',
      { type: 'subscribe', channel: 'test', filters: [], since: 'm-41', recoveryFailed: '{"type":"reload"}' },
    ],
    [
      'recovery-failed without since (nothing to fail: dropped)',
      '{"type":"subscribe","channel":"test","recovery-failed":"reload"}',
      { type: 'subscribe', channel: 'test', filters: [] },
    ],
    ['since null (absent)', '{"type":"subscribe","channel":"test","since":null}', { type: 'subscribe', channel: 'test', filters: [] }],
    [
      'five filters (the maximum)',
      '{"type":"subscribe","channel":"c","filters":["1","2","3","4","5"]}',
      { type: 'subscribe', channel: 'c', filters: ['1', '2', '3', '4', '5'] },
    ],
    [
      'six filters (the session closes the client with 1011)',
      '{"type":"subscribe","channel":"c","filters":["1","2","3","4","5","6"]}',
      { type: 'subscribe', channel: 'c', filters: ['1', '2', '3', '4', '5', '6'] },
    ],
    ['null filters', '{"type":"subscribe","channel":"c","filters":null}', { type: 'subscribe', channel: 'c', filters: [] }],
    [
      'unknown keys are ignored',
      '{"type":"subscribe","channel":"c","x":1,"nested":{"a":[]}}',
      { type: 'subscribe', channel: 'c', filters: [] },
    ],
    ['unicode channel', '{"type":"subscribe","channel":"räum-✓"}', { type: 'subscribe', channel: 'räum-✓', filters: [] }],
    ['js-grip unsubscribe', '{"channel":"room","type":"unsubscribe"}', { type: 'unsubscribe', channel: 'room' }],
    ['unsubscribe ignores filters', '{"type":"unsubscribe","channel":"room","filters":7}', { type: 'unsubscribe', channel: 'room' }],
    ['detach', '{"type":"detach"}', { type: 'detach' }],
    ['detach with extra keys', '{"type":"detach","channel":"x"}', { type: 'detach' }],
  ])('%s', (_name, json, expected) => {
    expect(parsedMessage(json)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['missing channel', '{"type":"subscribe"}', "'channel' is invalid: channel must be a string"],
    ['empty channel', '{"type":"subscribe","channel":""}', 'channel must not be empty'],
    ['numeric channel', '{"type":"unsubscribe","channel":5}', "unsubscribe control message 'channel' is invalid"],
    ['reserved channel', '{"type":"subscribe","channel":"$connection"}', 'reserved'],
    ['control characters in the channel', '{"type":"subscribe","channel":"a\\nb"}', 'control characters'],
    ['too long a channel', `{"type":"subscribe","channel":"${'x'.repeat(257)}"}`, 'at most 256 bytes'],
    ['filters not an array', '{"type":"subscribe","channel":"c","filters":"skip-self"}', "'filters' must be an array of strings"],
    ['a non-string filter', '{"type":"subscribe","channel":"c","filters":["a",1]}', "'filters' contains a value that is not a string"],
  ])('ignores a subscription with %s', (_name, json, reason) => {
    expect(ignoredReason(json)).toContain(reason);
  });
});

describe('parseGripControlMessage: resume fields', () => {
  it.each([
    ['an empty since', '{"type":"subscribe","channel":"a","since":""}', "'since' must be a non-empty item id"],
    ['a numeric since', '{"type":"subscribe","channel":"a","since":41}', "'since' must be a non-empty item id"],
    ['a since over 1,024 bytes', `{"type":"subscribe","channel":"a","since":"${'x'.repeat(1025)}"}`, 'over 1024 bytes'],
    [
      'a non-string recovery-failed',
      '{"type":"subscribe","channel":"a","since":"m","recovery-failed":5}',
      "'recovery-failed' must be a string",
    ],
    [
      'a recovery-failed over one message',
      `{"type":"subscribe","channel":"a","since":"m","recovery-failed":"${'x'.repeat(131_073)}"}`,
      'over 131072 bytes',
    ],
  ])('ignores a subscribe with %s, saying why', (_name, json, reason) => {
    const parsed = parseGripControlMessage(json);
    expect(parsed.kind).toBe('ignored');
    expect(parsed.kind === 'ignored' && parsed.reason).toContain(reason);
  });
});

describe('parseGripControlMessage: keep-alive', () => {
  it.each<[string, string, GripControlMessage]>([
    [
      'the pushpin.org example',
      '{"type": "keep-alive", "content": "{}", "timeout": 30}',
      { type: 'keep-alive', message: { kind: 'text', text: '{}' }, timeoutSeconds: 30, mode: 'idle' },
    ],
    [
      'a numeric-string timeout',
      '{"type":"keep-alive","content":"x","timeout":"30"}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 30, mode: 'idle' },
    ],
    [
      'a padded, signed numeric-string timeout',
      '{"type":"keep-alive","content":"x","timeout":" +45 "}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 45, mode: 'idle' },
    ],
    [
      'the default timeout',
      '{"type":"keep-alive","content":"x"}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'timeout 0 means the default',
      '{"type":"keep-alive","content":"x","timeout":0}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'interval mode',
      '{"type":"keep-alive","content":"x","mode":"interval"}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 55, mode: 'interval' },
    ],
    [
      'an unknown mode is idle (as in Pushpin)',
      '{"type":"keep-alive","content":"x","mode":"sometimes"}',
      { type: 'keep-alive', message: { kind: 'text', text: 'x' }, timeoutSeconds: 55, mode: 'idle' },
    ],
    ['no content turns keep-alives off', '{"type":"keep-alive"}', { type: 'keep-alive', message: null, timeoutSeconds: 55, mode: 'idle' }],
    [
      'no content, with timeout and mode',
      '{"type":"keep-alive","timeout":10,"mode":"interval"}',
      { type: 'keep-alive', message: null, timeoutSeconds: 10, mode: 'interval' },
    ],
    [
      'content-bin is text by default (Pushpin quirk)',
      '{"type":"keep-alive","content-bin":"aGk="}',
      { type: 'keep-alive', message: { kind: 'text', text: 'hi' }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'content-bin wins over content',
      '{"type":"keep-alive","content":"ignored","content-bin":"aGk=","message-type":"binary"}',
      { type: 'keep-alive', message: { kind: 'binary', data: utf8('hi') }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'binary from text content',
      '{"type":"keep-alive","content":"hé","message-type":"binary"}',
      { type: 'keep-alive', message: { kind: 'binary', data: utf8('hé') }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'ping',
      '{"type":"keep-alive","content":"","message-type":"ping"}',
      { type: 'keep-alive', message: { kind: 'ping', data: new Uint8Array(0) }, timeoutSeconds: 55, mode: 'idle' },
    ],
    [
      'pong',
      '{"mode":"interval","message-type":"pong","content-bin":"AAE=","type":"keep-alive","timeout":"5"}',
      { type: 'keep-alive', message: { kind: 'pong', data: new Uint8Array([0, 1]) }, timeoutSeconds: 5, mode: 'interval' },
    ],
    [
      'empty text content is a message',
      '{"type":"keep-alive","content":""}',
      { type: 'keep-alive', message: { kind: 'text', text: '' }, timeoutSeconds: 55, mode: 'idle' },
    ],
  ])('%s', (_name, json, expected) => {
    expect(parsedMessage(json)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['an unknown message-type', '{"type":"keep-alive","content":"x","message-type":"close"}', '\'message-type\' has unknown value "close"'],
    ['content that is not a string', '{"type":"keep-alive","content":5}', "'content' must be a string"],
    ['content-bin that is not a string', '{"type":"keep-alive","content-bin":[1]}', "'content-bin' must be a base64 string"],
    ['content-bin that is not base64', '{"type":"keep-alive","content-bin":"a$b"}', "'content-bin' is not valid base64"],
    ['text content-bin that is not UTF-8', '{"type":"keep-alive","content-bin":"/w=="}', "'content-bin' is not UTF-8"],
    ['a negative timeout', '{"type":"keep-alive","content":"x","timeout":-1}', "'timeout' must be a non-negative integer, got -1"],
    ['a fractional timeout', '{"type":"keep-alive","content":"x","timeout":1.5}', "'timeout' must be a non-negative integer"],
    [
      'a non-numeric timeout string',
      '{"type":"keep-alive","content":"x","timeout":"soon"}',
      '\'timeout\' must be a non-negative integer, got "soon"',
    ],
    ['a boolean timeout', '{"type":"keep-alive","content":"x","timeout":true}', "'timeout' must be a non-negative integer"],
    ['a timeout beyond int32', '{"type":"keep-alive","content":"x","timeout":2147483648}', "'timeout' must be a non-negative integer"],
    ['a mode that is not a string', '{"type":"keep-alive","content":"x","mode":1}', "'mode' must be a string"],
  ])('ignores a keep-alive with %s', (_name, json, reason) => {
    expect(ignoredReason(json)).toContain(reason);
  });
});

describe('parseGripControlMessage: set-meta', () => {
  it.each<[string, string, GripControlMessage]>([
    ['issue #47236 example', '{"type":"set-meta","name":"user","value":"alice"}', { type: 'set-meta', name: 'user', value: 'alice' }],
    ['no value deletes', '{"type":"set-meta","name":"user"}', { type: 'set-meta', name: 'user', value: null }],
    ['a null value deletes', '{"type":"set-meta","name":"user","value":null}', { type: 'set-meta', name: 'user', value: null }],
    ['an empty value is a value', '{"type":"set-meta","name":"user","value":""}', { type: 'set-meta', name: 'user', value: '' }],
  ])('%s', (_name, json, expected) => {
    expect(parsedMessage(json)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['no name', '{"type":"set-meta","value":"x"}', "'name' must be a non-empty string"],
    ['an empty name', '{"type":"set-meta","name":"","value":"x"}', "'name' must be a non-empty string"],
    ['a numeric value', '{"type":"set-meta","name":"n","value":1}', "'value' must be a string"],
  ])('ignores a set-meta with %s', (_name, json, reason) => {
    expect(ignoredReason(json)).toContain(reason);
  });
});

describe('parseGripControlMessage: what is ignored', () => {
  it.each<[string, string, string]>([
    ['bad JSON', '{"type":"subscribe",', 'not valid JSON'],
    ['empty text', '', 'not valid JSON'],
    ['an array', '[{"type":"detach"}]', 'not a JSON object'],
    ['a string', '"detach"', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a missing type', '{"channel":"x"}', "has no 'type'"],
    ['a non-string type', '{"type":1}', "'type' must be a string"],
    ['an unknown type', '{"type":"subscribe-all"}', '\'type\' has unknown value "subscribe-all"'],
    ['a type in the wrong case', '{"type":"Subscribe","channel":"x"}', '\'type\' has unknown value "Subscribe"'],
    ['session (not supported)', '{"type":"session","id":"s1"}', '"session" is not supported'],
    ['send-delayed (not supported)', '{"type":"send-delayed","content":"x"}', '"send-delayed" is not supported'],
    ['flush-delayed (not supported)', '{"type":"flush-delayed"}', '"flush-delayed" is not supported'],
  ])('%s', (_name, json, reason) => {
    expect(ignoredReason(json)).toContain(reason);
  });

  it('never throws on arbitrary text (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.json(), controlishJsonArb), (text) => {
        const result: GripControlParse = parseGripControlMessage(text);
        expect(['control', 'ignored']).toContain(result.kind);
        if (result.kind === 'ignored') expect(result.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 10_000 },
    );
  });
});

/** Objects with a known type and random values for the known keys: reaches every validation branch. */
const controlishJsonArb = fc
  .record(
    {
      type: fc.constantFrom('subscribe', 'unsubscribe', 'detach', 'keep-alive', 'set-meta', 'session', 'bogus'),
      channel: fc.anything(),
      filters: fc.oneof(fc.array(fc.string(), { maxLength: 7 }), fc.anything()),
      content: fc.oneof(fc.string(), fc.anything()),
      'content-bin': fc.oneof(fc.base64String(), fc.string()),
      'message-type': fc.oneof(fc.constantFrom('text', 'binary', 'ping', 'pong'), fc.anything()),
      timeout: fc.oneof(fc.integer(), fc.string(), fc.double()),
      mode: fc.oneof(fc.constantFrom('idle', 'interval'), fc.anything()),
      name: fc.anything(),
      value: fc.anything(),
    },
    { requiredKeys: ['type'] },
  )
  .map((o) => JSON.stringify(o));

const keepAliveMessageArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).map((text) => ({ kind: 'text' as const, text })),
  fc
    .constantFrom('binary' as const, 'ping' as const, 'pong' as const)
    .chain((kind) => fc.uint8Array({ maxLength: 30 }).map((data) => ({ kind, data }))),
);
const channelArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((c) => validateChannel(c).ok);

const controlMessageArb: fc.Arbitrary<GripControlMessage> = fc.oneof(
  fc.record({
    type: fc.constant('subscribe' as const),
    channel: channelArb,
    filters: fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant('unsubscribe' as const), channel: channelArb }),
  fc.constant({ type: 'detach' as const }),
  fc.record({
    type: fc.constant('keep-alive' as const),
    message: fc.option(keepAliveMessageArb, { nil: null }),
    timeoutSeconds: fc.integer({ min: 1, max: 2_147_483_647 }),
    mode: fc.constantFrom('idle' as const, 'interval' as const),
  }),
  fc.record({
    type: fc.constant('set-meta' as const),
    name: fc.string({ minLength: 1, maxLength: 20 }),
    value: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
  }),
);

describe('encodeGripControlMessage', () => {
  it.each<[GripControlMessage, string]>([
    [{ type: 'subscribe', channel: 'room', filters: [] }, '{"type":"subscribe","channel":"room"}'],
    [{ type: 'subscribe', channel: 'room', filters: ['skip-self'] }, '{"type":"subscribe","channel":"room","filters":["skip-self"]}'],
    [{ type: 'unsubscribe', channel: 'room' }, '{"type":"unsubscribe","channel":"room"}'],
    [{ type: 'detach' }, '{"type":"detach"}'],
    [{ type: 'set-meta', name: 'user', value: 'alice' }, '{"type":"set-meta","name":"user","value":"alice"}'],
    [{ type: 'set-meta', name: 'user', value: null }, '{"type":"set-meta","name":"user"}'],
    [
      { type: 'keep-alive', message: { kind: 'text', text: '{}' }, timeoutSeconds: 30, mode: 'idle' },
      '{"type":"keep-alive","content":"{}","message-type":"text","timeout":30,"mode":"idle"}',
    ],
    [
      { type: 'keep-alive', message: { kind: 'ping', data: utf8('hi') }, timeoutSeconds: 20, mode: 'interval' },
      '{"type":"keep-alive","content-bin":"aGk=","message-type":"ping","timeout":20,"mode":"interval"}',
    ],
    [{ type: 'keep-alive', message: null, timeoutSeconds: 55, mode: 'idle' }, '{"type":"keep-alive","timeout":55,"mode":"idle"}'],
  ])('%j', (message, json) => {
    expect(encodeGripControlMessage(message)).toBe(json);
  });

  it('parse(encode(m)) is m for any control message (10,000 runs)', () => {
    fc.assert(
      fc.property(controlMessageArb, (message) => {
        expect(parseGripControlMessage(encodeGripControlMessage(message))).toEqual({ kind: 'control', message });
      }),
      { numRuns: 10_000 },
    );
  });
});
