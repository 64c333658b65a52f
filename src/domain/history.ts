/**
 * Channel history and resume (this server's extension of GRIP): what is kept, how sequences order it, and what a
 * resume (`c:{"type":"subscribe","channel","since"}`) decides. Pure; the catch-up job (`fanout/catch-up.ts`)
 * carries the decisions out.
 *
 * Order comes from the queue, not from clocks: every publish to a channel passes through that channel's FIFO
 * message group, whose sequence numbers (SQS `SequenceNumber`) grow in publish order. An item's sequence is the
 * sequence of the job that started its publish; pieces and continuations carry it. A resume's catch-up job sits
 * in the same group, so "published before the resume" is exactly "a smaller sequence than the catch-up job".
 */
import type { Message } from './message.js';

/** One retained item of a channel. */
export interface HistoryEntry {
  readonly channel: string;
  /** The publish's sequence in its channel (see {@link compareSequence}). */
  readonly sequence: string;
  /** The GRIP item `id` (only items with one are kept: `since` names them). */
  readonly id: string;
  /** Epoch ms when the control API accepted the publish. */
  readonly publishedAt: number;
  readonly message: Message;
  /** Epoch ms after which the item is no longer served (and storage may drop it). */
  readonly expiresAt: number;
}

/** The longest item `id` kept in history (DynamoDB's limit for an index sort key); longer ones are not kept. */
export const MAX_HISTORY_ID_BYTES = 1024;

/** The history settings: `ttlMs` 0 turns history (and so resume) off. */
export interface HistoryConfig {
  readonly ttlMs: number;
  /** A resume replays at most this many items; further behind, it fails (and `recovery-failed` is sent). */
  readonly maxItems: number;
}

/**
 * Orders two sequences: negative, zero or positive as `a` is before, equal to or after `b`. Sequences are decimal
 * strings of up to 128 bits (SQS), so once leading zeros are dropped the longer one is larger and equal lengths
 * compare as text.
 *
 * @example
 * compareSequence('99', '100') // < 0
 */
export function compareSequence(a: string, b: string): number {
  // Leading zeros (fauxqs pads to 20 digits) do not change the number.
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The fixed-width form of a sequence, for storage keys that sort as text (40 digits hold any 128-bit number).
 *
 * @example
 * sortableSequence('42') // '0000000000000000000000000000000000000042'
 */
export function sortableSequence(sequence: string): string {
  return sequence.padStart(SEQUENCE_DIGITS, '0');
}

/** The sequence a storage key holds (see {@link sortableSequence}). */
export function sequenceFromSortable(key: string): string {
  const trimmed = key.replace(/^0+/, '');
  return trimmed === '' ? '0' : trimmed;
}

const SEQUENCE_DIGITS = 40;

/** Whether a string is a sequence as this module expects it: 1–40 decimal digits. */
export function isSequence(value: string): boolean {
  return /^[0-9]{1,40}$/.test(value);
}

/**
 * Whether live fan-out delivers an item with sequence `sequence` to a subscriber: never while it catches up
 * (`resume`), and after a resume only items published after its catch-up (`liveAfter`). An item whose sequence
 * is unknown (a job from before sequences were carried) is delivered: a duplicate beats a loss.
 *
 * @example
 * deliversLive({ connectionId: 'a', liveAfter: '500' }, '480') // false: the catch-up replayed it
 */
export function deliversLive(subscriber: { readonly resume?: string; readonly liveAfter?: string }, sequence: string | undefined): boolean {
  if (subscriber.resume !== undefined) return false;
  if (subscriber.liveAfter === undefined || sequence === undefined) return true;
  return compareSequence(sequence, subscriber.liveAfter) > 0;
}

/** What a resume does, decided from what history holds between `since` and the catch-up job. */
export type ResumeDecision =
  | { readonly kind: 'replay'; readonly items: readonly HistoryEntry[] }
  | { readonly kind: 'failed'; readonly reason: ResumeFailure; readonly detail: string };

export type ResumeFailure = 'history-off' | 'since-unknown' | 'too-far-behind';

/**
 * Decides a resume. `sinceSequence` is where `since` was found (null: not in the retained history); `items` are
 * the retained items after it and before the catch-up job, read with a limit of `maxItems + 1` so that "more
 * than the limit behind" shows as one item too many.
 *
 * @example
 * decideResume({ ttlMs: 3_600_000, maxItems: 1000 }, 'm-41', '17', [entry18, entry19]) // { kind: 'replay', items: [entry18, entry19] }
 */
export function decideResume(
  config: HistoryConfig,
  since: string,
  sinceSequence: string | null,
  items: readonly HistoryEntry[],
): ResumeDecision {
  if (config.ttlMs <= 0) return { kind: 'failed', reason: 'history-off', detail: 'history is off (historyTtlSeconds is 0)' };
  if (sinceSequence === null) {
    return { kind: 'failed', reason: 'since-unknown', detail: `${JSON.stringify(since)} is not in the channel's retained history` };
  }
  if (items.length > config.maxItems) {
    return {
      kind: 'failed',
      reason: 'too-far-behind',
      detail: `more than historyMaxItems (${config.maxItems}) items were published after ${JSON.stringify(since)}`,
    };
  }
  return { kind: 'replay', items };
}
