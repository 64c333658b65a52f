import type { LimitFunction } from 'p-limit';
import type { ClientMessageLane, CloseRequest, ConnectionSender, Metrics, SendOutcome } from '../ports.js';
import { fullJitterDelay } from '../backoff.js';
import { wireData, type Payload } from '../message.js';
import type { AdaptiveConcurrency } from './rate.js';

export interface DeliveryTools {
  readonly sender: ConnectionSender;
  /** Where a `refresh` payload goes: an empty request on the connection's ordered lane. */
  readonly polls: ClientMessageLane;
  readonly metrics: Metrics;
  /** The worker's one limiter: every call to the sender goes through it, whatever job it belongs to. */
  readonly limit: LimitFunction;
  readonly rate: AdaptiveConcurrency;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly retry: {
    /** Tries per payload inside the job (the first try included) before the connection is handed back for later. */
    readonly inJobAttempts: number;
    readonly baseMs: number;
    readonly maxMs: number;
  };
}

/** A connection whose remaining payloads could not be delivered now; `reason` is the last failure. */
export interface Deferred {
  readonly connectionId: string;
  readonly payloads: readonly Payload[];
  readonly reason: string;
}

export interface DeliveryReport {
  delivered: number;
  /** Connections API Gateway no longer knows (410): their items are to be deleted. Not failures. */
  readonly gone: string[];
  /** Throttled or failed retryably on every in-job try: retry later with the remaining payloads. */
  readonly deferred: Deferred[];
  /** Payloads that can never be delivered (413: too large; 400: the connection's calls are invalid), skipped with the reason. */
  readonly rejected: { readonly connectionId: string; readonly reason: string }[];
  /** A failure that no retry of single deliveries fixes (e.g. 403: this worker may not call the API). */
  fatal: string | null;
}

export function emptyReport(): DeliveryReport {
  return { delivered: 0, gone: [], deferred: [], rejected: [], fatal: null };
}

/**
 * Delivers `payloads`, in order, to each connection, all connections concurrently within the worker's limiter.
 * Per connection: a 429 or a retryable failure is retried with full-jitter backoff up to `inJobAttempts` times
 * (a 429 also shrinks the worker's window); what still fails is deferred with the payloads not yet delivered; a
 * 410 marks the connection gone — unless the connection's grace (`graceUntil`: one time for all, or per
 * connection) is in the future, when it means "handshake not complete yet" (API Gateway answers 410 until
 * `$connect` has returned) and is retried until then, or until `stillJoining` (asked before each such retry)
 * says the connection has already left; a 413 skips that payload. A close payload ends the connection's sequence.
 * `payloadsOf` gives some connections their own payloads instead (publish filters that rewrote the content for
 * them).
 *
 * Never throws for delivery outcomes; the report says what happened to every connection.
 */
export async function deliver(
  tools: DeliveryTools,
  connectionIds: readonly string[],
  payloads: readonly Payload[],
  report: DeliveryReport,
  options: {
    readonly graceUntil?: number | ((connectionId: string) => number | undefined);
    /** False once a connection within its grace is known to have left (its record deleted by `$disconnect`). */
    readonly stillJoining?: (connectionId: string) => Promise<boolean>;
    readonly payloadsOf?: ReadonlyMap<string, readonly Payload[]>;
  } = {},
): Promise<DeliveryReport> {
  const { graceUntil, stillJoining, payloadsOf } = options;
  const graceOf = typeof graceUntil === 'function' ? graceUntil : () => graceUntil;
  const steps = payloads.map(stepOf);
  // A throw (an adapter bug) must not reject while other deliveries keep running in the background, past the
  // end of the job: mark the report fatal so queued ones do not start, let started ones finish, then rethrow.
  const thrown: unknown[] = [];
  await tools.limit.map(connectionIds, async (id) => {
    try {
      const own = payloadsOf?.get(id);
      if (own === undefined) await deliverToOne(tools, id, payloads, steps, report, graceOf(id), stillJoining);
      else await deliverToOne(tools, id, own, own.map(stepOf), report, graceOf(id), stillJoining);
    } catch (error) {
      thrown.push(error);
      report.fatal ??= 'a delivery threw';
    }
  });
  if (thrown.length > 0) throw thrown[0];
  return report;
}

/** A payload as it goes to the sender, worked out once per job rather than once per connection. */
type Step =
  | { readonly kind: 'post'; readonly data: string | Uint8Array }
  | { readonly kind: 'close'; readonly request: CloseRequest }
  | { readonly kind: 'refresh' }
  | { readonly kind: 'invalid'; readonly reason: string };

function stepOf(payload: Payload): Step {
  if (payload.kind === 'refresh') return payload;
  if (payload.kind === 'close') {
    const { kind: _kind, ...request } = payload;
    return { kind: 'close', request };
  }
  const data = wireData(payload);
  return data === null ? { kind: 'invalid', reason: 'binary payload is not valid base64' } : { kind: 'post', data };
}

async function deliverToOne(
  tools: DeliveryTools,
  connectionId: string,
  payloads: readonly Payload[],
  steps: readonly Step[],
  report: DeliveryReport,
  graceUntil: number | undefined,
  stillJoining: ((connectionId: string) => Promise<boolean>) | undefined,
): Promise<void> {
  if (report.fatal !== null) return;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step === undefined) break;
    if (step.kind === 'invalid') {
      report.rejected.push({ connectionId, reason: step.reason });
      continue;
    }
    if (step.kind === 'refresh') {
      // Pushpin's refresh makes the session send a request now; here the connection's lane sends it, in turn
      // with the client's own messages. A duplicate (a retried job) costs one more empty request, nothing else.
      const now = tools.clock();
      const asked = await tools.polls.enqueue(
        { v: 1, connectionId, poll: 'refresh', receivedAt: now },
        `refresh:${connectionId}:${now}:${Math.floor(tools.random() * 1e9)}`,
      );
      if (asked.ok) continue;
      report.deferred.push({
        connectionId,
        payloads: payloads.slice(i),
        reason: `refresh not queued (${asked.error.kind}): ${asked.error.message}`,
      });
      return;
    }
    let attempt = 0;
    for (;;) {
      const outcome: SendOutcome =
        step.kind === 'post' ? await tools.sender.post(connectionId, step.data) : await tools.sender.close(connectionId, step.request);
      if (outcome.kind === 'ok') {
        tools.rate.onSuccess();
        syncWindow(tools);
        if (step.kind === 'post') {
          report.delivered++;
          tools.metrics.count('Deliveries');
        }
        break;
      }
      if (outcome.kind === 'gone') {
        // A client that joins and leaves within the grace (or whose $disconnect is still telling the backend)
        // would otherwise hold its channel's queue group for the whole grace.
        if (graceUntil !== undefined && tools.clock() < graceUntil && (stillJoining === undefined || (await stillJoining(connectionId)))) {
          await tools.sleep(fullJitterDelay(attempt++, tools.retry.baseMs, tools.retry.maxMs, tools.random) + 1);
          continue;
        }
        report.gone.push(connectionId);
        tools.metrics.count('DeliveriesGone');
        return;
      }
      if (outcome.kind === 'rejected') {
        // That connection's calls are invalid (a malformed id): the rest of its payloads would fail the same way.
        report.rejected.push({ connectionId, reason: `rejected by API Gateway (400): ${outcome.message}` });
        tools.metrics.count('DeliveriesFailed');
        return;
      }
      if (outcome.kind === 'too-large') {
        report.rejected.push({ connectionId, reason: `payload ${i} too large for API Gateway: ${outcome.message}` });
        tools.metrics.count('DeliveriesFailed');
        break;
      }
      if (outcome.kind === 'failed' && !outcome.retryable) {
        report.fatal = `non-retryable gateway failure: ${outcome.message}`;
        return;
      }
      if (outcome.kind === 'throttled') {
        tools.rate.onThrottle();
        syncWindow(tools);
        tools.metrics.count('DeliveriesThrottled');
      }
      attempt++;
      if (attempt >= tools.retry.inJobAttempts) {
        report.deferred.push({ connectionId, payloads: payloads.slice(i), reason: `${outcome.kind}: ${outcome.message}` });
        return;
      }
      tools.metrics.count('DeliveriesRetried');
      await tools.sleep(fullJitterDelay(attempt - 1, tools.retry.baseMs, tools.retry.maxMs, tools.random));
    }
    if (step.kind === 'close') return;
  }
}

/** The limiter follows the adaptive window; p-limit starts queued tasks when the window grows. */
function syncWindow(tools: DeliveryTools): void {
  if (tools.limit.concurrency !== tools.rate.current) tools.limit.concurrency = tools.rate.current;
}
