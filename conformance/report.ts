/** The conformance table: Markdown, so it pastes into notes and pull requests as it is. */

export type Verdict = 'same' | 'differs' | 'documented';

export interface Row {
  readonly group: string;
  readonly scenario: string;
  readonly title: string;
  readonly pushpin: string;
  readonly us: string;
  readonly verdict: Verdict;
  /** Why a difference is documented, or what a documented scenario must produce instead. */
  readonly reason?: string;
  /** Why the scenario needs ≥ 20 s. */
  readonly long?: string;
  readonly ms: number;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function printTable(rows: readonly Row[], labels: { readonly pushpin: string; readonly us: string }, durationMs: number): void {
  const lines = [`| scenario | ${cell(labels.pushpin)} | ${cell(labels.us)} | verdict |`, '|---|---|---|---|'];
  for (const r of rows) {
    const verdict = r.verdict === 'differs' ? '**differs**' : r.verdict;
    lines.push(`| \`${r.scenario}\` ${cell(r.title)} | ${cell(r.pushpin)} | ${cell(r.us)} | ${verdict} |`);
  }
  console.log(lines.join('\n'));
  const notes = rows.filter((r) => r.reason !== undefined || r.long !== undefined);
  if (notes.length > 0) {
    console.log('');
    for (const r of notes) {
      if (r.reason !== undefined) console.log(`- \`${r.scenario}\` (${r.verdict}): ${r.reason}`);
      if (r.long !== undefined) console.log(`- \`${r.scenario}\` takes ≥ 20 s: ${r.long}`);
    }
  }
  const counts = { same: 0, documented: 0, differs: 0 };
  for (const r of rows) counts[r.verdict]++;
  console.log(
    `\n${rows.length} scenarios: ${counts.same} same, ${counts.documented} documented, ${counts.differs} differ; ${(durationMs / 1000).toFixed(0)} s`,
  );
}
