/**
 * What `npm start` reads, as people read it: `npm start --help` and the README's local-mode table, both from the
 * settings tables (`src/config/settings.ts`); tests/infrastructure/docs.test.ts checks the README.
 */
import { allowedValues, backendSettings, localSettings, runtimeSettings, type Setting } from '../config/settings.js';

/** Every setting `npm start` reads, from a flag or its environment variable (the flag wins). */
export const localReadable: readonly Setting[] = [backendSettings, localSettings, runtimeSettings].flatMap((table) => Object.values(table));

const flagged = (): Setting[] => localReadable.filter((s) => s.flag !== undefined);
const tuning = (): string[] => localReadable.flatMap((s) => (s.flag === undefined && s.env !== undefined ? [s.env] : []));

function wrap(text: string, indent: number, width = 116): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** `npm start --help`. */
export function help(): string {
  const lines = ['npm start [-- options]     the GRIP channel server, locally', '', 'Options (a flag, or its environment variable):'];
  for (const s of flagged()) {
    const fallback = s.default === undefined ? '' : ` Default ${String(s.default)}.`;
    lines.push(`  --${s.flag} <value>`.padEnd(26) + `${s.env ?? ''}`.padEnd(18) + wrap(`${s.description}${fallback}`, 44));
  }
  lines.push('  Tuning, as on AWS (environment only):', `    ${wrap(tuning().join(', '), 4)}`);
  return lines.join('\n');
}

/** The README's table of `npm start` settings. */
export function localSettingsMarkdown(): string {
  const lines = ['| Variable (flag) | Default | Meaning |', '|---|---|---|'];
  for (const s of flagged()) {
    const fallback = s.default === undefined ? '(none)' : `\`${String(s.default)}\``;
    const meaning = s.type === 'enum' ? `${s.description} One of ${allowedValues(s)}.` : s.description;
    lines.push(`| \`${s.env}\` (\`--${s.flag}\`) | ${fallback} | ${meaning.replaceAll('|', '\\|')} |`);
  }
  lines.push(
    `| ${tuning()
      .map((e) => `\`${e}\``)
      .join(', ')} | as on AWS | the tuning values of the context table under "Deploy to AWS" |`,
  );
  return lines.join('\n');
}
