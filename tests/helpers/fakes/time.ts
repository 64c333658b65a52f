/** Time and randomness for unit tests: nothing waits on a real timer (`ManualClock.sleep` advances the clock and yields one microtask). */

/** A clock that moves only when told to. `clock` and `sleep` are bound functions, ready to inject. */
export class ManualClock {
  /** Every `sleep` asked for, in order (milliseconds). */
  readonly sleeps: number[] = [];
  constructor(public now = 1_800_000_000_000) {}

  readonly clock = (): number => this.now;

  /** Advances the clock by `ms` and yields once, so concurrent work interleaves as it would around a timer. */
  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.now += Math.max(0, ms);
    await Promise.resolve();
  };

  advance(ms: number): void {
    this.now += ms;
  }
}

/** A deterministic source of [0, 1) numbers (mulberry32). */
export function seededRandom(seed = 42): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
