import { Annotations, App, CfnWaitConditionHandle, Stack, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SettingError, backendSettings, fromContext, fromEnvironment, firstOf, readSettings } from '#src/config/settings.js';
import { readStackConfig, stackSettings, type StackConfig } from './config.js';
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
  const stack = new GripChannelStack(app, config.stack.stackName, {
    config,
    description: 'GRIP channel server: WebSocket API, control API, fan-out queues and worker (grip-channel-server)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}

/**
 * The app `cdk.json` runs. `cdk bootstrap` synthesizes the app too (to find its environments), and it needs no
 * backend: so a missing `targetUrl` does not stop synthesis; it yields a resource-less stack of the same name that
 * carries the error. `cdk synth` and `cdk deploy` then fail with that one message (the CLI refuses stacks with error
 * annotations), while `cdk bootstrap` and `cdk ls` work. Any other invalid setting still throws `SettingError`.
 */
export function createCliApp(appProps: AppProps, env: Readonly<Record<string, string | undefined>>): App {
  const probe = new App(appProps);
  const read = (key: string): unknown => probe.node.tryGetContext(key);
  try {
    readSettings(backendSettings, firstOf(fromContext(read), fromEnvironment(env, [backendSettings.targetUrl])), ['targetUrl']);
  } catch (e) {
    const missing = [read('targetUrl'), env.TARGET_URL].every((raw) => raw === undefined || raw === null || raw === '');
    if (!(e instanceof SettingError) || !missing) throw e;
    // Every other value is still checked, with a stand-in backend.
    readStackConfig(read, { TARGET_URL: 'https://target-url.invalid/' });
    const { stackName } = readSettings(stackSettings, fromContext(read));
    const stack = new Stack(probe, stackName);
    // A template needs one resource; this one does nothing, and the error keeps it from being deployed.
    new CfnWaitConditionHandle(stack, 'TargetUrlMissing');
    Annotations.of(stack).addError(`Configuration error: ${e.message}`);
    return probe;
  }
  return createApp(appProps, env).app;
}
