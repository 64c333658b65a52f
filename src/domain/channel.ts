import { utf8ByteLength } from './protocol/values.js';
import { err, ok, type Result } from './result.js';

/**
 * The sort-key value of the one item per connection that holds its record (handshake, meta, grip mode).
 * Subscription items use the channel name as their sort key, so this value can never be a channel.
 */
export const CONNECTION_ITEM_SORT_KEY = '$connection';

/** Longest channel name accepted, in UTF-8 bytes. DynamoDB keys allow 1,024; Pushpin has no limit; 256 is ample. */
export const MAX_CHANNEL_BYTES = 256;

export interface ChannelNameError {
  readonly kind: 'invalid-channel';
  readonly message: string;
}

/**
 * Checks a channel name from a backend or a publisher: a non-empty string of at most 256 UTF-8 bytes, without
 * control characters, and not the reserved `$connection` value.
 *
 * @example
 * validateChannel('room-1') // { ok: true, value: 'room-1' }
 */
export function validateChannel(channel: unknown): Result<string, ChannelNameError> {
  if (typeof channel !== 'string') return err({ kind: 'invalid-channel', message: 'channel must be a string' });
  if (channel.length === 0) return err({ kind: 'invalid-channel', message: 'channel must not be empty' });
  if (utf8ByteLength(channel) > MAX_CHANNEL_BYTES) {
    return err({ kind: 'invalid-channel', message: `channel must be at most ${MAX_CHANNEL_BYTES} bytes of UTF-8` });
  }
  if (channel === CONNECTION_ITEM_SORT_KEY) {
    return err({ kind: 'invalid-channel', message: `channel ${JSON.stringify(CONNECTION_ITEM_SORT_KEY)} is reserved` });
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is rejected
  if (/[\u0000-\u001f\u007f]/.test(channel)) {
    return err({ kind: 'invalid-channel', message: 'channel must not contain control characters' });
  }
  return ok(channel);
}

/**
 * The channel index spreads a channel's subscribers over a fixed space of 65,536 hash buckets: the index sort
 * key is `<bucket as 4 hex digits>#<connectionId>`. Fan-out jobs page disjoint bucket ranges in parallel, and
 * how finely a job splits the space is configuration that can change at any time without rewriting items.
 */
export const BUCKET_SPACE = 0x10000;

/** The bucket of a connection: FNV-1a (32-bit) of its id, folded to 16 bits. Stable across versions. */
export function bucketOf(connectionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return ((hash >>> 16) ^ (hash & 0xffff)) & 0xffff;
}

/** The channel-index sort key of a connection's subscription: `<bucket hex4>#<connectionId>`. */
export function subscriptionIndexKey(connectionId: string): string {
  return `${bucketKey(bucketOf(connectionId))}#${connectionId}`;
}

/** The 4-hex-digit form of a bucket number (0 ≤ bucket < 65,536); range bounds use it too. */
export function bucketKey(bucket: number): string {
  return bucket.toString(16).padStart(4, '0');
}
