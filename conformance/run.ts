/**
 * `npm run conformance [-- --only=<group>[,<group>…]] [-- --json]`: the differential suite. Starts the shared
 * backend, Pushpin (Debian package) and local mode, runs every scenario against both, prints the table
 * scenario × {Pushpin, us} with a verdict, and exits 0 only if every scenario is `same` or a documented
 * difference (conformance/documented.ts). Pushpin is stopped with SIGTERM afterwards, also on failure or Ctrl-C.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushpinInstalled, PUSHPIN_BIN } from '../scripts/lib/pushpin.js';
import { Backend } from './backend.js';
import { verdictOf } from './documented.js';
import { GROUPS } from './groups/index.js';
import { printTable, type Row } from './report.js';
import { ScenarioContext, type Group, type Scenario } from './scenario.js';
import { startSystems, type System, type Systems } from './systems.js';

interface Args {
  readonly only: readonly string[] | null;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let only: string[] | null = null;
  let json = false;
  for (const arg of argv) {
    if (arg === '--json') json = true;
    else if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg === '--help' || arg === '-h') {
      console.log(`usage: npm run conformance [-- --only=<group>[,<group>]] [-- --json]\ngroups: ${GROUPS.map((g) => g.name).join(', ')}`);
      process.exit(0);
    } else {
      console.error(`conformance: unknown argument ${arg} (try --help)`);
      process.exit(2);
    }
  }
  const unknown = (only ?? []).filter((name) => !GROUPS.some((g) => g.name === name));
  if (unknown.length > 0) {
    console.error(`conformance: unknown group(s) ${unknown.join(', ')}; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
    process.exit(2);
  }
  return { only, json };
}

async function runOn(system: System, scenario: Scenario, backend: Backend): Promise<string> {
  const ctx = new ScenarioContext(system, scenario, backend);
  try {
    return await scenario.run(ctx);
  } catch (e) {
    return `error: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    await ctx.dispose();
  }
}

async function runScenario(group: Group, scenario: Scenario, systems: Systems, backend: Backend, json: boolean): Promise<Row> {
  const started = Date.now();
  const [pushpin, us] = await Promise.all([runOn(systems.pushpin, scenario, backend), runOn(systems.us, scenario, backend)]);
  const { verdict, reason } = verdictOf(scenario.id, pushpin, us);
  const row: Row = {
    group: group.name,
    scenario: scenario.id,
    title: scenario.title,
    pushpin,
    us,
    verdict,
    ...(reason !== undefined ? { reason } : {}),
    ...(scenario.long !== undefined ? { long: scenario.long } : {}),
    ms: Date.now() - started,
  };
  if (!json) console.error(`  ${verdict.padEnd(10)} ${scenario.id} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return row;
}

async function main(): Promise<number> {
  // The SDK warns once per process that it will need Node 22; it would only clutter the table.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const args = parseArgs(process.argv.slice(2));
  if (!pushpinInstalled()) {
    console.error(
      `conformance: Pushpin is not installed (${PUSHPIN_BIN} is missing). The suite compares this server with Pushpin 1.36 from Debian:\n` +
        '  sudo apt-get update && sudo apt-get install -y pushpin\n' +
        '(the package does not need to run as a service; the suite starts its own copy with a scratch configuration under .pushpin/).',
    );
    return 2;
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const groups = GROUPS.filter((g) => args.only === null || args.only.includes(g.name));
  const started = Date.now();
  const backend = new Backend();
  await backend.start();
  let systems: Systems | null = null;
  const stopAll = async () => {
    const s = systems;
    systems = null;
    await s?.stop();
    await backend.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`conformance: ${signal}, stopping Pushpin and local mode`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  let labels: { pushpin: string; us: string } | undefined;
  try {
    systems = await startSystems(backend, repoRoot);
    labels = { pushpin: systems.pushpin.label, us: systems.us.label };
    for (const group of groups) {
      if (!args.json) console.error(`${group.name}: ${group.title}`);
      const s = systems;
      if (group.concurrent) rows.push(...(await Promise.all(group.scenarios.map((sc) => runScenario(group, sc, s, backend, args.json)))));
      else for (const sc of group.scenarios) rows.push(await runScenario(group, sc, s, backend, args.json));
    }
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const durationMs = Date.now() - started;
  if (backend.unrouted.length > 0) console.error(`conformance: backend requests with no scenario route: ${backend.unrouted.join(', ')}`);
  const names = labels ?? { pushpin: 'Pushpin', us: 'us' };
  if (args.json) console.log(JSON.stringify({ systems: names, durationMs, rows }, null, 2));
  else printTable(rows, names, durationMs);
  return rows.every((r) => r.verdict !== 'differs') ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`conformance: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);
