import type {
  BackendClient,
  Clock,
  ConnectionSender,
  ConnectionStore,
  FanoutQueue,
  GripSigner,
  Log,
  Metrics,
  SubscriptionStore,
} from '../ports.js';

/**
 * What the WebSocket session logic needs from the world: all of it is what `$default` (`onMessage`) needs; the
 * other routes take less (`ConnectDeps`, `DisconnectDeps`), matching what their functions may touch. The
 * composition roots (`src/functions/`) build them.
 */
export interface SessionDeps {
  readonly connections: ConnectionStore;
  readonly subscriptions: SubscriptionStore;
  readonly queue: FanoutQueue;
  readonly sender: ConnectionSender;
  readonly backend: BackendClient;
  readonly signer: GripSigner;
  readonly clock: Clock;
  /** Waits between retries of a backend that could not be reached. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly config: SessionConfig;
}

export interface SessionConfig {
  /** The backend's WebSocket-over-HTTP endpoint (`TARGET_URL`). */
  readonly targetUrl: string;
  readonly maxSubscriptionsPerConnection: number;
  /** How long messages from an OPEN reply keep retrying a 410 while the handshake completes. */
  readonly openGraceMs: number;
  /** The budget for one backend exchange, retries of an unreachable backend included (`BACKEND_TIMEOUT_MS`). */
  readonly backendTimeoutMs: number;
  /** The least `Keep-Alive-Interval` honoured (Pushpin's 20 s); a shorter one is raised to it. */
  readonly minPollIntervalSeconds: number;
  /**
   * How long `$connect` may take in all (API Gateway gives up after 29 s): a deferred OPEN is asked again only
   * if the new request can finish within it.
   */
  readonly connectBudgetMs: number;
}

/** `$connect`'s whole time: API Gateway's 29 s integration timeout, less a second for storing the connection. */
export const CONNECT_BUDGET_MS = 28_000;

/** `$connect` (`onConnect`): no connection sender, since API Gateway refuses posts until `$connect` returns. */
export type ConnectDeps = Omit<SessionDeps, 'sender'>;

/** `$disconnect` (`onDisconnect`): the connection's record, and the backend to tell. */
export type DisconnectDeps = Omit<SessionDeps, 'sender' | 'queue' | 'subscriptions'>;

/** What one backend request needs (`askBackend`). */
export type BackendDeps = Pick<SessionDeps, 'config' | 'signer' | 'clock' | 'sleep' | 'random' | 'backend' | 'metrics' | 'log'>;
