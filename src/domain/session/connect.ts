import { applyMetaChanges, expiryFor, type ConnectionRecord, type Handshake } from '../connection.js';
import { connectionDeliveryEntry } from '../fanout/jobs.js';
import { forgetConnections } from '../forget-connections.js';
import type { Payload } from '../message.js';
import { closeEvent, openEvent } from '../protocol/events.js';
import { interpretOpenReply, type OpenReplyDecision } from '../protocol/reply.js';
import { backendPollAfter, backendPollEntry } from '../backend-poll.js';
import { handshakeFromClient, offeredSubprotocols, unsafePathReason } from '../protocol/request.js';
import { askBackend } from './backend.js';
import { detaches, filterMetaAfter, subscriptionOps, tooManyFilters, unsupportedControls } from './reply-actions.js';
import type { ConnectDeps } from './deps.js';
import { keepAliveEntry, keepAliveFromActions } from '../keepalive.js';
import { resumeTokens, startCatchUps } from './resume.js';
import { planFilterWrites, planResumes, planSubscriptions } from './subscriptions.js';
import type { QueueEntry } from '../ports.js';
import type { SubscriberFilters } from '../filters.js';

export interface ConnectInput {
  readonly connectionId: string;
  /** The client's handshake headers as API Gateway passes them (any case; multi-values allowed). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly path: string;
  /** Raw query string without `?`. */
  readonly query: string;
}

export type ConnectOutcome =
  | { readonly kind: 'accepted'; readonly subprotocol: string | null; readonly headers: Readonly<Record<string, string>> }
  | {
      readonly kind: 'rejected';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Uint8Array;
      readonly reason: string;
    };

const encoder = new TextEncoder();

function refuse(status: number, reason: string): ConnectOutcome {
  return { kind: 'rejected', status, headers: { 'content-type': 'text/plain' }, body: encoder.encode(`${reason}\n`), reason };
}

/**
 * `$connect`: asks the backend with an OPEN event and carries out its answer.
 *
 * - Backend accepts: the connection record is stored (handshake for replay, subprotocol, GRIP mode, meta), the
 *   reply's subscriptions are written (capped), and its messages (plus a trailing close, if any) are queued as one
 *   ordered job, because nothing can be posted to a connection until `$connect` has returned (API Gateway answers
 *   410 until then; the worker retries 410 during `openGraceMs`).
 * - Backend rejects: its status, headers and body go back to the client as the handshake response.
 * - Backend down, slow, or answering garbage: 502. Storage or queue failure: 503. Nothing is left stored for a
 *   refused connection (API Gateway sends no `$disconnect` for a handshake that did not complete).
 */
export async function onConnect(deps: ConnectDeps, input: ConnectInput): Promise<ConnectOutcome> {
  const { log, metrics } = deps;
  const connectionId = input.connectionId;
  const unsafe = unsafePathReason(input.path);
  if (unsafe !== null) {
    log.warn('handshake refused: its path could leave TARGET_URL', { connectionId, reason: unsafe });
    metrics.count('ConnectionsRejected');
    return refuse(400, `Bad Request: the path has a ${unsafe}`);
  }
  const captured = handshakeFromClient({ headers: input.headers, path: input.path, query: input.query });
  const handshake = captured.handshake;
  if (captured.dropped.length > 0) log.warn('handshake headers not kept for replay', { connectionId, dropped: captured.dropped });
  const asked = await askOpen(deps, connectionId, handshake);
  if (asked.kind === 'refused') return asked.outcome;
  const { decision, deferredMeta, deferredInterval } = asked;
  if (decision.kind === 'reject') {
    log.info('backend rejected the connection', { connectionId, status: decision.status, reason: decision.reason });
    metrics.count('ConnectionsRejected');
    return { kind: 'rejected', status: decision.status, headers: decision.headers, body: decision.body, reason: decision.reason };
  }
  if (decision.kind === 'invalid') {
    const reason = decision.reason;
    log.error('backend answered the OPEN request with an invalid reply; refusing with 502', { connectionId, reason });
    metrics.count('BackendErrors');
    metrics.count('ConnectionsRejected');
    return refuse(502, 'Bad Gateway: invalid reply from the backend');
  }

  const ops = subscriptionOps(decision.actions);
  const plan = planSubscriptions([], ops, deps.config.maxSubscriptionsPerConnection);
  for (const note of plan.ignored) log.warn('subscribe ignored', { connectionId, note });
  const filterMeta = filterMetaAfter({}, decision.actions);
  const resumes = planResumes(ops, new Set(plan.subscribe));
  const resumeTokensOf = resumeTokens(resumes, deps.clock(), deps.random);
  const filters = new Map(
    [...planFilterWrites([], plan, ops, filterMeta, false).put].flatMap(([c, f]) =>
      f === undefined ? [] : [[c, f] as [string, SubscriberFilters]],
    ),
  );
  const now = deps.clock();
  const keepAlive = keepAliveFromActions(decision.actions, now);
  // A deferring reply's Keep-Alive-Interval stays in force unless the accepting reply changes it, as in Pushpin.
  const requested = decision.pollInterval === undefined ? deferredInterval : decision.pollInterval;
  const backendPoll = backendPollAfter(requested, undefined, now, deps.config.minPollIntervalSeconds);
  const record: ConnectionRecord = {
    connectionId,
    handshake,
    subprotocol: decision.subprotocol,
    grip: decision.grip,
    meta: applyMetaChanges(deferredMeta, decision.metaChanges),
    ...(Object.keys(filterMeta).length > 0 ? { filterMeta } : {}),
    connectedAt: now,
    expiresAt: expiryFor(now),
    keepAlive: keepAlive.change ?? null,
    lastActivityAt: now,
    subscriptionCount: plan.subscribe.length,
    ...(detaches(decision.actions) ? { detached: true } : {}),
    ...(backendPoll ? { backendPoll, lastExchangeAt: now } : {}),
  };
  for (const note of [...decision.ignored, ...keepAlive.ignored, ...unsupportedControls(decision.actions)])
    log.warn('ignored part of the OPEN reply', { connectionId, note });

  const stored = await deps.connections.putConnection(record);
  if (!stored.ok) {
    log.error('could not store the connection; refusing with 503', {
      connectionId,
      error: stored.error.kind,
      detail: stored.error.message,
    });
    metrics.count('ConnectionsRejected');
    return refuse(503, 'Service Unavailable');
  }

  const payloads = openReplyPayloads(decision.actions);
  const tooMany = tooManyFilters(decision.actions);
  if (tooMany !== null && payloads[payloads.length - 1]?.kind !== 'close') {
    // Upstream Pushpin closes the client with 1011 once the subscribe reaches its handler, after the accept.
    log.warn('a subscribe has more than 5 filters; closing the client with 1011, as Pushpin does', { connectionId, reason: tooMany });
    payloads.push({ kind: 'close', code: 1011 }); // no reason text, as upstream without the route's `debug`
  }
  const failure = await (async () => {
    if (plan.subscribe.length > 0) {
      const subscribed = await deps.subscriptions.subscribe(
        record,
        plan.subscribe,
        filters.size > 0 ? filters : undefined,
        resumeTokensOf.size > 0 ? resumeTokensOf : undefined,
      );
      if (!subscribed.ok) return `subscribe failed: ${subscribed.error.message}`;
    }
    const entries: QueueEntry[] = [];
    if (record.keepAlive) entries.push(keepAliveEntry(connectionId, record.keepAlive, now + record.keepAlive.timeoutSeconds * 1000, now));
    if (backendPoll) entries.push(backendPollEntry(connectionId, backendPoll, now + backendPoll.intervalSeconds * 1000, now));
    if (payloads.length > 0) {
      const origin = { publishId: `open:${connectionId}`, publishedAt: now };
      entries.push(connectionDeliveryEntry(connectionId, payloads, origin, { graceUntil: now + deps.config.openGraceMs }));
    }
    if (entries.length > 0) {
      const queued = await deps.queue.enqueue(entries);
      if (!queued.ok) return `queueing the OPEN reply's messages failed: ${queued.error.message}`;
    }
    await startCatchUps(deps, record, resumes, resumeTokensOf, now);
    return null;
  })();
  if (failure !== null) {
    // Leave no stale subscription behind for a connection the client will never see accepted.
    await forgetConnections(deps, [connectionId], 'the OPEN reply could not be applied');
    log.error('could not apply the OPEN reply; refusing with 503', { connectionId, detail: failure });
    metrics.count('ConnectionsRejected');
    return refuse(503, 'Service Unavailable');
  }
  metrics.count('ConnectionsOpened');
  if (record.detached === true) {
    // Detached in its OPEN reply: the backend side closes at once (a code-less CLOSE), the client stays.
    const closed = await askBackend(deps, record, [closeEvent(null)]);
    if (!closed.ok) log.warn('backend not told that a detached connection closed its side', { connectionId, error: closed.error.kind });
  }
  log.info('connection accepted', { connectionId, subscriptions: plan.subscribe.length, queuedMessages: payloads.length });
  return { kind: 'accepted', subprotocol: decision.subprotocol, headers: decision.clientHeaders };
}

/** What asking the backend to OPEN came to: its final (not deferring) decision, or a refusal already made. */
type AskedOpen =
  | { readonly kind: 'refused'; readonly outcome: ConnectOutcome }
  | {
      readonly kind: 'decided';
      readonly decision: Exclude<OpenReplyDecision, { kind: 'defer' }>;
      /** `Set-Meta-*` of deferring replies, in force for the accepting one. */
      readonly deferredMeta: Readonly<Record<string, string>>;
      /** The `Keep-Alive-Interval` a deferring reply set, if any. */
      readonly deferredInterval: number | undefined;
    };

/**
 * Sends the OPEN request, and again after the interval each time the backend defers (an empty reply with
 * `Keep-Alive-Interval`: Pushpin keeps the handshake pending and asks again). API Gateway ends a `$connect` after
 * 29 s, so a deferral that the next request could not answer within `connectBudgetMs` refuses the handshake with 504.
 */
async function askOpen(deps: ConnectDeps, connectionId: string, handshake: Handshake): Promise<AskedOpen> {
  const { log, metrics } = deps;
  const started = deps.clock();
  const offered = offeredSubprotocols(handshake);
  let meta: Readonly<Record<string, string>> = {};
  let interval: number | undefined;
  for (;;) {
    const left = deps.config.connectBudgetMs - (deps.clock() - started);
    const response = await askBackend(deps, { connectionId, handshake, meta }, [openEvent()], { budgetMs: left });
    if (!response.ok) {
      log.error('backend unreachable on open; refusing the handshake with 502', {
        connectionId,
        error: response.error.kind,
        detail: response.error.message,
      });
      metrics.count('ConnectionsRejected');
      return { kind: 'refused', outcome: refuse(502, 'Bad Gateway: the backend did not answer') };
    }
    const decision = interpretOpenReply(response.value, {
      offeredSubprotocols: offered,
      ...(interval !== undefined ? { pollInterval: interval } : {}),
    });
    if (decision.kind !== 'defer') return { kind: 'decided', decision, deferredMeta: meta, deferredInterval: interval };
    meta = applyMetaChanges(meta, decision.metaChanges);
    interval = decision.intervalSeconds;
    const waitMs = Math.max(deps.config.minPollIntervalSeconds, interval) * 1000;
    const leftAfterWait = deps.config.connectBudgetMs - (deps.clock() - started) - waitMs;
    if (leftAfterWait < MIN_OPEN_REQUEST_MS) {
      log.warn('backend deferred the OPEN past what API Gateway allows a handshake; refusing with 504', {
        connectionId,
        intervalSeconds: interval,
      });
      metrics.count('ConnectionsRejected');
      return { kind: 'refused', outcome: refuse(504, 'Gateway Timeout: the backend deferred its answer') };
    }
    log.info('backend deferred the OPEN; asking again after the interval', { connectionId, waitMs });
    await deps.sleep(waitMs);
  }
}

/** The least time worth giving a repeated OPEN request. */
const MIN_OPEN_REQUEST_MS = 1_000;

/** The OPEN reply's messages in order, ending at (and including) a close or drop: nothing after it is sent. */
function openReplyPayloads(actions: Parameters<typeof subscriptionOps>[0]): Payload[] {
  const payloads: Payload[] = [];
  for (const action of actions) {
    if (action.kind === 'send') payloads.push(action.message);
    else if (action.kind === 'close') {
      payloads.push(
        action.code === null
          ? { kind: 'close' }
          : { kind: 'close', code: action.code, ...(action.reason ? { reason: action.reason } : {}) },
      );
      break;
    } else if (action.kind === 'drop') {
      payloads.push({ kind: 'close' });
      break;
    }
  }
  return payloads;
}
