import { closeEvent, textEvent, type WsEvent } from '../protocol/events.js';
import { interpretSessionReply, type SessionAction, type SessionReplyDecision } from '../protocol/reply.js';
import { askBackend } from './backend.js';
import { detaches, filterMetaAfter, sameMeta, subscriptionOps, tooManyFilters, unsupportedControls } from './reply-actions.js';
import { applyMetaChanges } from '../connection.js';
import type { SessionDeps } from './deps.js';
import { keepAliveEntry, keepAliveFromActions } from '../keepalive.js';
import { backendPollAfter, backendPollEntry, exchangeIsStale } from '../backend-poll.js';
import { resumeTokens, startCatchUps } from './resume.js';
import { planFilterWrites, planResumes, planSubscriptions, type SubscriptionOp } from './subscriptions.js';
import type { ConnectionRecord } from '../connection.js';
import { forgetConnections } from '../forget-connections.js';
import { wireData } from '../message.js';
import type { ConnectionChanges, SubscriptionOwner } from '../ports.js';
import type { SubscriberFilters } from '../filters.js';

export interface MessageInput {
  readonly connectionId: string;
  /** The client's text message. (API Gateway rejects binary frames itself, closing with 1003.) */
  readonly text: string;
}

export type MessageOutcome =
  | { readonly kind: 'handled'; readonly sent: number }
  /** The connection was closed: by the backend's reply, or because the exchange failed (`reason` says which). */
  | { readonly kind: 'closed'; readonly reason: string }
  /** No record of this connection (expired, or its `$connect` never completed): it was disconnected. */
  | { readonly kind: 'unknown-connection' }
  /** The connection's record could not be read: nothing was sent to the backend, and a retry is safe. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Close code for "the server hit an unexpected condition" (RFC 6455 §7.4.1): the backend failed us. */
const INTERNAL_ERROR = 1011;

/**
 * `$default`: forwards one client message to the backend as a TEXT event, with the stored handshake headers and
 * meta, and carries out the reply in order: meta changes and subscriptions are stored first, then messages are
 * posted to the connection one after another (so they arrive in the reply's order), then a close or drop.
 *
 * A backend that is down, slow or answers garbage gets the client closed with 1011 and an error log naming the
 * connection; nothing is half-applied (a reply that does not parse changes nothing).
 */
export async function onMessage(deps: SessionDeps, input: MessageInput): Promise<MessageOutcome> {
  const outcome = await onMessages(deps, { connectionId: input.connectionId, texts: [input.text] });
  if (outcome.kind !== 'unavailable') return outcome;
  // Cannot tell the backend who this is; dropping one message beats closing a healthy connection on a blip.
  deps.log.error('could not read the connection record; message dropped', { connectionId: input.connectionId, detail: outcome.reason });
  return { kind: 'handled', sent: 0 };
}

/**
 * Several messages of one connection, in order, in one backend request (TEXT events in arrival order), as Pushpin
 * sends what has queued up for a connection; otherwise as {@link onMessage}. `unavailable` when the record could not
 * be read (nothing sent: the ordered lane retries, `onMessage` drops).
 */
export async function onMessages(
  deps: SessionDeps,
  input: { readonly connectionId: string; readonly texts: readonly string[] },
): Promise<MessageOutcome> {
  const { log, metrics } = deps;
  const { connectionId } = input;
  metrics.count('MessagesIn', input.texts.length);
  const found = await deps.connections.getConnection(connectionId);
  if (!found.ok) return { kind: 'unavailable', reason: `${found.error.kind}: ${found.error.message}` };
  const record = found.value;
  if (record === null) {
    log.warn('message from a connection with no record; disconnecting it', { connectionId });
    await deps.sender.close(connectionId, { code: INTERNAL_ERROR, reason: 'unknown connection' });
    return { kind: 'unknown-connection' };
  }
  if (record.detached === true) {
    // As Pushpin: a detached client's frames are read and dropped; its connection and subscriptions stay.
    log.debug('message from a detached connection dropped', { connectionId });
    return { kind: 'handled', sent: 0 };
  }

  return forwardEvents(deps, record, input.texts.map(textEvent));
}

/**
 * A request without a client message (a `Keep-Alive-Interval` poll, a publish `refresh`): one empty request (no
 * events), its reply carried out as any other. A connection that is gone or detached has no backend session to
 * poll: nothing is sent.
 */
export async function onPoll(deps: SessionDeps, connectionId: string): Promise<MessageOutcome> {
  const found = await deps.connections.getConnection(connectionId);
  if (!found.ok) return { kind: 'unavailable', reason: `${found.error.kind}: ${found.error.message}` };
  const record = found.value;
  if (record === null || record.detached === true) {
    deps.log.debug('poll for a connection that is gone or detached; nothing sent', { connectionId });
    return { kind: 'handled', sent: 0 };
  }
  deps.metrics.count('BackendPolls');
  return forwardEvents(deps, record, []);
}

/**
 * Sends events of a known connection to the backend in one request and carries out the reply: the step
 * `onMessage` takes for one TEXT, and what a consumer that batches a connection's messages takes for several.
 * A failed exchange closes the client with 1011 and changes nothing.
 */
export async function forwardEvents(deps: SessionDeps, record: ConnectionRecord, events: readonly WsEvent[]): Promise<MessageOutcome> {
  const { log, metrics } = deps;
  const { connectionId } = record;
  const response = await askBackend(deps, record, events);
  if (!response.ok) {
    log.error('backend unreachable for a message; closing the connection with 1011', {
      connectionId,
      error: response.error.kind,
      detail: response.error.message,
    });
    await deps.sender.close(connectionId, { code: INTERNAL_ERROR, reason: 'backend unavailable' });
    return { kind: 'closed', reason: `backend ${response.error.kind}` };
  }
  const decision = interpretSessionReply(response.value, record.grip);
  if (decision.kind === 'invalid') {
    const reason = decision.reason;
    log.error('backend answered a message with an invalid reply; closing the connection with 1011', { connectionId, reason });
    metrics.count('BackendErrors');
    await deps.sender.close(connectionId, { code: INTERNAL_ERROR, reason: 'invalid backend reply' });
    return { kind: 'closed', reason };
  }
  return applySessionReply(deps, record, decision);
}

/**
 * Carries out a valid session reply, in order: the connection's changes (meta, filter meta, keep-alive,
 * activity) and subscriptions are stored first, then its messages are sent one after another, then a close or
 * drop. A subscribe with more than 5 filters then closes the client with 1011, as upstream Pushpin does.
 */
export async function applySessionReply(
  deps: SessionDeps,
  record: ConnectionRecord,
  reply: Extract<SessionReplyDecision, { kind: 'update' }>,
): Promise<MessageOutcome> {
  const { connectionId } = record;
  for (const note of [...reply.ignored, ...unsupportedControls(reply.actions)])
    deps.log.warn('ignored part of a reply', { connectionId, note });
  const filterMeta = filterMetaAfter(record.filterMeta ?? {}, reply.actions);
  const metaChanged = !sameMeta(filterMeta, record.filterMeta ?? {});
  await storeConnectionChanges(deps, record, reply, metaChanged ? filterMeta : undefined);
  const ops = subscriptionOps(reply.actions);
  if (ops.length > 0 || metaChanged) await applySubscriptionOps(deps, record, ops, { filterMeta, metaChanged });
  const outcome = await deliverActions(deps, connectionId, reply.actions);
  if (detaches(reply.actions) && outcome.kind === 'handled') await closeBackendSide(deps, record, reply);
  const tooMany = tooManyFilters(reply.actions);
  if (tooMany === null || outcome.kind !== 'handled') return outcome;
  deps.log.warn('a subscribe has more than 5 filters; closing the client with 1011, as Pushpin does', { connectionId, reason: tooMany });
  // No reason text, as upstream Pushpin without the route's `debug`: the log has it.
  await deps.sender.close(connectionId, { code: INTERNAL_ERROR });
  deps.metrics.count('ConnectionsClosed');
  return { kind: 'closed', reason: tooMany };
}

/**
 * Stores a reply's meta, keep-alive and backend-poll changes (and coarse activity and last exchange), and schedules
 * the new chains.
 */
async function storeConnectionChanges(
  deps: SessionDeps,
  record: ConnectionRecord,
  reply: Extract<SessionReplyDecision, { kind: 'update' }>,
  filterMeta: Readonly<Record<string, string>> | undefined,
): Promise<void> {
  const { log } = deps;
  const { connectionId } = record;
  const now = deps.clock();
  const keepAlive = keepAliveFromActions(reply.actions, now);
  for (const note of keepAlive.ignored) log.warn('ignored part of a reply', { connectionId, note });
  const backendPoll = backendPollAfter(reply.pollInterval, record.backendPoll, now, deps.config.minPollIntervalSeconds);
  const changes: ConnectionChanges = {
    ...(backendPoll !== undefined ? { backendPoll, ...(backendPoll !== null ? { lastExchangeAt: now } : {}) } : {}),
    // The next poll is due an interval after this exchange (written coarsely: see exchangeIsStale).
    ...(backendPoll === undefined && exchangeIsStale(record.backendPoll, record.lastExchangeAt, now) ? { lastExchangeAt: now } : {}),
    ...(Object.keys(reply.metaChanges).length > 0 ? { meta: reply.metaChanges } : {}),
    ...(filterMeta !== undefined ? { filterMeta } : {}),
    ...(keepAlive.change !== undefined ? { keepAlive: keepAlive.change, lastActivityAt: now } : {}),
    // Pushpin's idle timer restarts on frames sent to the client, not on frames from it.
    ...(keepAlive.change === undefined && sendsToClient(reply.actions) && idleActivityIsStale(record, now) ? { lastActivityAt: now } : {}),
    ...(detaches(reply.actions) ? { detached: true as const } : {}),
  };
  if (Object.keys(changes).length === 0) return;
  const updated = await deps.connections.updateConnection(connectionId, changes);
  if (!updated.ok) {
    log.error('could not store connection changes', { connectionId, error: updated.error.kind, detail: updated.error.message });
    return;
  }
  const chains = [
    ...(keepAlive.change ? [keepAliveEntry(connectionId, keepAlive.change, now + keepAlive.change.timeoutSeconds * 1000, now)] : []),
    ...(backendPoll ? [backendPollEntry(connectionId, backendPoll, now + backendPoll.intervalSeconds * 1000, now)] : []),
  ];
  if (chains.length === 0) return;
  const scheduled = await deps.queue.enqueue(chains);
  if (!scheduled.ok) log.error('could not schedule keep-alives or backend polls', { connectionId, detail: scheduled.error.message });
}

/**
 * `detach`: the backend gets one request with a code-less CLOSE, as Pushpin closes its side of the session; its
 * answer is not acted on (the backend side is over). The record is already marked detached, so later frames are
 * dropped and the client's eventual close is not reported.
 */
async function closeBackendSide(
  deps: SessionDeps,
  record: ConnectionRecord,
  reply: Extract<SessionReplyDecision, { kind: 'update' }>,
): Promise<void> {
  const { connectionId } = record;
  const current = { ...record, meta: applyMetaChanges(record.meta, reply.metaChanges) };
  const closed = await askBackend(deps, current, [closeEvent(null)]);
  if (!closed.ok) deps.log.warn('backend not told that a detached connection closed its side', { connectionId, error: closed.error.kind });
  deps.log.info('connection detached', { connectionId });
}

function sendsToClient(actions: readonly SessionAction[]): boolean {
  return actions.some((a) => a.kind === 'send');
}

/**
 * Idle-mode heartbeats are due a period after the last activity. Writing on every message would cost a write per
 * message, so activity is recorded only once it is half a period old: a heartbeat may come up to half a period
 * early, never late.
 */
function idleActivityIsStale(record: ConnectionRecord, now: number): boolean {
  const keepAlive = record.keepAlive;
  if (!keepAlive || keepAlive.mode !== 'idle') return false;
  return now - (record.lastActivityAt ?? record.connectedAt) > (keepAlive.timeoutSeconds * 1000) / 2;
}

/**
 * Applies a reply's subscription changes and keeps the filter state that subscription items carry current:
 * new subscriptions are written with their filters, changed filter lists rewrite their item, and a changed
 * filter meta (or, for `require-sub`, channel set) updates the other filtered items.
 */
async function applySubscriptionOps(
  deps: SessionDeps,
  owner: SubscriptionOwner,
  ops: readonly SubscriptionOp[],
  filter: { readonly filterMeta: Readonly<Record<string, string>>; readonly metaChanged: boolean },
): Promise<void> {
  const { log } = deps;
  const { connectionId } = owner;
  const current = await deps.subscriptions.listSubscriptionFilters(connectionId);
  if (!current.ok) {
    log.error('could not read subscriptions; subscription changes dropped', { connectionId, detail: current.error.message });
    return;
  }
  const cap = deps.config.maxSubscriptionsPerConnection;
  const plan = planSubscriptions(
    current.value.map((s) => s.channel),
    ops,
    cap,
  );
  const removed = new Set(plan.unsubscribe);
  const subscribedAfter = new Set([...current.value.map((s) => s.channel).filter((c) => !removed.has(c)), ...plan.subscribe]);
  const resumes = planResumes(ops, subscribedAfter);
  const tokens = resumeTokens(resumes, deps.clock(), deps.random);
  const writes = planFilterWrites(current.value, plan, ops, filter.filterMeta, filter.metaChanged, new Set(tokens.keys()));
  const tokensOf = (channels: readonly string[]) =>
    new Map(
      channels.flatMap((c) => {
        const token = tokens.get(c);
        return token === undefined ? [] : [[c, token] as const];
      }),
    );
  const filtersOf = (channels: readonly string[]) =>
    new Map(
      channels.flatMap((c) => {
        const state = writes.put.get(c);
        return state === undefined ? [] : [[c, state] as [string, SubscriberFilters]];
      }),
    );
  for (const note of plan.ignored) log.warn('subscribe ignored', { connectionId, note });
  if (plan.unsubscribe.length > 0) {
    const r = await deps.subscriptions.unsubscribe(connectionId, plan.unsubscribe);
    if (!r.ok) log.error('unsubscribe failed', { connectionId, channels: plan.unsubscribe, detail: r.error.message });
    else await deps.subscriptions.releaseSubscriptionSlots(connectionId, plan.unsubscribe.length);
  }
  const written = new Set<string>();
  if (
    plan.subscribe.length > 0 &&
    (await subscribeWithinCap(deps, owner, plan.subscribe, filtersOf(plan.subscribe), tokensOf(plan.subscribe)))
  ) {
    for (const c of plan.subscribe) written.add(c);
  }
  const fresh = new Set(plan.subscribe);
  const refiltered = [...writes.put.keys()].filter((c) => !fresh.has(c));
  if (refiltered.length > 0) {
    const r = await deps.subscriptions.subscribe(owner, refiltered, filtersOf(refiltered), tokensOf(refiltered));
    if (!r.ok) log.error('could not store changed subscription filters', { connectionId, channels: refiltered, detail: r.error.message });
    else for (const c of refiltered) written.add(c);
  }
  await startCatchUps(
    deps,
    owner,
    resumes.filter((r) => written.has(r.channel)),
    tokens,
    deps.clock(),
  );
  if (writes.update.size > 0) {
    const r = await deps.subscriptions.updateSubscriptionFilters(connectionId, writes.update);
    if (!r.ok) {
      log.error('could not update the filter meta carried by subscriptions', {
        connectionId,
        channels: [...writes.update.keys()],
        detail: r.error.message,
      });
    }
  }
}

/** Takes the slots (one conditional write, so the cap holds however many replies subscribe at once) and subscribes. */
async function subscribeWithinCap(
  deps: SessionDeps,
  owner: SubscriptionOwner,
  channels: readonly string[],
  filters: ReadonlyMap<string, SubscriberFilters>,
  resumes: ReadonlyMap<string, string>,
): Promise<boolean> {
  const { log } = deps;
  const { connectionId } = owner;
  const cap = deps.config.maxSubscriptionsPerConnection;
  // The plan was made from a read that concurrent replies may have outdated.
  const slots = await deps.subscriptions.reserveSubscriptionSlots(connectionId, channels.length, cap);
  if (!slots.ok) {
    log.error('could not reserve subscription slots; subscribes dropped', { connectionId, detail: slots.error.message });
    return false;
  }
  if (!slots.value) {
    log.warn(`subscribes ignored: with concurrent replies they would pass the cap of ${cap} subscriptions`, {
      connectionId,
      channels,
    });
    return false;
  }
  const r = await deps.subscriptions.subscribe(
    owner,
    channels,
    filters.size > 0 ? filters : undefined,
    resumes.size > 0 ? resumes : undefined,
  );
  if (!r.ok) {
    log.error('subscribe failed', { connectionId, channels, detail: r.error.message });
    await deps.subscriptions.releaseSubscriptionSlots(connectionId, channels.length);
    return false;
  }
  return true;
}

async function deliverActions(deps: SessionDeps, connectionId: string, actions: readonly SessionAction[]): Promise<MessageOutcome> {
  const { log, metrics } = deps;
  let sent = 0;
  for (const action of actions) {
    if (action.kind === 'send') {
      const data = wireData(action.message);
      if (data === null) {
        log.error('a reply message has corrupt base64; not sent', { connectionId });
        continue;
      }
      const outcome = await deps.sender.post(connectionId, data);
      if (outcome.kind === 'ok') {
        sent++;
        metrics.count('MessagesOut');
        continue;
      }
      if (outcome.kind === 'gone') {
        await forgetConnections(deps, [connectionId], 'gone (410) while sending a reply');
        return { kind: 'closed', reason: 'client gone' };
      }
      log.error('could not send a reply message to the client', { connectionId, outcome: outcome.kind, detail: outcome.message });
    } else if (action.kind === 'close') {
      await deps.sender.close(connectionId, action.code === null ? {} : { code: action.code, reason: action.reason });
      metrics.count('ConnectionsClosed');
      return { kind: 'closed', reason: 'backend closed the connection' };
    } else if (action.kind === 'drop') {
      await deps.sender.close(connectionId);
      metrics.count('ConnectionsClosed');
      return { kind: 'closed', reason: 'backend dropped the connection' };
    }
  }
  return { kind: 'handled', sent };
}
