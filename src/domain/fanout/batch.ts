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
    for (let i = 0; i < group.length; i++) {
      const record = group[i];
      if (record === undefined) continue;
      const result = await run(record);
      if (!result.ok) {
        log.warn('job failed; it and the rest of its group go back to the queue', {
          jobId: record.id,
          reason: result.reason,
          following: group.length - i - 1,
        });
        for (const rest of group.slice(i)) failedIds.push(rest.id);
        return;
      }
    }
  });
  return failedIds;
}
