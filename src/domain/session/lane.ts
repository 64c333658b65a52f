/**
 * The ordered lane of client messages (issue 11 §1): Pushpin sends a connection's messages to the backend one
 * request at a time, in arrival order, and applies each reply (meta, subscriptions) before the next request. With
 * `clientMessages: ordered`, `$default` only queues the message in a FIFO group of its own connection; the lane's
 * consumer forwards each connection's waiting messages in one request, in order, as Pushpin does when several wait.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import type { ClientMessageLane, Log, Metrics } from '../ports.js';
import { parseJson } from '../protocol/values.js';
import { err, ok, type Result } from '../result.js';
import type { SessionDeps } from './deps.js';
import { onMessages, onPoll, type MessageOutcome } from './message.js';

/**
 * What the lane carries for a connection: a client message, or a request for a backend request without one — a
 * `Keep-Alive-Interval` poll or a publish `refresh` (both in turn with the connection's messages, as Pushpin's
 * session sends one request at a time).
 */
export type LaneMessage =
  | {
      readonly v: 1;
      readonly connectionId: string;
      readonly text: string;
      /** Epoch ms when `$default` received it: the added latency is measured from here. */
      readonly receivedAt: number;
    }
  | { readonly v: 1; readonly connectionId: string; readonly poll: 'interval' | 'refresh'; readonly receivedAt: number };

const laneBase = { v: z.literal(1), connectionId: z.string().min(1), receivedAt: z.number() };
const laneMessageSchema = z.union([
  z.object({ ...laneBase, text: z.string() }),
  z.object({ ...laneBase, poll: z.enum(['interval', 'refresh']) }),
]);

/** Reads a lane message body; never throws. */
export function parseLaneMessage(body: string): Result<LaneMessage, string> {
  const json = parseJson(body);
  if (!json.ok) return err(`lane message is not JSON: ${json.error}`);
  const parsed = laneMessageSchema.safeParse(json.value);
  return parsed.success ? ok(parsed.data) : err(`lane message has an unexpected shape: ${z.prettifyError(parsed.error)}`);
}

/**
 * `$default` in ordered mode: queue the message in its connection's group. When the lane cannot take it the
 * message is forwarded at once instead (out of order beats lost), with a warning.
 */
export async function queueClientMessage(
  deps: SessionDeps & { readonly lane: ClientMessageLane },
  input: { readonly connectionId: string; readonly text: string; readonly dedupId: string; readonly receivedAt?: number },
): Promise<'queued' | MessageOutcome> {
  const receivedAt = input.receivedAt ?? deps.clock();
  const queued = await deps.lane.enqueue({ v: 1, connectionId: input.connectionId, text: input.text, receivedAt }, input.dedupId);
  if (queued.ok) return 'queued';
  deps.log.warn('could not queue a client message on the ordered lane; forwarding it now, possibly out of order', {
    connectionId: input.connectionId,
    detail: queued.error.message,
  });
  return onMessages(deps, { connectionId: input.connectionId, texts: [input.text] });
}

/** A lane record as the consumer sees it (an SQS record). */
export interface LaneRecord {
  readonly id: string;
  readonly body: string;
  /** The FIFO group (the connection), or null. */
  readonly group: string | null;
}

/** Connections forwarded at once by one consumer invocation. */
const CONNECTIONS_AT_ONCE = 10;

/**
 * The lane's consumer: the records of each connection (in queue order) go to the backend in one request, and its
 * reply is applied before the invocation ends, so the next batch sees its meta and subscriptions. Polls and
 * refreshes ride along with messages (any request serves them); alone, they make one empty request. Connections run
 * side by side. Returns the ids of records to retry: those of a connection whose record could not be read (the
 * queue brings them back, still in order). Malformed records are logged and dropped.
 */
export async function consumeLane(
  deps: SessionDeps,
  records: readonly LaneRecord[],
  observe: { readonly log: Log; readonly metrics: Metrics } = deps,
): Promise<string[]> {
  const byConnection = new Map<string, { ids: string[]; messages: LaneMessage[] }>();
  for (const record of records) {
    const message = parseLaneMessage(record.body);
    if (!message.ok) {
      observe.log.error('a lane record is not a client message; dropped', { recordId: record.id, reason: message.error });
      continue;
    }
    const entry = byConnection.get(message.value.connectionId) ?? { ids: [], messages: [] };
    entry.ids.push(record.id);
    entry.messages.push(message.value);
    byConnection.set(message.value.connectionId, entry);
  }
  // Queue order is the order `$default` invocations sent their messages, which may differ from arrival when two
  // raced: put each connection's batch back in arrival order (API Gateway's timestamp; the sort is stable).
  for (const entry of byConnection.values()) entry.messages.sort((a, b) => a.receivedAt - b.receivedAt);
  const failed: string[] = [];
  await pLimit(CONNECTIONS_AT_ONCE).map([...byConnection], async ([connectionId, { ids, messages }]) => {
    const now = deps.clock();
    for (const m of messages) observe.metrics.timing('LaneLatency', now - m.receivedAt);
    const texts = messages.flatMap((m) => ('text' in m ? [m.text] : []));
    const outcome = texts.length > 0 ? await onMessages(deps, { connectionId, texts }) : await onPoll(deps, connectionId);
    if (outcome.kind === 'unavailable') failed.push(...ids);
  });
  return failed;
}
