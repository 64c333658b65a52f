/**
 * The API Gateway request budget, checked at synth. API Gateway throttles every API of an account in a Region
 * through one token bucket: a steady rate (`accountRequestQuota`, 10,000 requests/s by default) and a burst, the
 * most request submissions it fulfils at once before answering 429. The bucket is shared by the WebSocket API
 * (clients' `$connect`, frames, `$disconnect`), the control API and the Management API calls the fan-out worker
 * makes (`@connections` posts and deletes). A fan-out that may hold more requests at once than the burst leaves
 * over can push clients' handshakes and the control API into 429s (docs/aws-stack-facts.md, "API Gateway's
 * account quota").
 *
 * Each party's most concurrent requests are added up and must fit the account's burst, and the client stages'
 * steady rates must fit under the account's rate. README.md, "Deploy to AWS", explains the arithmetic.
 */
import { SettingError } from '#src/config/settings.js';
import type { StackConfig } from './config.js';

/** One party that sends requests through the account's bucket, and the context keys that size it. */
export interface BudgetLine {
  readonly name: string;
  /** How the figure is made, with the context keys and their values (for the error message and the README). */
  readonly formula: string;
  /** Most requests it can have submitted at once. */
  readonly concurrent: number;
}

export interface RequestBudget {
  /** Requests per second the account admits steadily (`accountRequestQuota`). */
  readonly accountRate: number;
  /** Most concurrent submissions the account admits: half the rate, as AWS sets it. */
  readonly accountBurst: number;
  /** Event source mappings whose worker calls the Management API, each `maxConcurrency` × `fanoutConcurrency`. */
  readonly fanout: readonly BudgetLine[];
  /** The client-facing stages, at their burst limits. */
  readonly clients: readonly BudgetLine[];
  /** Steady requests/s the client stages may take (their rate limits). */
  readonly clientRate: number;
  readonly fanoutConcurrent: number;
  readonly clientConcurrent: number;
}

/**
 * AWS sets the burst from the rate: 5,000 for the default 10,000 requests/s and 1,250 for the 2,500 requests/s of
 * the newer Regions. Customers cannot change it; a raised rate gets a burst AWS chooses, assumed here to keep the ratio.
 */
const burstPerRate = 0.5;

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * The budget for a configuration. A new consumer of the queues (another event source mapping of a function that
 * posts to connections) is one more `fanout` line.
 */
export function requestBudget(config: StackConfig): RequestBudget {
  const { deploy, runtime, stack } = config;
  const mapping = (lane: string): BudgetLine => ({
    name: `${lane} lane`,
    formula: `workerMaxConcurrency ${deploy.workerMaxConcurrency} × fanoutConcurrency ${runtime.fanoutConcurrency}`,
    concurrent: deploy.workerMaxConcurrency * runtime.fanoutConcurrency,
  });
  const fanout = [mapping('ordered'), mapping('delayed')];
  const clients: BudgetLine[] = [
    { name: 'WebSocket stage', formula: `stageBurstLimit ${deploy.stageBurstLimit}`, concurrent: deploy.stageBurstLimit },
    { name: 'control API', formula: `controlBurstLimit ${deploy.controlBurstLimit}`, concurrent: deploy.controlBurstLimit },
  ];
  const sum = (lines: readonly BudgetLine[]) => lines.reduce((total, line) => total + line.concurrent, 0);
  return {
    accountRate: stack.accountRequestQuota,
    accountBurst: Math.floor(stack.accountRequestQuota * burstPerRate),
    fanout,
    clients,
    clientRate: deploy.stageRateLimit + deploy.controlRateLimit,
    fanoutConcurrent: sum(fanout),
    clientConcurrent: sum(clients),
  };
}

/**
 * Refuses a configuration whose parties can together exceed the account's quota.
 *
 * @throws SettingError naming the context keys, their values, the quota and what to change.
 */
export function checkRequestBudget(config: StackConfig): RequestBudget {
  const budget = requestBudget(config);
  const quota = `accountRequestQuota ${budget.accountRate}, API Gateway's per-account, per-Region quota shared by every API and the Management API`;
  const advice = 'See README.md, "Deploy to AWS", "API Gateway request budget".';
  const { deploy } = config;
  if (budget.clientRate >= budget.accountRate) {
    throw new SettingError(
      `stageRateLimit ${deploy.stageRateLimit} + controlRateLimit ${deploy.controlRateLimit} = ${fmt(budget.clientRate)} requests/s ` +
        `leaves nothing of ${quota} for the fan-out's Management API calls. Lower the rate limits, or set accountRequestQuota to your ` +
        `account's raised quota. ${advice}`,
    );
  }
  const concurrent = budget.fanoutConcurrent + budget.clientConcurrent;
  if (concurrent > budget.accountBurst) {
    const lines = (ls: readonly BudgetLine[]) => ls.map((l) => `${l.name}: ${l.formula}`).join('; ');
    throw new SettingError(
      `the fan-out can keep ${fmt(budget.fanoutConcurrent)} Management API requests in flight (${lines(budget.fanout)}) and the ` +
        `client stages admit bursts of ${fmt(budget.clientConcurrent)} (${lines(budget.clients)}): ${fmt(concurrent)} concurrent ` +
        `requests, above the account's burst of ${fmt(budget.accountBurst)} (half of ${quota}), so clients' handshakes and ` +
        `publishes could be refused with 429 during a large broadcast. Lower workerMaxConcurrency or fanoutConcurrency (or the ` +
        `burst limits), or set accountRequestQuota to your account's raised quota. ${advice}`,
    );
  }
  return budget;
}
