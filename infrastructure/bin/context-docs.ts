/**
 * Prints the README's context table, or (`--local`) its `npm start` settings table. tests/infrastructure/docs.test.ts
 * fails when either drifts.
 */
import { localSettingsMarkdown } from '#src/local/settings-help.js';
import { contextTableMarkdown } from '../lib/context-docs.js';

console.log(process.argv.includes('--local') ? localSettingsMarkdown() : contextTableMarkdown());
