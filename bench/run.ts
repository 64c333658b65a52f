/**
 * `npm run bench`: the fan-out benchmarks of issue 4, against local mode's real components (dynalite, fauxqs,
 * the local Management API with injected latency and rate limit) and real SDK clients. Prints one table per
 * benchmark with every parameter, medians over several runs, and ratios against the limit model's ideal and
 * against a baseline measured in the same run. See `--help`.
 */
import { writeFileSync } from 'node:fs';
import { BENCHMARKS, parseBenchArgs, USAGE, UsageError, type BenchmarkName } from './lib/args.js';
import { createContext, type BenchContext } from './lib/context.js';
import { quietLog } from './lib/log.js';
import { loadAverage, renderTable, type Table } from './lib/report.js';
import { benchCpu } from './cpu.js';
import { benchE2e } from './e2e.js';
import { benchEfficiency } from './efficiency.js';
import { benchScaleOut } from './scaleout.js';
import { benchLane } from './lane.js';
import { benchResume } from './resume.js';
import { benchSoak } from './soak.js';

const RUNNERS: Record<BenchmarkName, (ctx: BenchContext) => Promise<Table>> = {
  efficiency: benchEfficiency,
  cpu: benchCpu,
  scaleout: benchScaleOut,
  e2e: benchE2e,
  soak: benchSoak,
  resume: benchResume,
  lane: benchLane,
};

async function main(): Promise<number> {
  // The SDK warns once per process that it will need Node 22; it would only clutter the tables.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const log = quietLog('bench');
  const ctx = createContext({ quick: args.quick, runs: args.runs, pushpin: args.pushpin, soakSeconds: args.soakSeconds }, log);
  const stopOnSignal = () => {
    void ctx.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  process.stdout.write(
    `# npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\n\nBenchmarks: ${args.only.join(', ')} (of ${BENCHMARKS.join(', ')}); ${args.quick ? 'quick sizes' : 'full sizes'}; ${args.runs} measured run(s) per row. Started ${new Date().toISOString()}.\n\n`,
  );
  const tables: Table[] = [];
  let failed = 0;
  try {
    for (const name of args.only) {
      const started = Date.now();
      log.reset();
      try {
        const table = await RUNNERS[name](ctx);
        const extra = [`took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()}`];
        if (log.counts.warn + log.counts.error > 0) {
          extra.push(`log: ${log.counts.warn} warnings, ${log.counts.error} errors; first: ${log.samples.slice(0, 3).join(' | ')}`);
        }
        const withExtra = { ...table, notes: [...table.notes, ...extra] };
        tables.push(withExtra);
        process.stdout.write(`${renderTable(withExtra)}\n`);
      } catch (e) {
        failed++;
        process.stdout.write(`## ${name}: FAILED\n\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n\n`);
      }
    }
  } finally {
    await ctx.stop();
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(tables, null, 2)}\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
