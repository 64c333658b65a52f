import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKET_SPACE, bucketOf, subscriptionIndexKey } from '#src/domain/channel.js';
import type { BucketRange } from '#src/domain/ports.js';
import {
  bucketOfIndexKey,
  channelOrderKey,
  estimateRemaining,
  splitRemainder,
  subPartitions,
  WHOLE_SPACE,
} from '#src/domain/fanout/ranges.js';
import { tiles } from '#test-helpers/harness.js';

/** A partition as the worker can meet one: the whole space cut `depth` times into `ways` aligned parts. */
const partitionArb = fc
  .record({ ways: fc.integer({ min: 2, max: 64 }), path: fc.array(fc.nat(), { maxLength: 4 }) })
  .map(({ ways, path }) => {
    let partition: BucketRange = WHOLE_SPACE;
    for (const step of path) {
      const parts = subPartitions(partition, ways);
      partition = parts[step % parts.length] ?? partition;
    }
    return { partition, ways };
  });

/** Arbitrary ranges too, not only aligned ones: the cover property must hold for any partition. */
const anyPartitionArb = fc
  .tuple(fc.integer({ min: 0, max: BUCKET_SPACE - 1 }), fc.integer({ min: 1, max: BUCKET_SPACE }))
  .filter(([a, b]) => a < b)
  .map(([from, to]) => ({ from, to }));

describe('subPartitions', () => {
  it('cuts the whole space into equal aligned parts', () => {
    const parts = subPartitions(WHOLE_SPACE, 16);
    expect(parts).toHaveLength(16);
    parts.forEach((p, i) => expect(p).toEqual({ from: i * 4096, to: (i + 1) * 4096 }));
  });

  it('is deterministic, contiguous, and never yields more parts than buckets', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          partitionArb.map((p) => p.partition),
          anyPartitionArb,
        ),
        fc.integer({ min: 1, max: 300 }),
        (partition, ways) => {
          const parts = subPartitions(partition, ways);
          expect(subPartitions(partition, ways)).toEqual(parts);
          expect(parts.length).toBe(Math.min(ways, partition.to - partition.from));
          expect(parts[0]?.from).toBe(partition.from);
          expect(parts[parts.length - 1]?.to).toBe(partition.to);
          for (let i = 1; i < parts.length; i++) expect(parts[i]?.from).toBe(parts[i - 1]?.to);
          for (const p of parts) expect(p.to).toBeGreaterThan(p.from);
        },
      ),
    );
  });

  it('cuts a single bucket into itself', () => {
    expect(subPartitions({ from: 7, to: 8 }, 16)).toEqual([{ from: 7, to: 8 }]);
  });
});

describe('splitRemainder', () => {
  it('matches the documented example', () => {
    const pieces = splitRemainder(WHOLE_SPACE, 300, 'c', 4);
    expect(pieces).toEqual([
      { partition: { from: 0, to: 16384 }, range: { from: 300, to: 16384 }, cursor: 'c' },
      { partition: { from: 16384, to: 32768 }, range: { from: 16384, to: 32768 }, cursor: null },
      { partition: { from: 32768, to: 49152 }, range: { from: 32768, to: 49152 }, cursor: null },
      { partition: { from: 49152, to: 65536 }, range: { from: 49152, to: 65536 }, cursor: null },
    ]);
  });

  it('covers every bucket of [resume, partition.to) exactly once, for any partition, ways and resume point', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          partitionArb,
          anyPartitionArb.chain((partition) => fc.integer({ min: 1, max: 64 }).map((ways) => ({ partition, ways }))),
        ),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        ({ partition, ways }, where) => {
          const resume = partition.from + Math.floor(where * (partition.to - partition.from));
          const pieces = splitRemainder(partition, resume, 'cursor', ways);
          expect(
            tiles(
              pieces.map((p) => p.range),
              resume,
              partition.to,
            ),
          ).toBe(true);
          // The cursor rides only on the piece holding the resume bucket.
          const withCursor = pieces.filter((p) => p.cursor !== null);
          expect(withCursor).toHaveLength(1);
          expect(withCursor[0]?.range.from).toBe(resume);
          // Every piece stays inside its own partition, which is one of the deterministic sub-partitions.
          const allowed = partition.to - partition.from > 1 ? subPartitions(partition, ways) : [partition];
          for (const piece of pieces) {
            expect(allowed).toContainEqual(piece.partition);
            expect(piece.range.from).toBeGreaterThanOrEqual(piece.partition.from);
            expect(piece.range.to).toBe(piece.partition.to);
            expect(piece.range.from).toBeLessThan(piece.range.to);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('continues a single-bucket partition as itself', () => {
    expect(splitRemainder({ from: 9, to: 10 }, 9, 'c', 16)).toEqual([
      { partition: { from: 9, to: 10 }, range: { from: 9, to: 10 }, cursor: 'c' },
    ]);
  });

  it('splits recursively into aligned partitions: a piece’s sub-partitions are the next level of the same grid', () => {
    const [first] = splitRemainder(WHOLE_SPACE, 0, 'c', 16);
    expect(first?.partition).toEqual({ from: 0, to: 4096 });
    const second = splitRemainder(first?.partition ?? WHOLE_SPACE, 100, 'd', 16);
    expect(second.map((p) => p.partition.from % 256)).toEqual(second.map(() => 0));
    expect(second[0]?.partition).toEqual({ from: 0, to: 256 });
  });
});

describe('channelOrderKey', () => {
  it('is the channel for the whole space and the channel plus the partition otherwise', () => {
    expect(channelOrderKey('room', WHOLE_SPACE)).toBe('ch:room');
    expect(channelOrderKey('room', { from: 4096, to: 8192 })).toBe('ch:room#4096-8192');
  });

  it('gives every partition its own group and the same partition the same group', () => {
    const parts = subPartitions(WHOLE_SPACE, 16);
    const keys = parts.map((p) => channelOrderKey('room', p));
    expect(new Set(keys).size).toBe(16);
    expect(parts.map((p) => channelOrderKey('room', { ...p }))).toEqual(keys);
  });
});

describe('estimateRemaining and bucketOfIndexKey', () => {
  it('extrapolates the density of the page over the remaining buckets', () => {
    expect(estimateRemaining(WHOLE_SPACE, 99, 100)).toBe(Math.round((100 / 100) * (BUCKET_SPACE - 99)));
    expect(estimateRemaining({ from: 1000, to: 2000 }, 1000, 10)).toBe(10_000);
    expect(estimateRemaining({ from: 0, to: 10 }, 9, 5)).toBe(1);
  });

  it('reads the bucket from an index sort key', () => {
    const id = 'L0SM9cOFvHcCIhw=';
    expect(bucketOfIndexKey(subscriptionIndexKey(id))).toBe(bucketOf(id));
    expect(bucketOfIndexKey('zz#x')).toBeNull();
    expect(bucketOfIndexKey('')).toBeNull();
  });
});

describe('the tiling check itself', () => {
  it('rejects gaps, overlaps and short covers', () => {
    expect(
      tiles(
        [
          { from: 0, to: 5 },
          { from: 5, to: 10 },
        ],
        0,
        10,
      ),
    ).toBe(true);
    expect(
      tiles(
        [
          { from: 0, to: 4 },
          { from: 5, to: 10 },
        ],
        0,
        10,
      ),
    ).toBe(false);
    expect(
      tiles(
        [
          { from: 0, to: 6 },
          { from: 5, to: 10 },
        ],
        0,
        10,
      ),
    ).toBe(false);
    expect(tiles([{ from: 0, to: 5 }], 0, 10)).toBe(false);
  });
});
