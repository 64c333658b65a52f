/**
 * One connection's fair share of the local gateway (issue 10: one client sending 2,000 messages in a burst raised
 * another client's round trip from 8 ms to 3.7 s). Each connection's messages run through a pump with its own
 * bound on invocations in flight and a token-bucket message rate; past either, the pump stops reading the
 * client's socket (TCP backpressure, as Pushpin does) instead of dropping anything, and reads on once it caught up.
 */

import { numberOption } from './options.js';

export interface MessagePumpOptions<T> {
  /** `$default` invocations of this connection in flight at once (≥ 1). */
  readonly concurrency: number;
  /** Messages per second this connection may start, with a burst of as many (≥ 1). */
  readonly ratePerSecond: number;
  readonly run: (item: T) => Promise<void>;
  /** Stop reading from the client (`ws.pause()`); called once per stall. */
  readonly pause: () => void;
  /** Read again (`ws.resume()`). */
  readonly resume: () => void;
  readonly now?: () => number;
}

/**
 * Runs a connection's messages in arrival order of start, at most `concurrency` at a time and at most
 * `ratePerSecond` started per second (burst: one second's worth). Never drops an item: what cannot start waits,
 * and the source is paused while anything waits.
 */
export class MessagePump<T> {
  readonly #options: MessagePumpOptions<T>;
  readonly #now: () => number;
  readonly #waiting: T[] = [];
  #inFlight = 0;
  #tokens: number;
  #refilledAt: number;
  #timer: NodeJS.Timeout | null = null;
  #paused = false;
  #closed = false;

  constructor(options: MessagePumpOptions<T>) {
    numberOption('concurrency', options.concurrency, 1, { min: 1, integer: true });
    numberOption('ratePerSecond', options.ratePerSecond, 1, { min: 1 });
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.ratePerSecond;
    this.#refilledAt = this.#now();
  }

  /** Items waiting to start (not counting those running). */
  get waiting(): number {
    return this.#waiting.length;
  }

  push(item: T): void {
    if (this.#closed) return;
    this.#waiting.push(item);
    this.#drain();
  }

  /** Forgets what waits (the connection closed); running items finish on their own. */
  close(): void {
    this.#closed = true;
    this.#waiting.length = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #drain(): void {
    this.#refill();
    while (this.#waiting.length > 0 && this.#inFlight < this.#options.concurrency && this.#tokens >= 1) {
      const item = this.#waiting.shift();
      if (item === undefined) break;
      this.#tokens -= 1;
      this.#inFlight++;
      void this.#options.run(item).finally(() => {
        this.#inFlight--;
        if (!this.#closed) this.#drain();
      });
    }
    if (this.#waiting.length > 0) {
      if (!this.#paused) {
        this.#paused = true;
        this.#options.pause();
      }
      // Out of tokens (not of slots): come back when the next one is due; a finishing run drains otherwise.
      if (this.#tokens < 1 && this.#timer === null) {
        const dueIn = Math.ceil(((1 - this.#tokens) / this.#options.ratePerSecond) * 1000);
        this.#timer = setTimeout(() => {
          this.#timer = null;
          if (!this.#closed) this.#drain();
        }, dueIn);
      }
    } else if (this.#paused) {
      this.#paused = false;
      this.#options.resume();
    }
  }

  #refill(): void {
    const now = this.#now();
    const { ratePerSecond } = this.#options;
    this.#tokens = Math.min(ratePerSecond, this.#tokens + ((now - this.#refilledAt) / 1000) * ratePerSecond);
    this.#refilledAt = now;
  }
}
