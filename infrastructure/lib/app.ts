import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackConfig, type StackConfig } from './config.js';
import { GripChannelStack } from './grip-channel-stack.js';
import { checkRequestBudget } from './request-budget.js';

export interface GripChannelApp {
  readonly app: App;
  readonly stack: GripChannelStack;
  readonly config: StackConfig;
}

/**
 * Builds the CDK app exactly as `cdk synth` does: validated context, the stack, and cdk-nag's AwsSolutions checks
 * registered as a validation plugin (synthesis fails on any unacknowledged finding).
 *
 * @param appProps passed to `App` (tests pass `context` and `outdir`; the CLI passes context through the environment).
 * @param env where `TARGET_URL` is looked up when the `targetUrl` context is not set.
 * @throws SettingError for a missing or invalid context value, or values that together exceed the account's API
 *   Gateway request budget (`checkRequestBudget`), before anything is bundled.
 */
export function createApp(appProps: AppProps, env: Readonly<Record<string, string | undefined>>): GripChannelApp {
  const app = new App(appProps);
  const config = readStackConfig((key) => app.node.tryGetContext(key), env);
  checkRequestBudget(config);
  const stack = new GripChannelStack(app, config.stackName, {
    config,
    description: 'GRIP channel server: WebSocket API, control API, fan-out queues and worker (grip-channel-server)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
