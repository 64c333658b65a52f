import type { LimitFunction } from 'p-limit';
import type { Log } from '../ports.js';

/** What became of one job: done (whatever it delivered), or failed and to be retried by the queue. */
export type JobResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export const DONE: JobResult = { ok: true };
export const failed = (reason: string): JobResult => ({ ok: false, reason });

/** A queue record as the batch loop needs it: an id, and its FIFO group (null on an unordered lane). */
export interface GroupedRecord {
  readonly id: string;
  readonly group: string | null;
}

/**
 * Runs a batch of queue records the way a FIFO queue requires: the records of one message group in the order
 * given, one after another; different groups (and every record without a group) concurrently, at most as many
 * at once as `limit` allows. Once a record fails, the rest of its group is not run and fails with it, so a
 * retried record is never overtaken by a later one of its group.
 *
 * `concurrentKey` names records that commute with each other: consecutive records of a group whose keys are all
 * non-null and distinct run at once, as one step (a channel's catch-up jobs for different connections, which
 * would otherwise hold the channel one replay after another). A record that fails in such a step fails with the
 * rest of its group; the others of the step are done.
 *
 * Returns the ids of the failed records (to hand back to the queue), in no particular order. `run` must not
 * throw (the worker catches per job); if it does, the promise rejects.
 *
 * @example
 * const failedIds = await runInFifoGroups(pLimit(10), records, (record) => runJob(record), log);
 */
export async function runInFifoGroups<R extends GroupedRecord>(
  limit: LimitFunction,
  records: readonly R[],
  run: (record: R) => Promise<JobResult>,
  log: Log,
  concurrentKey: (record: R) => string | null = () => null,
): Promise<string[]> {
  const groups = new Map<string, R[]>();
  for (const record of records) {
    const key = record.group ?? `record:${record.id}`;
    const list = groups.get(key);
    if (list) list.push(record);
    else groups.set(key, [record]);
  }
  const failedIds: string[] = [];
  await limit.map([...groups.values()], async (group) => {
    for (const [start, step] of steps(group, concurrentKey)) {
      const results = await Promise.all(step.map((record) => run(record)));
      const firstFailed = results.findIndex((r) => !r.ok);
      if (firstFailed === -1) continue;
      const failedInStep = step.filter((_, i) => !results[i]?.ok);
      const rest = group.slice(start + step.length);
      const first = results[firstFailed];
      log.warn('job failed; it and the rest of its group go back to the queue', {
        jobId: step[firstFailed]?.id,
        reason: first !== undefined && !first.ok ? first.reason : 'unknown',
        following: failedInStep.length - 1 + rest.length,
      });
      for (const record of [...failedInStep, ...rest]) failedIds.push(record.id);
      return;
    }
  });
  return failedIds;
}

/** A group cut into steps (with where each starts): runs of commuting records, every other record alone. */
function steps<R>(group: readonly R[], concurrentKey: (record: R) => string | null): [number, R[]][] {
  const out: [number, R[]][] = [];
  let keys = new Set<string>();
  group.forEach((record, i) => {
    const key = concurrentKey(record);
    const last = out[out.length - 1];
    if (key !== null && last !== undefined && keys.size > 0 && !keys.has(key)) {
      last[1].push(record);
      keys.add(key);
      return;
    }
    out.push([i, [record]]);
    keys = key === null ? new Set() : new Set([key]);
  });
  return out;
}
