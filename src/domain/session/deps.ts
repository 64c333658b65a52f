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

/** What the WebSocket session logic needs from the world. Composition roots (AWS handlers, local mode) build it. */
export interface SessionDeps {
  readonly connections: ConnectionStore;
  readonly subscriptions: SubscriptionStore;
  readonly queue: FanoutQueue;
  readonly sender: ConnectionSender;
  readonly backend: BackendClient;
  readonly signer: GripSigner;
  readonly clock: Clock;
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
}
