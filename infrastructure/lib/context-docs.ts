/**
 * The context values, as documentation: the table in `README.md` and the defaults in `cdk.json` are both
 * generated from the settings tables, and a test checks that the committed files match.
 * Print them with `npx tsx infrastructure/bin/context-docs.ts`.
 */
import { deploySettings, runtimeSettings, type IntegerSetting } from '#src/config/settings.js';
import { allowedRetentionDays, otherSettings, stackSettings, type OtherSetting } from './config.js';

interface Row {
  readonly key: string;
  readonly default: string;
  readonly allowed: string;
  readonly description: string;
}

const integerRow = (s: IntegerSetting): Row => ({
  key: s.context,
  default: String(s.default),
  allowed: s === stackSettings.logRetentionDays ? allowedRetentionDays.join(', ') : `${s.min} – ${s.max}`,
  description: s.description,
});

const otherRow = (s: OtherSetting): Row => ({
  key: s.context,
  default: s.default === undefined ? '(none)' : String(s.default),
  allowed: s.allowed,
  description: s.description,
});

/** Every context key the app reads, grouped as the table shows them. */
function contextRows(): { title: string; rows: Row[] }[] {
  return [
    { title: 'Stack', rows: Object.values(otherSettings).map(otherRow) },
    { title: 'Functions (also passed to every function as environment variables)', rows: Object.values(runtimeSettings).map(integerRow) },
    { title: 'Fan-out worker, throttles, redrive', rows: Object.values(deploySettings).map(integerRow) },
    { title: 'Sizing, logs and alarms', rows: Object.values(stackSettings).map(integerRow) },
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

/** The defaults `cdk.json` carries: every key that has one (`targetUrl` and `alarmEmail` have none). */
export function contextDefaults(): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const s of Object.values(otherSettings) as OtherSetting[]) if (s.default !== undefined) out[s.context] = s.default;
  for (const table of [runtimeSettings, deploySettings, stackSettings] as Record<string, IntegerSetting>[]) {
    for (const s of Object.values(table)) out[s.context] = s.default;
  }
  return out;
}
