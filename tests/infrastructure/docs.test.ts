import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contextDefaults, contextTableMarkdown } from '#infrastructure/lib/context-docs.js';
import { cdkJsonContext, projectRoot } from './support.js';

describe('context documentation', () => {
  it('cdk.json carries every default, and nothing else but CDK feature flags', () => {
    const context = cdkJsonContext();
    const ours = Object.fromEntries(Object.entries(context).filter(([key]) => !key.includes(':')));
    expect(ours).toEqual(contextDefaults());
    expect(context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
  });

  it('cdk.json runs the app with tsx', () => {
    const cdkJson: unknown = JSON.parse(readFileSync(new URL('cdk.json', projectRoot), 'utf8'));
    expect(cdkJson).toMatchObject({ app: 'npx tsx infrastructure/bin/app.ts' });
  });

  it('README.md has the generated context table (regenerate: npx tsx infrastructure/bin/context-docs.ts)', () => {
    const docs = readFileSync(new URL('README.md', projectRoot), 'utf8');
    const start = docs.indexOf('<!-- context-table:start -->');
    const end = docs.indexOf('<!-- context-table:end -->');
    expect(start).toBeGreaterThan(0);
    expect(docs.slice(start + '<!-- context-table:start -->'.length, end).trim()).toBe(contextTableMarkdown());
  });
});
