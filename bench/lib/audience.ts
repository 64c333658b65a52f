import type { IdFamily } from './ids.js';

/** The 20,000-subscriber channel benchmarks 1 and 2 share (seeded once per bench run). */
export function efficiencyAudience(quick: boolean): { readonly channel: string; readonly family: IdFamily } {
  return { channel: 'bench-efficiency', family: { prefix: 'e', count: quick ? 4_000 : 20_000 } };
}

/** The 100,000-subscriber channel of benchmark 3. */
export function scaleOutAudience(quick: boolean): { readonly channel: string; readonly family: IdFamily } {
  return { channel: 'bench-scaleout', family: { prefix: 's', count: quick ? 10_000 : 100_000 } };
}
