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

describe('runInFifoGroups: commuting records', () => {
  /** Records named `<key>:<n>` commute when their keys differ; `x…` records never do. Logs start and end events. */
  async function runSteps(ids: readonly string[], failing: readonly string[] = []) {
    const events: string[] = [];
    const failedIds = await runInFifoGroups(
      pLimit(10),
      ids.map((id) => record(id, 'g')),
      async (r): Promise<JobResult> => {
        events.push(`start ${r.id}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        events.push(`end ${r.id}`);
        return failing.includes(r.id) ? failed(`${r.id} broke`) : DONE;
      },
      new RecordingLog(),
      (r) => (r.id.startsWith('x') ? null : (r.id.split(':')[0] ?? null)),
    );
    return { events, failedIds };
  }

  it('runs consecutive records with distinct keys at once, and never across a record without a key', async () => {
    const { events } = await runSteps(['a:1', 'b:1', 'c:1', 'x1', 'a:2']);
    // a:1, b:1 and c:1 all start before any ends; x1 starts after they all ended; a:2 after x1.
    expect(events.slice(0, 3).sort()).toEqual(['start a:1', 'start b:1', 'start c:1']);
    expect(events.indexOf('start x1')).toBeGreaterThan(
      Math.max(events.indexOf('end a:1'), events.indexOf('end b:1'), events.indexOf('end c:1')),
    );
    expect(events.indexOf('start a:2')).toBeGreaterThan(events.indexOf('end x1'));
  });

  it('starts a new step at a repeated key (the same connection twice keeps its order)', async () => {
    const { events } = await runSteps(['a:1', 'b:1', 'a:2']);
    expect(events.indexOf('start a:2')).toBeGreaterThan(events.indexOf('end a:1'));
  });

  it('a failure in a step fails that record and the rest of the group; the others of the step are done', async () => {
    const { failedIds } = await runSteps(['a:1', 'b:1', 'c:1', 'x1', 'd:1'], ['b:1']);
    expect(failedIds.sort()).toEqual(['b:1', 'd:1', 'x1']);
  });
});
