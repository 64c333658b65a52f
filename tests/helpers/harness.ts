/**
 * Ready-wired dependency sets for the session, control and fan-out logic, built from the fakes in `fakes.ts`.
 * Each harness exposes the fakes so a test can script them and inspect what happened.
 */
import { expiryFor, type ConnectionRecord } from '#src/domain/connection.js';
import type { ControlApiDeps } from '#src/domain/control-api/handle-request.js';
import type { FanoutConfig, FanoutDeps } from '#src/domain/fanout/worker.js';
import type { BucketRange } from '#src/domain/ports.js';
import type { SessionConfig, SessionDeps } from '#src/domain/session/deps.js';
import {
  FakeSender,
  FixedSigner,
  InMemoryHistory,
  InMemoryStore,
  ManualClock,
  RecordingLane,
  RecordingLog,
  RecordingMetrics,
  RecordingQueue,
  ScriptedBackend,
  seededRandom,
} from './fakes.js';

export const TARGET_URL = 'https://backend.example/ws';
export const SHARED_KEY = 'test-shared-key-0123456789';

export interface SessionHarness {
  readonly deps: SessionDeps;
  readonly store: InMemoryStore;
  readonly queue: RecordingQueue;
  readonly sender: FakeSender;
  readonly backend: ScriptedBackend;
  readonly signer: FixedSigner;
  readonly time: ManualClock;
  readonly log: RecordingLog;
  readonly metrics: RecordingMetrics;
}

/** The fakes every harness shares, on one manual clock. */
function basics() {
  const time = new ManualClock();
  return {
    time,
    store: new InMemoryStore(time.clock),
    queue: new RecordingQueue(),
    sender: new FakeSender(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
  };
}

export function sessionHarness(config: Partial<SessionConfig> = {}): SessionHarness {
  const { time, store, queue, sender, log, metrics } = basics();
  const backend = new ScriptedBackend();
  const signer = new FixedSigner();
  const deps: SessionDeps = {
    connections: store,
    subscriptions: store,
    queue,
    sender,
    backend,
    signer,
    clock: time.clock,
    sleep: time.sleep,
    random: () => 0.5,
    log,
    metrics,
    config: {
      targetUrl: TARGET_URL,
      maxSubscriptionsPerConnection: 20,
      openGraceMs: 5_000,
      backendTimeoutMs: 10_000,
      minPollIntervalSeconds: 20,
      connectBudgetMs: 28_000,
      ...config,
    },
  };
  return { deps, store, queue, sender, backend, signer, time, log, metrics };
}

/** A stored connection as `$connect` would leave it (GRIP mode on with `m:` unless overridden). */
export function connectionRecord(
  connectionId: string,
  overrides: Partial<ConnectionRecord> = {},
  now = 1_800_000_000_000,
): ConnectionRecord {
  return {
    connectionId,
    handshake: { path: '/', query: 'room=1', headers: { cookie: 'sid=abc', origin: 'https://app.example' } },
    subprotocol: null,
    grip: { enabled: true, messagePrefix: 'm:' },
    meta: {},
    connectedAt: now,
    expiresAt: expiryFor(now),
    ...overrides,
  };
}

export interface ControlHarness {
  readonly deps: ControlApiDeps;
  readonly queue: RecordingQueue;
  readonly history: InMemoryHistory;
  readonly time: ManualClock;
  readonly log: RecordingLog;
  readonly metrics: RecordingMetrics;
}

export function controlHarness(config: Partial<ControlApiDeps['config']> = {}): ControlHarness {
  const { time, queue, log, metrics } = basics();
  let n = 0;
  const history = new InMemoryHistory();
  const deps: ControlApiDeps = {
    queue,
    history,
    clock: time.clock,
    log,
    metrics,
    newId: () => `generated-${++n}`,
    config: { key: SHARED_KEY, ...config },
  };
  return { deps, queue, history, time, log, metrics };
}

export const DEFAULT_FANOUT_CONFIG: FanoutConfig = {
  concurrency: 8,
  pageSize: 50,
  buckets: 4,
  maxAttempts: 3,
  inJobAttempts: 3,
  retryBaseMs: 10,
  retryMaxMs: 200,
  reserveMs: 1_000,
  joinGraceMs: 5_000,
  idCacheTtlMs: 60_000,
  history: { ttlMs: 3_600_000, maxItems: 1_000 },
  messageWaitMs: 5_000,
};

export interface FanoutHarness {
  readonly deps: FanoutDeps;
  readonly store: InMemoryStore;
  readonly history: InMemoryHistory;
  readonly queue: RecordingQueue;
  readonly sender: FakeSender;
  /** Where backend polls and refreshes are asked for. */
  readonly lane: RecordingLane;
  readonly time: ManualClock;
  readonly log: RecordingLog;
  readonly metrics: RecordingMetrics;
}

export function fanoutHarness(config: Partial<FanoutConfig> = {}, seed = 7): FanoutHarness {
  const { time, store, queue, sender, log, metrics } = basics();
  const history = new InMemoryHistory();
  const lane = new RecordingLane();
  const deps: FanoutDeps = {
    polls: lane,
    index: store,
    connections: store,
    history,
    resumes: store,
    activity: store,
    sequencer: store,
    queue,
    deadLetters: queue,
    checkpoints: store,
    itemIds: store,
    sender,
    clock: time.clock,
    sleep: time.sleep,
    random: seededRandom(seed),
    log,
    metrics,
    config: { ...DEFAULT_FANOUT_CONFIG, ...config },
  };
  return { deps, store, history, queue, sender, lane, time, log, metrics };
}

/** `n` distinct connection ids, shaped like API Gateway's (16 base64 characters, ending in `=`). */
export function connectionIds(n: number, prefix = 'c'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36).padStart(14, '0')}=`);
}

/**
 * Whether the ranges tile `[from, to)` exactly: sorted, each starts where the previous ended, none is empty.
 * That is "every bucket exactly once" without walking 65,536 buckets.
 */
export function tiles(ranges: readonly BucketRange[], from: number, to: number): boolean {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  let at = from;
  for (const r of sorted) {
    if (r.from !== at || r.to <= r.from) return false;
    at = r.to;
  }
  return at === to;
}
