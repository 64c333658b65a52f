import { BUCKET_SPACE } from '../channel.js';
import type { BucketRange } from '../ports.js';

/**
 * How a channel's bucket space is cut into parallel jobs.
 *
 * Every job belongs to a *partition*: an aligned range obtained by cutting the whole space into `ways` equal
 * parts, then cutting a part into `ways` again, and so on. Because the cuts are deterministic, two publishes to
 * the same channel produce the same partitions, and each partition is one ordered queue group: a connection sees
 * the messages of one publisher in order even when a big channel is delivered by many workers at once.
 */

export const WHOLE_SPACE: BucketRange = { from: 0, to: BUCKET_SPACE };

/** The `ways` aligned sub-partitions of `partition` (fewer when the partition has fewer buckets than `ways`). */
export function subPartitions(partition: BucketRange, ways: number): BucketRange[] {
  const size = partition.to - partition.from;
  const parts = Math.max(1, Math.min(ways, size));
  const out: BucketRange[] = [];
  for (let i = 0; i < parts; i++) {
    const from = partition.from + Math.floor((i * size) / parts);
    const to = partition.from + Math.floor(((i + 1) * size) / parts);
    if (to > from) out.push({ from, to });
  }
  return out;
}

/** A piece of remaining work: the part of `partition` from bucket `range.from` on, resuming after `cursor`. */
export interface RangeJobSpec {
  readonly partition: BucketRange;
  readonly range: BucketRange;
  /** Set only on the piece that contains the bucket where the previous page stopped. */
  readonly cursor: string | null;
}

/**
 * Splits what remains of `partition` — everything from `resumeBucket` on, where the piece holding `resumeBucket`
 * continues after `cursor` — into jobs over its aligned sub-partitions. Together the pieces cover every bucket
 * in `[resumeBucket, partition.to)` exactly once. A partition of a single bucket cannot be cut: the result is
 * one continuation of it.
 *
 * @example
 * splitRemainder({ from: 0, to: 65536 }, 300, 'c', 4)
 * // [{ partition: {0,16384}, range: {300,16384}, cursor: 'c' }, { partition: {16384,32768}, range: same, cursor: null }, …]
 */
export function splitRemainder(partition: BucketRange, resumeBucket: number, cursor: string | null, ways: number): RangeJobSpec[] {
  const out: RangeJobSpec[] = [];
  const parts = partition.to - partition.from > 1 ? subPartitions(partition, ways) : [partition];
  for (const part of parts) {
    if (part.to <= resumeBucket) continue;
    const holdsResume = part.from <= resumeBucket;
    out.push({
      partition: part,
      range: { from: Math.max(part.from, resumeBucket), to: part.to },
      cursor: holdsResume ? cursor : null,
    });
  }
  return out;
}

/**
 * The ordering group of a job: the channel for the whole space, the channel plus the partition otherwise.
 * Queue group ids allow 128 characters, so long channel names are hashed by the queue adapter, not here.
 */
export function channelOrderKey(channel: string, partition: BucketRange): string {
  if (partition.from === WHOLE_SPACE.from && partition.to === WHOLE_SPACE.to) return `ch:${channel}`;
  return `ch:${channel}#${partition.from}-${partition.to}`;
}

/** The ordering group of jobs for one connection (its OPEN reply, sends and closes addressed to it). */
export function connectionOrderKey(connectionId: string): string {
  return `conn:${connectionId}`;
}

/**
 * Estimates how many subscribers remain after a page, from how many buckets the page covered: the index spreads
 * connections uniformly over buckets, so density × remaining buckets is a fair guess.
 */
export function estimateRemaining(range: BucketRange, resumeBucket: number, pageCount: number): number {
  const covered = Math.max(1, resumeBucket - range.from + 1);
  return Math.round((pageCount / covered) * (range.to - resumeBucket));
}

/** The bucket a cursor's next page starts in, decoded from the index sort key `<hex4>#<connectionId>`. */
export function bucketOfIndexKey(subKey: string): number | null {
  const hex = subKey.slice(0, 4);
  if (!/^[0-9a-f]{4}$/.test(hex)) return null;
  return parseInt(hex, 16);
}
