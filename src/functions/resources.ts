/**
 * What a function's composition root is given: the basics every function has, plus exactly the resources its row
 * of `handlerAccess` grants (`FunctionResources<'control'>` has a queue and the GRIP key, and no store). Both
 * platforms provide them: `awsResources` on Lambda (from the function's environment), local mode from the
 * adapters it shares between its functions.
 */
import { handlerAccess, type HandlerAccess, type HandlerName } from '../config/functions.js';
import type { RuntimeSettings } from '../config/settings.js';
import type {
  ChannelActivity,
  ChannelSequencer,
  ChannelHistory,
  ClientMessageLane,
  Clock,
  ConnectionSender,
  ConnectionStore,
  DeadLetters,
  RedeliveryScheduler,
  FanoutQueue,
  JobCheckpoints,
  ItemIdCache,
  ConnectionLookup,
  Log,
  Metrics,
  SubscriberIndex,
  SubscriptionStore,
} from '../domain/ports.js';

/** What every function has. */
export interface FunctionBasics {
  readonly settings: RuntimeSettings;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /** Runs after each invocation (the Lambda platform flushes metrics). */
  readonly afterEach: () => void;
}

/** The backend a function calls (`backend` access). */
export interface BackendTarget {
  readonly targetUrl: string;
  readonly gripIss: string;
}

/** Every resource a function may be granted, at its widest. */
export interface GrantableResources {
  /** `table` access; `itemsAndChannelIndex` also sees the channel index and the job checkpoints. */
  readonly store: ConnectionStore &
    SubscriptionStore &
    SubscriberIndex &
    JobCheckpoints &
    ItemIdCache &
    ConnectionLookup &
    ChannelActivity &
    ChannelSequencer;
  /** `history` access: the channel history (the worker records and replays, the control API reads). */
  readonly history: ChannelHistory;
  /** `gripKey` access: the key itself. */
  readonly gripKey: string;
  readonly backend: BackendTarget;
  /** `gripSigIssuer` access: the `iss` of the Grip-Sig tokens this server signs (`GRIP_ISS`). */
  readonly gripSigIssuer: string;
  /**
   * `sendTo` access; the dead letters only with the `delayedDeadLetter` lane, which only the worker (the queues'
   * consumer) has, and so also the redelivery of its failed records.
   */
  readonly queue: FanoutQueue & DeadLetters & RedeliveryScheduler;
  /** `sendTo` the `clientMessages` lane: the ordered lane of client messages. */
  readonly lane: ClientMessageLane;
  /** `manageConnections` access. */
  readonly sender: ConnectionSender;
}

/** Resources a platform has built or shares, to pick a function's from (`grantedResources`). */
export type AvailableResources = { -readonly [K in keyof GrantableResources]?: GrantableResources[K] };

type Access<N extends HandlerName> = (typeof handlerAccess)[N];
type Granted<K extends keyof GrantableResources, T = GrantableResources[K]> = { readonly [P in K]: T };

/** The basics and the resources `handlerAccess[N]` grants, typed so a composition root sees nothing else. */
export type FunctionResources<N extends HandlerName> = FunctionBasics &
  (Access<N> extends { readonly table: 'itemsAndChannelIndex' }
    ? Granted<'store'>
    : Access<N> extends { readonly table: 'items' }
      ? Granted<'store', ConnectionStore & SubscriptionStore>
      : unknown) &
  (Access<N> extends { readonly history: string } ? Granted<'history'> : unknown) &
  (Access<N> extends { readonly gripKey: true } ? Granted<'gripKey'> : unknown) &
  (Access<N> extends { readonly backend: true } ? Granted<'backend'> : unknown) &
  (Access<N> extends { readonly gripSigIssuer: true } ? Granted<'gripSigIssuer'> : unknown) &
  (Access<N> extends { readonly sendTo: readonly (infer L)[] }
    ? Granted<'queue', 'delayedDeadLetter' extends L ? FanoutQueue & DeadLetters & RedeliveryScheduler : FanoutQueue> &
        ('clientMessages' extends L ? Granted<'lane'> : unknown)
    : unknown) &
  (Access<N> extends { readonly manageConnections: true } ? Granted<'sender'> : unknown);

/** Which of `GrantableResources` an access grants. */
export function grantedKeys(access: HandlerAccess): (keyof GrantableResources)[] {
  return [
    ...(access.table ? (['store'] as const) : []),
    ...(access.history ? (['history'] as const) : []),
    ...(access.gripKey ? (['gripKey'] as const) : []),
    ...(access.backend ? (['backend'] as const) : []),
    ...(access.gripSigIssuer ? (['gripSigIssuer'] as const) : []),
    ...(access.sendTo ? (['queue'] as const) : []),
    ...(access.sendTo?.includes('clientMessages') ? (['lane'] as const) : []),
    ...(access.manageConnections ? (['sender'] as const) : []),
  ];
}

/**
 * Function `name`'s resources out of `available`: exactly those its access grants, each of which must be there.
 *
 * @throws Error (code `MISSING_RESOURCE`) when the platform did not provide a granted resource: a bug in the platform.
 */
export function grantedResources<N extends HandlerName>(
  name: N,
  basics: FunctionBasics,
  available: AvailableResources,
): FunctionResources<N> {
  const granted: Record<string, unknown> = { ...basics };
  for (const key of grantedKeys(handlerAccess[name])) {
    const resource = available[key];
    if (resource === undefined) {
      throw Object.assign(new Error(`${name} is granted ${key} but the platform provided none`), { code: 'MISSING_RESOURCE' });
    }
    granted[key] = resource;
  }
  // Checked above: `granted` holds the basics and every resource the access grants, which is what the type says.
  return granted as FunctionResources<N>;
}
