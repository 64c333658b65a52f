import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bucketOfPosition, decodeSubscriberCursor, encodeSubscriberCursor, indexKeyBounds } from '#src/adapters/subscriber-cursor.js';
import { BUCKET_SPACE, bucketKey, bucketOf, subscriptionIndexKey } from '#src/domain/channel.js';

const WHOLE = { from: 0, to: BUCKET_SPACE };

/** Compares strings by UTF-8 bytes, as DynamoDB orders sort keys. */
const byteCompare = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('indexKeyBounds', () => {
  it('covers exactly the buckets of the range, in DynamoDB byte order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: BUCKET_SPACE - 1 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.string({ minLength: 1, maxLength: 30 }),
        (from, width, id) => {
          const to = Math.min(BUCKET_SPACE, from + width);
          const b = indexKeyBounds({ from, to });
          if (!b.ok) return false;
          const key = subscriptionIndexKey(id);
          const inside = byteCompare(key, b.value.lo) >= 0 && byteCompare(key, b.value.hi) <= 0;
          const bucket = bucketOf(id);
          return inside === (bucket >= from && bucket < to);
        },
      ),
    );
  });

  it('puts the edges of neighbouring buckets on the right side', () => {
    const b = indexKeyBounds({ from: 16, to: 32 });
    expect(b).toEqual({ ok: true, value: { lo: '0010', hi: '001f$' } });
    if (!b.ok) return;
    expect(byteCompare(`${bucketKey(15)}#zzzz`, b.value.lo)).toBeLessThan(0);
    expect(byteCompare(`${bucketKey(16)}#`, b.value.lo)).toBeGreaterThan(0);
    expect(byteCompare(`${bucketKey(31)}#\u{10FFFF}`, b.value.hi)).toBeLessThan(0);
    expect(byteCompare(`${bucketKey(32)}#`, b.value.hi)).toBeGreaterThan(0);
  });

  it('rejects empty, reversed, fractional and out-of-space ranges', () => {
    for (const r of [
      { from: 3, to: 3 },
      { from: 4, to: 3 },
      { from: -1, to: 2 },
      { from: 0, to: BUCKET_SPACE + 1 },
      { from: 0.5, to: 2 },
    ]) {
      expect(indexKeyBounds(r)).toMatchObject({ ok: false, error: { kind: 'invalid' } });
    }
  });
});

describe('subscriber cursors', () => {
  const bounds = indexKeyBounds(WHOLE);
  if (!bounds.ok) throw new Error('bad bounds');

  it('round-trip any connection id as an opaque base64url string', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 100 }), (id) => {
        const position = { connectionId: id, subKey: subscriptionIndexKey(id) };
        const cursor = encodeSubscriberCursor(position);
        return (
          /^[A-Za-z0-9_-]+$/.test(cursor) &&
          JSON.stringify(decodeSubscriberCursor(cursor, bounds.value)) === JSON.stringify({ ok: true, value: position })
        );
      }),
    );
  });

  it('gives the bucket of a position', () => {
    expect(bucketOfPosition({ connectionId: 'a', subKey: subscriptionIndexKey('a') })).toBe(bucketOf('a'));
  });

  it('rejects malformed cursors as invalid without throwing', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const bad = [
      '',
      'has space',
      '!!!',
      Buffer.from('not json').toString('base64url'),
      enc(null),
      enc([1, 2]),
      enc({ c: 'a' }),
      enc({ c: 'a', k: 'b', extra: 1 }),
      enc({ c: 'a', k: 7 }),
      enc({ c: 'a', k: `${subscriptionIndexKey('b')}` }),
      enc({ c: 'a', k: 'zzzz#a' }),
    ];
    for (const cursor of bad) {
      expect(decodeSubscriberCursor(cursor, bounds.value)).toMatchObject({
        ok: false,
        error: { kind: 'invalid', message: expect.stringMatching(/malformed subscriber cursor/) },
      });
    }
  });

  it('rejects a cursor whose position lies outside the requested range', () => {
    const id = 'conn-1';
    const bucket = bucketOf(id);
    const cursor = encodeSubscriberCursor({ connectionId: id, subKey: subscriptionIndexKey(id) });
    const outside = bucket > 0 ? { from: 0, to: bucket } : { from: 1, to: BUCKET_SPACE };
    const b = indexKeyBounds(outside);
    if (!b.ok) throw new Error('bad bounds');
    expect(decodeSubscriberCursor(cursor, b.value)).toMatchObject({ ok: false, error: { kind: 'invalid' } });
    const own = indexKeyBounds({ from: bucket, to: bucket + 1 });
    if (!own.ok) throw new Error('bad bounds');
    expect(decodeSubscriberCursor(cursor, own.value).ok).toBe(true);
  });
});
