/** The composition root of `fanout-worker`: the Lambda entry and local mode's queue pollers both call it. */
import { fanoutConfigFromSettings } from '../domain/fanout/worker.js';
import type { WorkerHandler } from '../handlers/aws-events.js';
import { createWorkerOn, makeWorkerHandler } from '../handlers/fanout-worker.js';
import type { FunctionResources } from './resources.js';

export interface FanoutWorkerOptions {
  /** Invocation time kept for handing over a continuation (the page in flight and the queue call). Default 10,000. */
  readonly reserveMs?: number;
}

export function composeFanoutWorker(r: FunctionResources<'fanout-worker'>, options: FanoutWorkerOptions = {}): WorkerHandler {
  const { store, queue, sender, log, metrics, history } = r;
  // Keep-Alive-Interval polls and publish refreshes become requests on the connections' ordered lane.
  const worker = createWorkerOn({
    store,
    history,
    queue,
    sender,
    polls: r.lane,
    log,
    metrics,
    config: fanoutConfigFromSettings(r.settings, options.reserveMs ?? 10_000),
  });
  return makeWorkerHandler(worker, r.afterEach, { scheduler: queue, log });
}
