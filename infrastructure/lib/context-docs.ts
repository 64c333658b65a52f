/**
 * The context values, as documentation: the table in `README.md` is generated from the settings tables, and a
 * test checks that the committed file matches. Print it with `npx tsx infrastructure/bin/context-docs.ts`.
 */
import { allowedValues, backendSettings, deploySettings, runtimeSettings, type Setting, type SettingTable } from '#src/config/settings.js';
import { stackSettings } from './config.js';

interface Row {
  readonly key: string;
  readonly default: string;
  readonly allowed: string;
  readonly description: string;
}

function row(key: string, s: Setting): Row {
  const allowed = s.type !== 'integer' ? allowedValues(s) : s.oneOf === undefined ? `${s.min} – ${s.max}` : s.oneOf.join(', ');
  return { key, default: s.default === undefined ? '(none)' : String(s.default), allowed, description: s.description };
}

const rows = (table: SettingTable): Row[] => Object.values(table).flatMap((s) => (s.context === undefined ? [] : [row(s.context, s)]));

/** Every context key the app reads, grouped as the table shows them. */
function contextRows(): { title: string; rows: Row[] }[] {
  return [
    { title: 'Backend (required: targetUrl, or TARGET_URL in the environment of cdk synth/deploy)', rows: rows(backendSettings) },
    { title: 'Functions (also passed to every function as environment variables)', rows: rows(runtimeSettings) },
    { title: 'Fan-out worker, throttles, redrive', rows: rows(deploySettings) },
    { title: 'Stack: names, switches, sizing, logs and alarms', rows: rows(stackSettings) },
  ];
}

const cell = (text: string): string => text.replaceAll('|', '\\|');

/** The Markdown table of context values for `README.md`. */
export function contextTableMarkdown(): string {
  const lines = ['| Context key | Default | Allowed | What it does |', '|---|---|---|---|'];
  for (const group of contextRows()) {
    lines.push(`| **${group.title}** | | | |`);
    for (const r of group.rows) lines.push(`| \`${r.key}\` | ${cell(r.default)} | ${cell(r.allowed)} | ${cell(r.description)} |`);
  }
  return lines.join('\n');
}
