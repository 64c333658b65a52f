/**
 * The composition roots of the three WebSocket route functions: each builds its route handler from exactly the
 * resources its row of `handlerAccess` grants. The Lambda entries (`src/handlers/aws/ws-*.ts`) and local mode
 * call these same functions.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpBackendClient } from '../adapters/http-backend-client.js';
import { CachingGripSigner } from '../adapters/grip-signer.js';
import { makeConnectHandler, makeDisconnectHandler, makeLaneHandler, makeMessageHandler } from '../handlers/ws.js';
import { RateLimitedLog } from '../adapters/rate-limited-log.js';
import pLimit from 'p-limit';
import type { ConnectionLookup } from '../domain/ports.js';
import { tellBackendAtShutdown, type DisconnectInput } from '../domain/session/disconnect.js';
import { CONNECT_BUDGET_MS } from '../domain/session/deps.js';
import type { FunctionBasics, FunctionResources, GrantableResources } from './resources.js';

/** The backend call and the basics every route shares: signed with the GRIP key, within the backend timeout. */
function session(r: FunctionBasics & Pick<GrantableResources, 'gripKey' | 'backend'>) {
  const { settings, clock, metrics } = r;
  // A backend's reply of a thousand unsupported `c:` messages, or a client flooding refused handshakes, must not
  // turn into a thousand lines: each kind of line is rate-limited (errors are not).
  const log = new RateLimitedLog(r.log, { clock });
  return {
    backend: new HttpBackendClient({ timeoutMs: settings.backendTimeoutMs }),
    signer: new CachingGripSigner({ key: r.gripKey, iss: r.backend.gripIss, clock }),
    clock,
    sleep: (ms: number) => sleep(ms).then(() => {}),
    random: Math.random,
    log,
    metrics,
    config: {
      targetUrl: r.backend.targetUrl,
      maxSubscriptionsPerConnection: settings.maxSubscriptionsPerConnection,
      openGraceMs: settings.openGraceMs,
      backendTimeoutMs: settings.backendTimeoutMs,
      minPollIntervalSeconds: settings.keepAliveIntervalMinSeconds,
      connectBudgetMs: CONNECT_BUDGET_MS,
    },
  };
}

/** `ws-connect` (`$connect`). */
export function composeWsConnect(r: FunctionResources<'ws-connect'>) {
  return makeConnectHandler({ ...session(r), connections: r.store, subscriptions: r.store, queue: r.queue }, r.afterEach);
}

/**
 * `ws-message`: the `$default` route (`route`) and, with `clientMessages: ordered`, the consumer of the ordered lane
 * of client messages that `route` feeds (`lane`). One function serves both: they need the same resources.
 */
export function composeWsMessage(r: FunctionResources<'ws-message'>) {
  const deps = { ...session(r), connections: r.store, subscriptions: r.store, queue: r.queue, sender: r.sender };
  return {
    route: makeMessageHandler(deps, r.afterEach, r.settings.clientMessages === 'ordered' ? r.lane : undefined),
    lane: makeLaneHandler(deps, r.afterEach),
  };
}

/** `ws-disconnect` (`$disconnect`). */
export function composeWsDisconnect(r: FunctionResources<'ws-disconnect'>) {
  return makeDisconnectHandler({ ...session(r), connections: r.store }, r.afterEach);
}

/**
 * Local mode's stop (no Lambda counterpart: API Gateway's connections do not end with the server): tells the
 * backend about every closed client in one pass (`tellBackendAtShutdown`) with `ws-disconnect`'s resources, 64
 * backend requests at a time, without retries that would outlast the stop.
 */
export function composeShutdown(r: FunctionResources<'ws-disconnect'> & { readonly lookup: ConnectionLookup }, budgetMs: number) {
  const base = session(r);
  const deps = {
    ...base,
    backend: new HttpBackendClient({ timeoutMs: Math.min(budgetMs, r.settings.backendTimeoutMs) }),
    config: { ...base.config, backendTimeoutMs: Math.min(budgetMs, r.settings.backendTimeoutMs) },
    connections: r.lookup,
  };
  const limit = pLimit(64);
  return (closes: readonly DisconnectInput[], deadline: number) =>
    tellBackendAtShutdown(deps, closes, (items, fn) => limit.map(items, fn), deadline);
}
