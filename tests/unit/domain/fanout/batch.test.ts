import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { DONE, failed, runInFifoGroups, type JobResult } from '#src/domain/fanout/batch.js';
import { RecordingLog } from '#test-helpers/fakes.js';

const record = (id: string, group: string | null) => ({ id, group });

/** Runs `records`, failing the ids in `failing`, and returns the order they ran in and the failed ids. */
async function run(records: readonly { id: string; group: string | null }[], failing: readonly string[] = [], concurrency = 10) {
  const ran: string[] = [];
  const log = new RecordingLog();
  const failedIds = await runInFifoGroups(
    pLimit(concurrency),
    records,
    async (r): Promise<JobResult> => {
      ran.push(r.id);
      await Promise.resolve();
      return failing.includes(r.id) ? failed(`${r.id} broke`) : DONE;
    },
    log,
  );
  return { ran, failedIds, log };
}

describe('runInFifoGroups', () => {
  it('runs the records of one group in the order given', async () => {
    const { ran, failedIds } = await run([record('a1', 'a'), record('b1', 'b'), record('a2', 'a'), record('a3', 'a')], [], 1);
    expect(ran.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(failedIds).toEqual([]);
  });

  it('fails the rest of a group, unrun, once one of its records fails; other groups go on', async () => {
    const { ran, failedIds, log } = await run(
      [record('a1', 'a'), record('a2', 'a'), record('a3', 'a'), record('b1', 'b'), record('b2', 'b')],
      ['a2'],
    );
    expect(ran).not.toContain('a3');
    expect(ran).toEqual(expect.arrayContaining(['a1', 'a2', 'b1', 'b2']));
    expect(failedIds.sort()).toEqual(['a2', 'a3']);
    expect(log.find('warn', 'a2')).toHaveLength(1);
    expect(log.at('warn')[0]?.attributes['following']).toBe(1);
  });

  it('treats every record without a group as a group of its own', async () => {
    const { ran, failedIds } = await run([record('x', null), record('y', null), record('z', null)], ['x']);
    expect(ran.sort()).toEqual(['x', 'y', 'z']);
    expect(failedIds).toEqual(['x']);
  });

  it('runs at most `limit` groups at once', async () => {
    let inFlight = 0;
    let most = 0;
    const records = Array.from({ length: 12 }, (_, i) => record(`r${i}`, `g${i}`));
    await runInFifoGroups(
      pLimit(3),
      records,
      async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return DONE;
      },
      new RecordingLog(),
    );
    expect(most).toBe(3);
  });
});
