import { describe, expect, it } from 'vitest';
import { contentFiltersOf, filterDelivery, formatProcess, type ItemFilterInput, type SubscriberFilters } from '#src/domain/filters.js';
import { binaryMessage, textMessage, type Payload } from '#src/domain/message.js';
import { decodeBase64 } from '#src/domain/protocol/base64.js';
import { err, ok } from '#src/domain/result.js';

const item = (meta: Record<string, string> = {}, contentFilters: string[] | null = null): ItemFilterInput => ({ meta, contentFilters });
const sub = (names: string[], meta: Record<string, string> = {}, channels?: string[]): SubscriberFilters => ({
  names,
  meta,
  ...(channels ? { channels } : {}),
});
const text = (t: string): Payload => textMessage(t);
const kindOf = (s: SubscriberFilters | undefined, i: ItemFilterInput, p: Payload = text('x')) => filterDelivery(s, i, p).kind;
const sent = (s: SubscriberFilters | undefined, i: ItemFilterInput, p: Payload): Payload => {
  const d = filterDelivery(s, i, p);
  if (d.kind !== 'send') throw new Error(`expected send, got ${d.kind}: ${d.reason}`);
  return d.payload;
};

describe('filterDelivery: delivery filters', () => {
  it('skip-self drops the item for the subscriber whose filter meta user is the sender, nobody else', () => {
    const alice = sub(['skip-self'], { user: 'alice' });
    expect(filterDelivery(alice, item({ sender: 'alice' }), text('x'))).toEqual({ kind: 'drop', reason: 'skip-self: sender is this user' });
    expect(kindOf(sub(['skip-self'], { user: 'bob' }), item({ sender: 'alice' }))).toBe('send');
    // Empty on either side never matches; without the filter the sender gets its own item.
    expect(kindOf(sub(['skip-self'], {}), item({ sender: '' }))).toBe('send');
    expect(kindOf(sub(['skip-self'], { user: '' }), item({ sender: '' }))).toBe('send');
    expect(kindOf(sub([], { user: 'alice' }), item({ sender: 'alice' }))).toBe('send');
    expect(kindOf(undefined, item({ sender: 'alice' }))).toBe('send');
  });

  it('skip-users splits skip_users on commas, trims each name and ignores empty ones', () => {
    const names = ['skip-users'];
    expect(kindOf(sub(names, { user: 'alice' }), item({ skip_users: ' carol, alice ' }))).toBe('drop');
    expect(kindOf(sub(names, { user: 'bob' }), item({ skip_users: ' carol, alice ' }))).toBe('send');
    expect(kindOf(sub(names, { user: '' }), item({ skip_users: ',,' }))).toBe('send');
    expect(kindOf(sub(names, { user: 'al' }), item({ skip_users: 'alice' }))).toBe('send');
  });

  it('require-sub drops unless the connection is subscribed to the channel the item names', () => {
    const names = ['require-sub'];
    expect(kindOf(sub(names, {}, ['room', 'vip']), item({ require_sub: 'vip' }))).toBe('send');
    expect(kindOf(sub(names, {}, ['room']), item({ require_sub: 'vip' }))).toBe('drop');
    // No channel list carried (as Pushpin 1.36 gives WebSocket subscribers): every naming item drops.
    expect(kindOf(sub(names), item({ require_sub: 'vip' }))).toBe('drop');
    expect(kindOf(sub(names, {}, ['room']), item({}))).toBe('send');
  });

  it('skips unknown filter names and stops at the first drop, before a later filter could fail', () => {
    expect(kindOf(sub(['no-such-filter']), item({ sender: 'a' }))).toBe('send');
    const s = sub(['skip-self', 'var-subst'], { user: 'a' });
    expect(kindOf(s, item({ sender: 'a' }), text('%(missing)s'))).toBe('drop');
    expect(kindOf(s, item({ sender: 'b' }), text('%(missing)s'))).toBe('error');
  });
});

describe('filterDelivery: content filters', () => {
  it('var-subst replaces %(name)s from filter meta and %% with %; an unknown variable is an error', () => {
    const s = sub(['var-subst'], { name: 'Alice' });
    expect(sent(s, item(), text('hi %(name)s 100%%'))).toEqual(text('hi Alice 100%'));
    expect(filterDelivery(s, item(), text('bad %(nope)s'))).toEqual({
      kind: 'error',
      reason: "var-subst: No such variable 'nope' at position 11",
    });
    for (const bad of ['50%', '%d', '%()s', '%(name)', '%(name', '% x']) expect(kindOf(s, item(), text(bad))).toBe('error');
  });

  it('returns the same payload object when nothing rewrote it, a new one when a content filter did', () => {
    const payload = text('plain');
    expect(sent(sub(['skip-self'], { user: 'a' }), item(), payload)).toBe(payload);
    expect(sent(sub(['var-subst']), item(), payload)).toEqual(payload);
  });

  it('rewrites binary content byte by byte, with meta values as UTF-8', () => {
    const payload = binaryMessage(new Uint8Array([0xff, 0x25, 0x28, 0x6e, 0x29, 0x73, 0x00])); // ÿ %(n)s \0
    const out = sent(sub(['var-subst'], { n: 'é' }), item(), payload);
    expect(out.kind).toBe('binary');
    if (out.kind === 'binary') expect([...(decodeBase64(out.base64) ?? [])]).toEqual([0xff, 0xc3, 0xa9, 0x00]);
  });

  it('never rewrites a close', () => {
    const close: Payload = { kind: 'close', code: 4000 };
    expect(sent(sub(['var-subst']), item(), close)).toBe(close);
  });

  it('build-id needs id_format; %(x)I gives x, %I the rendered id_format, id_encoding hex hex-encodes', () => {
    expect(filterDelivery(sub(['build-id']), item(), text('%I'))).toEqual({ kind: 'error', reason: "build-id: no sub meta 'id_format'" });
    expect(sent(sub(['build-id'], { id_format: 'fmt' }), item(), text('id=%(abc)I'))).toEqual(text('id=abc'));
    expect(sent(sub(['build-id'], { id_format: '100%%' }), item(), text('<%I>'))).toEqual(text('<100%>'));
    expect(sent(sub(['build-id'], { id_format: 'f', id_encoding: 'hex' }), item(), text('%(AB)I'))).toEqual(text('4142'));
    // WebSocket subscriptions have no last ids to render into id_format; other encodings are refused.
    expect(kindOf(sub(['build-id'], { id_format: '%(ch)s' }), item(), text('%I'))).toBe('error');
    expect(kindOf(sub(['build-id'], { id_format: 'f', id_encoding: 'b64' }), item(), text('%I'))).toBe('error');
    expect(kindOf(sub(['build-id'], { id_format: 'f' }), item(), text('%s'))).toBe('error');
  });

  it('applies content filters in list order, each to the output of the one before', () => {
    const s = sub(['var-subst', 'build-id'], { v: '%(x)I', id_format: 'f' });
    expect(sent(s, item(), text('%(v)s'))).toEqual(text('x'));
  });

  it("an item's content-filters must equal the subscriber's content filters, in order", () => {
    expect(contentFiltersOf(['skip-self', 'var-subst', 'x', 'build-id'])).toEqual(['var-subst', 'build-id']);
    expect(kindOf(undefined, item({}, []))).toBe('send');
    expect(kindOf(undefined, item({}, ['var-subst']))).toBe('drop');
    expect(kindOf(sub(['skip-self']), item({}, []))).toBe('send');
    expect(kindOf(sub(['var-subst']), item({}, []))).toBe('drop');
    expect(sent(sub(['var-subst'], { n: 'Bo' }), item({}, ['var-subst']), text('tpl %(n)s'))).toEqual(text('tpl Bo'));
    expect(kindOf(sub(['build-id', 'var-subst']), item({}, ['var-subst', 'build-id']))).toBe('drop');
  });
});

describe('formatProcess', () => {
  const echo = (type: string, arg: string | null) => ok(`[${type}:${arg ?? '-'}]`);

  it('passes text through, expands directives, unescapes inside fields', () => {
    expect(formatProcess('a %x %(k)y %(a\\)b)z %%', echo)).toEqual(ok('a [x:-] [y:k] [z:a)b] %'));
    expect(formatProcess('', echo)).toEqual(ok(''));
  });

  it('names the position of what is wrong', () => {
    expect(formatProcess('ab%', echo)).toEqual(err("Expected directive after '%' at position 2"));
    expect(formatProcess('%(ab', echo)).toEqual(err('Unterminated field starting at position 1'));
    expect(formatProcess('%(a)', echo)).toEqual(err("Expected directive after ')' at position 3"));
    expect(formatProcess('%1', echo)).toEqual(err("Unknown directive '1' at position 1"));
    expect(formatProcess('x%q', () => err('no'))).toEqual(err('no at position 2'));
  });
});
