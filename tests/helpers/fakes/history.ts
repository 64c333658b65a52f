/** The channel history in memory, with the adapter's contract (see `ChannelHistory` in domain/ports.ts). */
import { compareSequence, type HistoryEntry } from '#src/domain/history.js';
import type { ChannelHistory, StoreError } from '#src/domain/ports.js';
import { err, ok, type Result } from '#src/domain/result.js';
import { Failures, storeError } from './failures.js';

type HistoryMethod = 'record' | 'findSequence' | 'readAfter' | 'readLatest';

/**
 * Items per channel, kept in sequence order; `record` of an existing (channel, sequence) replaces it, as PutItem
 * does. Reads skip expired items (`expiresAt <= now`). `fail`/`failOnce` make a method return an error.
 */
export class InMemoryHistory implements ChannelHistory {
  readonly items = new Map<string, HistoryEntry[]>();
  readonly calls: { readonly method: HistoryMethod; readonly args: readonly unknown[] }[] = [];
  readonly #failures = new Failures<HistoryMethod, StoreError>();

  fail(method: HistoryMethod, error: StoreError = storeError(), times = Number.POSITIVE_INFINITY): this {
    this.#failures.set(method, error, times);
    return this;
  }
  failOnce(method: HistoryMethod, error: StoreError = storeError()): this {
    return this.fail(method, error, 1);
  }
  /** The channel's items, oldest first, expired or not. */
  of(channel: string): HistoryEntry[] {
    return [...(this.items.get(channel) ?? [])];
  }

  async record(entry: HistoryEntry): Promise<Result<void, StoreError>> {
    const failed = this.#begin('record', [entry]);
    if (failed) return err(failed);
    const list = (this.items.get(entry.channel) ?? []).filter((e) => e.sequence !== entry.sequence);
    list.push(entry);
    list.sort((a, b) => compareSequence(a.sequence, b.sequence));
    this.items.set(entry.channel, list);
    return ok(undefined);
  }

  async findSequence(channel: string, id: string, now: number): Promise<Result<string | null, StoreError>> {
    const failed = this.#begin('findSequence', [channel, id]);
    if (failed) return err(failed);
    const found = this.#live(channel, now).filter((e) => e.id === id);
    return ok(found.at(-1)?.sequence ?? null);
  }

  async readAfter(
    channel: string,
    after: string | null,
    before: string | null,
    limit: number,
    now: number,
  ): Promise<Result<HistoryEntry[], StoreError>> {
    const failed = this.#begin('readAfter', [channel, after, before, limit]);
    if (failed) return err(failed);
    const items = this.#live(channel, now).filter(
      (e) => (after === null || compareSequence(e.sequence, after) > 0) && (before === null || compareSequence(e.sequence, before) < 0),
    );
    return ok(items.slice(0, limit));
  }

  async readLatest(channel: string, limit: number, now: number): Promise<Result<HistoryEntry[], StoreError>> {
    const failed = this.#begin('readLatest', [channel, limit]);
    if (failed) return err(failed);
    return ok(this.#live(channel, now).slice(-limit));
  }

  #live(channel: string, now: number): HistoryEntry[] {
    return (this.items.get(channel) ?? []).filter((e) => e.expiresAt > now);
  }

  #begin(method: HistoryMethod, args: readonly unknown[]): StoreError | null {
    this.calls.push({ method, args });
    return this.#failures.take(method);
  }
}
