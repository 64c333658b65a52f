/**
 * Additive-increase / multiplicative-decrease control of how many deliveries a worker keeps in flight, so
 * workers that share the account's API Gateway rate slow down on sustained 429s instead of hammering it
 * (TCP's congestion control applied to `LimitExceededException`).
 *
 * - A throttle halves the window, at most once per `cooldownMs` (one burst of 429s is one signal).
 * - Every `window` successes without a throttle add one, up to the configured maximum.
 */
export class AdaptiveConcurrency {
  #current: number;
  #successes = 0;
  #lastDecrease = Number.NEGATIVE_INFINITY;

  constructor(
    readonly max: number,
    private readonly clock: () => number,
    private readonly cooldownMs = 100,
    readonly min = 1,
  ) {
    this.#current = max;
  }

  /** The number of deliveries to keep in flight now. */
  get current(): number {
    return this.#current;
  }

  onSuccess(): void {
    if (this.#current >= this.max) return;
    this.#successes++;
    if (this.#successes >= this.#current) {
      this.#successes = 0;
      this.#current++;
    }
  }

  onThrottle(): void {
    const now = this.clock();
    if (now - this.#lastDecrease < this.cooldownMs) return;
    this.#lastDecrease = now;
    this.#successes = 0;
    this.#current = Math.max(this.min, Math.floor(this.#current / 2));
  }
}
