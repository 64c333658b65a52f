import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contextTableMarkdown } from '#infrastructure/lib/context-docs.js';
import { localSettingsMarkdown } from '#src/local/settings-help.js';
import { cdkJsonContext, projectRoot } from './support.js';

describe('context documentation', () => {
  it('cdk.json carries only CDK feature flags: the stack applies every default itself', () => {
    const context = cdkJsonContext();
    const ours = Object.fromEntries(Object.entries(context).filter(([key]) => !key.includes(':')));
    expect(ours).toEqual({});
    expect(context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
  });

  it('cdk.json runs the app with tsx', () => {
    const cdkJson: unknown = JSON.parse(readFileSync(new URL('cdk.json', projectRoot), 'utf8'));
    expect(cdkJson).toMatchObject({ app: 'npx tsx infrastructure/bin/app.ts' });
  });

  const generated = (marker: string): string => {
    const docs = readFileSync(new URL('README.md', projectRoot), 'utf8');
    const start = docs.indexOf(`<!-- ${marker}:start -->`);
    const end = docs.indexOf(`<!-- ${marker}:end -->`);
    expect(start).toBeGreaterThan(0);
    return docs.slice(start + `<!-- ${marker}:start -->`.length, end).trim();
  };

  it('README.md has the generated context table (regenerate: npx tsx infrastructure/bin/context-docs.ts)', () => {
    expect(generated('context-table')).toBe(contextTableMarkdown());
  });

  it('README.md has the generated npm start table (regenerate: npx tsx infrastructure/bin/context-docs.ts --local)', () => {
    expect(generated('local-settings')).toBe(localSettingsMarkdown());
  });
});
