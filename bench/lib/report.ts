/** Medians, percentiles and the plain-text tables `npm run bench` prints. */
import os from 'node:os';

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0–100) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** `1,234` */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** `0.93` */
export function ratio(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

/** `12.3` */
export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

/** `1,234 (1,100–1,300)`: a median with the range of the runs. */
export function spread(values: readonly number[], format: (n: number) => string = int): string {
  if (values.length === 0) return '–';
  if (values.length === 1) return format(values[0] ?? Number.NaN);
  return `${format(median(values))} (${format(min(values))}–${format(max(values))})`;
}

export interface Table {
  readonly title: string;
  /** `name: value` lines printed above the table: every parameter of the benchmark. */
  readonly parameters: readonly (readonly [string, string])[];
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes: readonly string[];
}

/** Renders a table as Markdown-compatible text (also readable as is in a terminal). */
export function renderTable(table: Table): string {
  const lines: string[] = [`## ${table.title}`, ''];
  for (const [name, value] of table.parameters) lines.push(`- ${name}: ${value}`);
  lines.push('');
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  lines.push(line(table.columns));
  lines.push(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table.rows) lines.push(line(row));
  if (table.notes.length > 0) {
    lines.push('');
    for (const note of table.notes) lines.push(`- ${note}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One line describing the machine and how busy it is right now (the box is shared: load matters). */
export function machineLine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${load} (1/5/15 min)`;
}

export function loadAverage(): string {
  return os.loadavg()[0]?.toFixed(2) ?? '–';
}
