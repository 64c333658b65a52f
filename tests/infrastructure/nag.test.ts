import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize, type Synthesized } from './support.js';

const targetUrl = 'https://backend.example.com/ws';

/** Unacknowledged findings, one line each (an empty list is the goal). */
function findings(root: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(root);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
}

/** Every acknowledgement in the tree: rule id → reason, with the construct it sits on. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  const out: { path: string; id: string; reason: string }[] = [];
  const visit = (c: IConstruct) => {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason: String(reason) });
      }
    }
    for (const child of c.node.children) visit(child);
  };
  visit(root);
  return out;
}

describe('the stack as deployed (cdk.json defaults): cdk-nag AwsSolutions and CloudFormation validation', () => {
  let synth: Synthesized;
  // Bundles the five functions and runs every synth-time check `cdk synth` runs: cdk-nag as a validation plugin
  // and CDK's CloudFormation validation, strict (cdk.json sets @aws-cdk/core:validateAgainstDefaultRules).
  beforeAll(() => {
    synth = synthesize({ targetUrl }, { bundle: true, cloudFormationValidation: true });
  });
  afterAll(() => synth.dispose());

  it('has zero unacknowledged findings', () => {
    expect(findings(synth.app)).toEqual([]);
  });

  it('acknowledges exactly these rules, each with a written reason', () => {
    const acks = acknowledgements(synth.app);
    for (const a of acks) expect(a.reason.length, `${a.id} at ${a.path}`).toBeGreaterThan(80);
    const summary = acks.map((a) => `${a.id.replace(/\[Resource::.*\]$/, '[Resource::…]')} @ ${a.path.split('/').slice(1, 3).join('/')}`);
    expect(summary.sort()).toEqual(
      [
        'AwsSolutions-SMG4 @ GripKey/Secret',
        'AwsSolutions-APIG4 @ WebSocket/Api',
        'AwsSolutions-APIG4 @ Control/Api',
        'AwsSolutions-IAM5[Resource::…] @ Handlers/WsMessage',
        'AwsSolutions-IAM5[Resource::…] @ Handlers/FanoutWorker',
        ...['WsConnect', 'WsMessage', 'WsDisconnect', 'Control', 'FanoutWorker'].map((f) => `AwsSolutions-L1 @ Handlers/${f}`),
      ].sort(),
    );
    // The Management API wildcard is acknowledged for this stage's @connections path only.
    expect(acks.filter((a) => a.id.startsWith('AwsSolutions-IAM5') && a.path.includes('Handlers')).map((a) => a.id)).toEqual([
      expect.stringMatching(/execute-api:<AWS::Region>:<AWS::AccountId>:<WebSocketApi[0-9A-F]+>\/live\/\*\/@connections\/\*\]$/),
      expect.stringMatching(/\/live\/\*\/@connections\/\*\]$/),
    ]);
  });

  it('bundles every handler as an ESM file that defines require for CommonJS dependencies, with the AWS SDK inside', () => {
    const assets = readdirSync(synth.outdir).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(5);
    for (const asset of assets) {
      const code = readFileSync(join(synth.outdir, asset, 'index.mjs'), 'utf8');
      expect(code.startsWith("import { createRequire as __bannerCreateRequire } from 'node:module'; const require =")).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
      // The locked SDK runs, not the runtime's: no import or require of an @aws-sdk or @smithy package is left.
      // (The SDK's own error messages quote `[require("@aws-sdk/signature-v4-crt");]`, hence the look-behind.)
      expect(code).not.toMatch(/(?<![[\w.])(?:from|import|require)\s*\(?\s*["'](?:@aws-sdk|@smithy)\//);
      expect(code).toContain('AmazonSQS'); // the SQS client's JSON protocol target prefix, from @aws-sdk/client-sqs
    }
  });
});

describe('the other switch positions: tracing on, account logging role on', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ targetUrl, tracing: true, apiGatewayCloudWatchRole: true });
  });
  afterAll(() => synth.dispose());

  it('has zero unacknowledged findings either; the account role acknowledges its log-group wildcard', () => {
    expect(findings(synth.app)).toEqual([]);
    expect(
      acknowledgements(synth.app).map(
        (a) => `${a.id.replace(/\[Resource::.*\]$/, '[Resource::…]')} @ ${a.path.split('/').slice(1, 3).join('/')}`,
      ),
    ).toContain('AwsSolutions-IAM5[Resource::…] @ ApiGatewayLogging/Role');
  });

  it('adds X-Ray, whose two write actions are the only grant on "*"', () => {
    synth.template.resourcePropertiesCountIs('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } }, 5);
    synth.template.resourceCountIs('AWS::ApiGateway::Account', 1);
    const starGrants = Object.values(synth.template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
        .filter((s) => s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*')))
        .map((s) => [s.Action].flat().sort().join(',')),
    );
    expect(starGrants).toEqual(Array(5).fill('xray:PutTelemetryRecords,xray:PutTraceSegments'));
  });
});
