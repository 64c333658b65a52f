// `npm start`: the whole channel server on this machine. Configuration: environment variables, or the flags
// people expect (`--target`, `--key`, …); a bad value stops the start with a message naming the variable.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

import { parseArgs } from 'node:util';
import { ConsoleLog } from '../adapters/observability.js';
import {
  backendSettings,
  firstOf,
  fromEnvironment,
  fromFlags,
  localSettings,
  readSettings,
  runtimeSettings,
  SettingError,
} from '../config/settings.js';
import { help, localReadable } from './settings-help.js';
import { stopLine } from './cli-summary.js';
import { portProblems } from './ports.js';
import { localStatePath, writeLocalState } from './state-file.js';
import { startLocal, type LocalOptions } from './start.js';

function readConfig(argv: string[], env: NodeJS.ProcessEnv): LocalOptions | 'help' {
  const flags = Object.fromEntries(localReadable.flatMap((s) => (s.flag === undefined ? [] : [[s.flag, { type: 'string' as const }]])));
  const { values } = parseArgs({ args: argv, options: { ...flags, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) return 'help';
  const source = firstOf(fromFlags(values), fromEnvironment(env));
  const local = readSettings(localSettings, source);
  const backend = readSettings(backendSettings, source);
  return {
    wsPort: local.wsPort,
    controlPort: local.controlPort,
    examplePort: local.examplePort,
    delivery: local.delivery,
    limits: {
      clientMessageConcurrency: local.clientMessageConcurrency,
      clientMessageRate: local.clientMessageRate,
      controlHeadersTimeoutMs: local.controlHeadersTimeoutMs,
      controlRequestTimeoutMs: local.controlRequestTimeoutMs,
      controlMaxConnections: local.controlMaxConnections,
    },
    settings: readSettings(runtimeSettings, source),
    gripIss: backend.gripIss,
    ...(backend.targetUrl !== undefined ? { targetUrl: backend.targetUrl } : {}),
    ...(local.gripKey !== undefined ? { gripKey: local.gripKey } : {}),
    ...(local.dataDir !== undefined ? { dataDir: local.dataDir } : {}),
  };
}

async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof SettingError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`npm start: ${(e as Error).message}\n\n${help()}`);
      process.exit(2);
    }
    throw e;
  }
  if (config === 'help') {
    console.log(help());
    return;
  }
  const problems = await portProblems('127.0.0.1', [
    { setting: 'WS_PORT', port: config.wsPort ?? localSettings.wsPort.default },
    { setting: 'CONTROL_PORT', port: config.controlPort ?? localSettings.controlPort.default },
    ...(config.targetUrl === undefined ? [{ setting: 'EXAMPLE_PORT', port: config.examplePort ?? localSettings.examplePort.default }] : []),
  ]);
  if (problems.length > 0) {
    console.error(
      `npm start: cannot listen:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSet WS_PORT, CONTROL_PORT or EXAMPLE_PORT (0 picks a free port).`,
    );
    process.exit(1);
  }
  const log = new ConsoleLog({ level: config.settings?.logLevel });
  let stack;
  try {
    stack = await startLocal({ ...config, log });
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'EADDRINUSE') {
      console.error(`npm start: a port is already in use (${error.message}). Set WS_PORT, CONTROL_PORT or EXAMPLE_PORT to free ports.`);
      process.exit(1);
    }
    throw e;
  }
  const removeState = writeLocalState(localStatePath(), {
    pid: process.pid,
    sqsEndpoint: stack.sqsEndpoint,
    queues: stack.queues,
  });
  const wsBase = stack.wsUrl;
  // A key the user chose is theirs to keep out of terminals and scrollback: only a generated one is printed.
  const key = stack.gripKeyGenerated ? stack.gripKey : '$GRIP_KEY';
  const lines = [
    '',
    'GRIP channel server running locally',
    `  WebSocket        ${wsBase}   (any path and query reach the backend)`,
    `  control API      ${stack.controlUrl}   GRIP_URL=${stack.controlUrl}/?key=${stack.gripKeyGenerated ? encodeURIComponent(key) : key}`,
    `  backend          ${stack.targetUrl}${stack.exampleUrl ? '   (bundled chat example)' : ''}`,
    `  GRIP key         ${stack.gripKeyGenerated ? `${key}   (generated for this run; set GRIP_KEY to choose one)` : 'from GRIP_KEY (not shown)'}`,
    `  delivery         ${stack.delivery}; Management API ${stack.managementApiEndpoint}`,
    `  DynamoDB ${stack.dynamoEndpoint}   SQS ${stack.sqsEndpoint}   (reachable by this OS user only)`,
    '',
  ];
  if (stack.exampleUrl) {
    lines.push(
      'Try it:',
      `  open ${stack.exampleUrl}/?room=lobby in two browser tabs, or run in two terminals:`,
      `  npx wscat -c "${wsBase}/chat?room=lobby&name=alice"`,
      '',
    );
  } else {
    lines.push(`Try it: npx wscat -c "${wsBase}/"`, '');
  }
  lines.push(
    `Publish: curl -H "Authorization: Bearer ${key}" -d '{"items":[{"channel":"room:lobby","formats":{"ws-message":{"content":"hello"}}}]}' ${stack.controlUrl}/publish/`,
    '',
    'Dead letters: npm run redrive -- --local   (moves both dead-letter queues back)',
    'Ctrl-C stops everything.',
  );
  // Listening before the banner: a Ctrl-C (or a script's SIGINT) the moment the banner appears must stop cleanly;
  // without a listener yet, Node would die of the signal's default action.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.error('forced exit');
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    stack
      .stop()
      .then((summary) => {
        removeState();
        // Piped stdout is asynchronous: exit once the line is written, or it is lost (a log file, a CI step).
        process.stdout.write(`${stopLine(summary)}\n`, () => process.exit(0));
      })
      .catch((e: unknown) => {
        console.error(`error while stopping: ${String(e)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  console.log(lines.join('\n'));
}

await main();
