/**
 * Prints the context table for README.md, or (`--cdk-json`) cdk.json with the context defaults refreshed and
 * the other keys (feature flags, app command) kept. tests/infrastructure/docs.test.ts fails when either drifts.
 */
import { readFileSync } from 'node:fs';
import { contextDefaults, contextTableMarkdown } from '../lib/context-docs.js';

if (process.argv.includes('--cdk-json')) {
  const path = new URL('../../cdk.json', import.meta.url);
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('cdk.json is not a JSON object');
  const context = 'context' in raw && typeof raw.context === 'object' && raw.context !== null ? raw.context : {};
  const flags = Object.fromEntries(Object.entries(context).filter(([key]) => key.includes(':')));
  console.log(JSON.stringify({ ...raw, context: { ...contextDefaults(), ...flags } }, null, 2));
} else {
  console.log(contextTableMarkdown());
}
