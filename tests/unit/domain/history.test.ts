import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSequence,
  decideResume,
  deliversLive,
  isSequence,
  sequenceFromSortable,
  sortableSequence,
  type HistoryEntry,
} from '#src/domain/history.js';

const entry = (sequence: string, id = `id-${sequence}`): HistoryEntry => ({
  channel: 'room',
  sequence,
  id,
  publishedAt: 1,
  message: { kind: 'text', text: id },
  expiresAt: 2,
});

describe('sequences', () => {
  it('order as the numbers they are, whatever their length or leading zeros', () => {
    expect(compareSequence('99', '100')).toBeLessThan(0);
    expect(compareSequence('18849496460467696128', '18849496460467696127')).toBeGreaterThan(0);
    expect(compareSequence('00000000000000000012', '12')).toBe(0);
    expect(compareSequence('0', '00')).toBe(0);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), (a, b) => {
        expect(Math.sign(compareSequence(a.toString(), b.toString()))).toBe(a < b ? -1 : a > b ? 1 : 0);
        // The sortable form sorts as text in the same order and reads back to the same number.
        const [x, y] = [sortableSequence(a.toString()), sortableSequence(b.toString())];
        expect(Math.sign(x < y ? -1 : x > y ? 1 : 0)).toBe(a < b ? -1 : a > b ? 1 : 0);
        expect(sequenceFromSortable(x)).toBe(a.toString());
      }),
    );
  });

  it('are 1 to 40 digits', () => {
    expect(isSequence('0')).toBe(true);
    expect(isSequence('9'.repeat(40))).toBe(true);
    expect(isSequence('')).toBe(false);
    expect(isSequence('9'.repeat(41))).toBe(false);
    expect(isSequence('12a')).toBe(false);
  });
});

describe('deliversLive', () => {
  it('skips a subscription catching up, and after a resume only delivers later items', () => {
    expect(deliversLive({ resume: 'token' }, '500')).toBe(false);
    expect(deliversLive({ liveAfter: '500' }, '480')).toBe(false);
    expect(deliversLive({ liveAfter: '500' }, '500')).toBe(false);
    expect(deliversLive({ liveAfter: '500' }, '501')).toBe(true);
    expect(deliversLive({}, '1')).toBe(true);
  });

  it('delivers an item whose sequence is unknown (a duplicate beats a loss)', () => {
    expect(deliversLive({ liveAfter: '500' }, undefined)).toBe(true);
    expect(deliversLive({ resume: 'token' }, undefined)).toBe(false);
  });
});

describe('decideResume', () => {
  const config = { ttlMs: 3_600_000, maxItems: 3 };

  it('replays what history holds after since', () => {
    expect(decideResume(config, 'id-1', '1', [entry('2'), entry('3')])).toEqual({ kind: 'replay', items: [entry('2'), entry('3')] });
    expect(decideResume(config, 'id-1', '1', [])).toEqual({ kind: 'replay', items: [] });
  });

  it('fails when history is off, since is unknown, or more than maxItems were published after it', () => {
    expect(decideResume({ ...config, ttlMs: 0 }, 'id-1', '1', [])).toMatchObject({ kind: 'failed', reason: 'history-off' });
    expect(decideResume(config, 'gone', null, [])).toMatchObject({ kind: 'failed', reason: 'since-unknown' });
    expect(decideResume(config, 'id-1', '1', [entry('2'), entry('3'), entry('4'), entry('5')])).toMatchObject({
      kind: 'failed',
      reason: 'too-far-behind',
    });
    // Exactly maxItems behind is still a replay.
    expect(decideResume(config, 'id-1', '1', [entry('2'), entry('3'), entry('4')]).kind).toBe('replay');
  });
});
