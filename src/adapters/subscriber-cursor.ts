import { z } from 'zod';
import { BUCKET_SPACE, bucketKey } from '../domain/channel.js';
import { bucketOfIndexKey } from '../domain/fanout/ranges.js';
import type { BucketRange, StoreError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';

/**
 * The channel-index sort-key bounds that cover exactly the buckets `[from, to)`: `lo` is the bare 4-hex-digit
 * key of `from` (a prefix sorts before every `<from>#…`), `hi` is the key of `to - 1` followed by `$`, which
 * sorts after `#` and so after every `<to-1>#…` but before `<to>#…`. Suitable for `subKey BETWEEN :lo AND :hi`.
 */
export interface IndexKeyBounds {
  readonly lo: string;
  readonly hi: string;
}

/** Checks a bucket range (`0 ≤ from < to ≤ 65,536`, integers) and gives its index-key bounds; `invalid` otherwise. */
export function indexKeyBounds(range: BucketRange): Result<IndexKeyBounds, StoreError> {
  const { from, to } = range;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > BUCKET_SPACE || from >= to) {
    return err({ kind: 'invalid', message: `bucket range [${from}, ${to}) is not within [0, ${BUCKET_SPACE}) with from < to` });
  }
  return ok({ lo: bucketKey(from), hi: `${bucketKey(to - 1)}$` });
}

/** The part of a channel-index `LastEvaluatedKey` a cursor must carry; the channel is known to the caller. */
export interface IndexPosition {
  readonly connectionId: string;
  readonly subKey: string;
}

/** The bucket of an index position (the 4 hex digits its sort key starts with); null for a malformed key. */
export function bucketOfPosition(position: IndexPosition): number | null {
  return bucketOfIndexKey(position.subKey);
}

const positionSchema = z.object({ c: z.string().min(1), k: z.string().min(1) }).strict();

/**
 * Encodes an index position as an opaque cursor: base64url of `{"c": connectionId, "k": subKey}`. The channel
 * is left out (the caller passes it back anyway), which keeps cursors short inside queue messages.
 */
export function encodeSubscriberCursor(position: IndexPosition): string {
  return Buffer.from(JSON.stringify({ c: position.connectionId, k: position.subKey }), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by `encodeSubscriberCursor` and checks that its position lies inside `bounds`, so a
 * cursor from another range cannot skip or repeat buckets. Never throws: anything else is `invalid`.
 */
export function decodeSubscriberCursor(cursor: string, bounds: IndexKeyBounds): Result<IndexPosition, StoreError> {
  const bad = (why: string) => err<StoreError>({ kind: 'invalid', message: `malformed subscriber cursor: ${why}` });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return bad('not base64url');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad('not JSON');
  }
  const parsed = positionSchema.safeParse(json);
  if (!parsed.success) return bad('unexpected shape');
  const { c: connectionId, k: subKey } = parsed.data;
  if (subKey < bounds.lo || subKey > bounds.hi) return bad('position outside the requested bucket range');
  if (!/^[0-9a-f]{4}#/.test(subKey) || !subKey.endsWith(`#${connectionId}`)) return bad('position does not match its connection');
  return ok({ connectionId, subKey });
}
