/** The command line of `npm run bench`. */
import { parseArgs } from 'node:util';

export const BENCHMARKS = ['efficiency', 'cpu', 'scaleout', 'e2e', 'soak', 'resume', 'lane'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

export interface BenchArgs {
  readonly only: readonly BenchmarkName[];
  readonly quick: boolean;
  readonly runs: number;
  readonly pushpin: boolean;
  readonly json: string | null;
  /** How long the soak runs, s (default 1,800; 60 with --quick). */
  readonly soakSeconds: number;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --only=NAMES   run only these benchmarks, comma-separated: ${BENCHMARKS.join(', ')} (or 1–7)
                 (the soak runs 30 minutes: it is part of the default set only when named)
  --quick        small sizes and one measured run: a quick check that everything works
  --runs=N       measured runs per row (default 3; 1 with --quick)
  --pushpin      end to end: also run Pushpin (/usr/bin/pushpin) side by side
  --soak-seconds=N  how long the soak runs (default 1800; 60 with --quick)
  --json=FILE    also write the tables as JSON to FILE
  --help         this text

Benchmarks never run in \`npm test\`. Set BENCH_VERBOSE=1 to see warnings and errors as they happen.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'BENCH_USAGE';
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        runs: { type: 'string' },
        pushpin: { type: 'boolean', default: false },
        json: { type: 'string' },
        'soak-seconds': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values } = parsed;
  const only: BenchmarkName[] = [];
  // The soak takes half an hour: only when asked for by name.
  for (const raw of (values.only ?? BENCHMARKS.filter((b) => b !== 'soak').join(',')).split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const byNumber = /^[1-7]$/.test(name) ? BENCHMARKS[Number(name) - 1] : undefined;
    const match = byNumber ?? BENCHMARKS.find((b) => b === name);
    if (!match) throw new UsageError(`unknown benchmark "${raw}"; choose from ${BENCHMARKS.join(', ')}`);
    if (!only.includes(match)) only.push(match);
  }
  if (only.length === 0) throw new UsageError('--only names no benchmark');
  const quick = values.quick ?? false;
  let runs = quick ? 1 : 3;
  if (values.runs !== undefined) {
    if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1 || Number(values.runs) > 50)
      throw new UsageError(`--runs must be an integer from 1 to 50, got "${values.runs}"`);
    runs = Number(values.runs);
  }
  let soakSeconds = quick ? 60 : 1_800;
  if (values['soak-seconds'] !== undefined) {
    if (!/^\d+$/.test(values['soak-seconds']) || Number(values['soak-seconds']) < 10)
      throw new UsageError(`--soak-seconds must be an integer of at least 10, got "${values['soak-seconds']}"`);
    soakSeconds = Number(values['soak-seconds']);
  }
  return {
    only: BENCHMARKS.filter((b) => only.includes(b)),
    soakSeconds,
    quick,
    runs,
    pushpin: values.pushpin ?? false,
    json: values.json ?? null,
    help: values.help ?? false,
  };
}
