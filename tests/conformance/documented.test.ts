import { describe, expect, it } from 'vitest';
import { DOCUMENTED, verdictOf } from '#conformance/documented.js';
import { GROUPS } from '#conformance/groups/index.js';

const ids = GROUPS.flatMap((g) => g.scenarios.map((s) => s.id));

describe('conformance scenarios', () => {
  it('have unique ids named after their group', () => {
    expect(new Set(ids).size).toBe(ids.length);
    for (const group of GROUPS) for (const s of group.scenarios) expect(s.id.startsWith(`${group.name}.`)).toBe(true);
  });

  it('documented differences name existing scenarios', () => {
    expect(Object.keys(DOCUMENTED).filter((id) => !ids.includes(id))).toEqual([]);
  });
});

describe('verdictOf', () => {
  const list = { 'g.listed': { reason: 'why', expectUs: 'upstream' }, 'g.any': { reason: 'aws' } };

  it('is same when the outcomes are equal, listed or not', () => {
    expect(verdictOf('g.listed', 'x', 'x', list)).toEqual({ verdict: 'same' });
    expect(verdictOf('g.other', 'x', 'x', list)).toEqual({ verdict: 'same' });
  });

  it('is documented only when our outcome is the listed one', () => {
    expect(verdictOf('g.listed', 'pushpin', 'upstream', list)).toEqual({ verdict: 'documented', reason: 'why' });
    expect(verdictOf('g.listed', 'pushpin', 'something else', list)).toEqual({
      verdict: 'differs',
      reason: 'documented, but we must produce: upstream',
    });
  });

  it('accepts any outcome for an entry without expectUs, and none for an unlisted scenario', () => {
    expect(verdictOf('g.any', 'a', 'b', list)).toEqual({ verdict: 'documented', reason: 'aws' });
    expect(verdictOf('g.other', 'a', 'b', list)).toEqual({ verdict: 'differs' });
  });
});
