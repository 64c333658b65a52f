import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SettingError } from '#src/config/settings.js';
import { readStackConfig } from '#infrastructure/lib/config.js';
import { cdkJsonContext, projectRoot } from './support.js';

const target = 'https://backend.example.com/ws';
const read = (context: Record<string, unknown>, env: Record<string, string> = {}) => readStackConfig((key) => context[key], env);
const errorOf = (context: Record<string, unknown>, env: Record<string, string> = {}): SettingError => {
  try {
    read(context, env);
  } catch (e) {
    if (e instanceof SettingError) return e;
    throw e;
  }
  throw new Error('expected a SettingError');
};

describe('stack configuration from context', () => {
  it('fails without targetUrl, naming the key and the environment variable', () => {
    const e = errorOf({});
    expect(e.code).toBe('INVALID_SETTING');
    expect(e.message).toContain('context "targetUrl" is missing and TARGET_URL is not set');
    expect(e.message).toContain('http:// or https://');
  });

  it('rejects a targetUrl that is not http(s), quoting the value', () => {
    for (const bad of ['ftp://backend.example.com/', 'backend.example.com', 'https://', 42]) {
      const e = errorOf({ targetUrl: bad });
      expect(e.message).toContain(`context "targetUrl" is ${JSON.stringify(bad)}`);
      expect(e.message).toContain('http:// or https:// URL');
    }
  });

  it('takes TARGET_URL when the context has no targetUrl, and prefers the context when both are set', () => {
    expect(read({}, { TARGET_URL: 'http://10.0.0.5:8080/ws' }).backend.targetUrl).toBe('http://10.0.0.5:8080/ws');
    expect(read({ targetUrl: target }, { TARGET_URL: 'http://other/' }).backend.targetUrl).toBe(target);
  });

  it('rejects an out-of-range integer with the key, the value and the range', () => {
    const e = errorOf({ targetUrl: target, workerMaxConcurrency: 1 });
    expect(e.message).toContain('context "workerMaxConcurrency" is 1; it must be an integer from 2 to 1000 (default 10)');
    const s = errorOf({ targetUrl: target, fanoutConcurrency: '5000' });
    expect(s.message).toContain('context "fanoutConcurrency" is "5000"; it must be an integer from 1 to 2000');
    const n = errorOf({ targetUrl: target, workerBatchSize: 'ten' });
    expect(n.message).toContain('context "workerBatchSize" is "ten"; it must be an integer from 1 to 10');
  });

  it('accepts integers given as strings, as `cdk -c key=value` passes them', () => {
    const config = read({ targetUrl: target, workerBatchSize: '7', fanoutConcurrency: '250', handlerMemoryMb: '1024' });
    expect(config.deploy.workerBatchSize).toBe(7);
    expect(config.runtime.fanoutConcurrency).toBe(250);
    expect(config.stack.handlerMemoryMb).toBe(1024);
  });

  it('allows only CloudWatch retention periods for logRetentionDays', () => {
    expect(errorOf({ targetUrl: target, logRetentionDays: 10 }).message).toContain(
      'context "logRetentionDays" is 10; it must be one of 1, 3, 5, 7, 14, 30',
    );
    expect(read({ targetUrl: target, logRetentionDays: 14 }).logRetention).toBe(14);
  });

  it('refuses a burst limit below its rate limit', () => {
    expect(errorOf({ targetUrl: target, stageRateLimit: 500, stageBurstLimit: 100 }).message).toContain(
      'context "stageBurstLimit" is 100; it must be at least the matching rate limit (500)',
    );
    expect(errorOf({ targetUrl: target, controlRateLimit: 50, controlBurstLimit: 10 }).message).toContain(
      'context "controlBurstLimit" is 10',
    );
  });

  it('validates the string and boolean values', () => {
    expect(errorOf({ targetUrl: target, logLevel: 'LOUD' }).message).toContain(
      'context "logLevel" is "LOUD"; it must be TRACE, DEBUG, INFO',
    );
    expect(read({ targetUrl: target, logLevel: 'debug' }).runtime.logLevel).toBe('DEBUG');
    expect(errorOf({ targetUrl: target, tracing: 'yes' }).message).toContain('context "tracing" is "yes"; it must be true or false');
    expect(read({ targetUrl: target, tracing: 'true' }).stack.tracing).toBe(true);
    expect(errorOf({ targetUrl: target, alarmEmail: 'ops' }).message).toContain('context "alarmEmail" is "ops"');
    expect(errorOf({ targetUrl: target, stackName: '1-bad name' }).message).toContain('context "stackName" is "1-bad name"');
    expect(errorOf({ targetUrl: target, gripIss: 'two words' }).message).toContain('context "gripIss" is "two words"');
  });

  it('reads cdk.json as the documented defaults', () => {
    const config = read({ ...cdkJsonContext(), targetUrl: target });
    expect(config).toMatchObject({
      stack: { stackName: 'GripChannelServer', alarmEmail: undefined, tracing: false, apiGatewayCloudWatchRole: false },
      backend: { gripIss: 'pushpin' },
      runtime: { logLevel: 'INFO' },
    });
    expect(config.deploy.workerMemoryMb).toBe(1769);
    expect(config.runtime.fanoutConcurrency).toBe(100);
  });
});

describe('cdk synth with bad context (the CLI path)', () => {
  const app = fileURLToPath(new URL('infrastructure/bin/app.ts', projectRoot));
  // The CDK CLI hands context to the app in CDK_CONTEXT_JSON; nothing is bundled before validation fails.
  const run = (context: Record<string, unknown>, outdir?: string) => {
    const env: Record<string, string | undefined> = { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context) };
    delete env.TARGET_URL;
    if (outdir !== undefined) env.CDK_OUTDIR = outdir;
    return spawnSync(process.execPath, ['--import', 'tsx', app], {
      cwd: fileURLToPath(projectRoot),
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
  };

  it('without targetUrl synthesizes an empty stack carrying the error, so cdk bootstrap works and cdk synth/deploy refuse', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-no-target-'));
    try {
      // As the CLI runs it: the CLI reports error annotations itself (and refuses synth and deploy).
      const out = run({ ...cdkJsonContext(), '@aws-cdk/core:failSynthOnValidationErrors': false }, outdir);
      expect(out.status).toBe(0);
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
        pluginReports: { pluginName: string; violations: { description: string }[] }[];
      };
      expect(report.pluginReports.flatMap((r) => r.violations.map((v) => `${r.pluginName}: ${v.description}`))).toEqual([
        expect.stringMatching(/^Construct Annotations: Configuration error: context "targetUrl" is missing and TARGET_URL is not set/),
      ]);
      const template = JSON.parse(readFileSync(join(outdir, 'GripChannelServer.template.json'), 'utf8'));
      expect(Object.values(template.Resources).map((r) => (r as { Type: string }).Type)).toEqual([
        'AWS::CloudFormation::WaitConditionHandle',
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('without targetUrl still refuses another invalid value, in one line', () => {
    const out = run({ ...cdkJsonContext(), fanoutConcurrency: 0 });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('Configuration error: context "fanoutConcurrency" is 0');
  });

  it('exits 1 with one line naming the keys and the quota when the fan-out could crowd clients out of the API Gateway quota', () => {
    const out = run({ ...cdkJsonContext(), targetUrl: 'https://backend.example.com/', workerMaxConcurrency: 20 });
    expect(out.status).toBe(1);
    const lines = out.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Configuration error: the fan-out can keep 4,000 Management API requests in flight/);
    for (const key of [
      'workerMaxConcurrency 20',
      'fanoutConcurrency 100',
      'stageBurstLimit 2000',
      'controlBurstLimit 1000',
      'accountRequestQuota 10000',
    ]) {
      expect(lines[0]).toContain(key);
    }
  });

  it('exits 1 naming the key, value and range of an out-of-range value', () => {
    const out = run({ ...cdkJsonContext(), targetUrl: 'https://backend.example.com/', workerMaxConcurrency: '5000' });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('context "workerMaxConcurrency" is "5000"; it must be an integer from 2 to 1000');
  });
});
