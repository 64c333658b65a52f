import { describe, expect, it } from 'vitest';
import { SettingError } from '#src/config/settings.js';
import { readStackConfig } from '#infrastructure/lib/config.js';
import { checkRequestBudget, requestBudget } from '#infrastructure/lib/request-budget.js';
import { cdkJsonContext } from './support.js';

const configOf = (overrides: Record<string, unknown>) => {
  const context: Record<string, unknown> = { ...cdkJsonContext(), targetUrl: 'https://backend.example.com/ws', ...overrides };
  return readStackConfig((key) => context[key], {});
};
const refusal = (overrides: Record<string, unknown>): string => {
  try {
    checkRequestBudget(configOf(overrides));
  } catch (e) {
    if (e instanceof SettingError) return e.message;
    throw e;
  }
  throw new Error('expected the budget to be refused');
};

describe("API Gateway request budget (the account's quota, shared by clients, the control API and the fan-out)", () => {
  it('fits the defaults exactly: 2 lanes × 10 workers × 100 in flight + bursts of 2,000 and 1,000 = the 5,000 burst', () => {
    const budget = checkRequestBudget(configOf({}));
    expect(budget).toMatchObject({ accountRate: 10_000, accountBurst: 5_000, fanoutConcurrent: 2_000, clientConcurrent: 3_000 });
    expect(budget.fanout.map((l) => [l.name, l.concurrent])).toEqual([
      ['ordered lane', 1_000],
      ['delayed lane', 1_000],
    ]);
    expect(budget.clientRate).toBe(1_500);
  });

  it('refuses the old default of 20 workers per lane, naming every key, its value and the quota', () => {
    const message = refusal({ workerMaxConcurrency: 20 });
    expect(message).toContain('the fan-out can keep 4,000 Management API requests in flight');
    expect(message).toContain('ordered lane: workerMaxConcurrency 20 × fanoutConcurrency 100');
    expect(message).toContain('delayed lane: workerMaxConcurrency 20 × fanoutConcurrency 100');
    expect(message).toContain('stageBurstLimit 2000');
    expect(message).toContain('controlBurstLimit 1000');
    expect(message).toContain("7,000 concurrent requests, above the account's burst of 5,000 (half of accountRequestQuota 10000");
    expect(message).toContain('README.md, "Deploy to AWS", "API Gateway request budget"');
  });

  it('takes a raised quota from accountRequestQuota, and a Region with the lower 2,500 default refuses the defaults', () => {
    expect(checkRequestBudget(configOf({ workerMaxConcurrency: 100, accountRequestQuota: 50_000 })).accountBurst).toBe(25_000);
    expect(refusal({ accountRequestQuota: 2_500 })).toContain("above the account's burst of 1,250 (half of accountRequestQuota 2500");
    expect(() =>
      checkRequestBudget(
        configOf({
          accountRequestQuota: 2_500,
          workerMaxConcurrency: 2,
          fanoutConcurrency: 25,
          stageBurstLimit: 600,
          stageRateLimit: 500,
          controlBurstLimit: 250,
          controlRateLimit: 100,
        }),
      ),
    ).not.toThrow();
  });

  it('refuses client stages whose steady rates alone reach the quota', () => {
    expect(
      refusal({ stageRateLimit: 9_000, stageBurstLimit: 9_000, controlRateLimit: 1_000, workerMaxConcurrency: 2, fanoutConcurrency: 1 }),
    ).toContain('stageRateLimit 9000 + controlRateLimit 1000 = 10,000 requests/s leaves nothing of accountRequestQuota 10000');
  });

  it('grows with every event source mapping that calls the Management API (one line per lane)', () => {
    const budget = requestBudget(configOf({ workerMaxConcurrency: 7, fanoutConcurrency: 13 }));
    expect(budget.fanoutConcurrent).toBe(2 * 7 * 13);
    expect(budget.fanout.every((l) => l.formula === 'workerMaxConcurrency 7 × fanoutConcurrency 13')).toBe(true);
  });
});
