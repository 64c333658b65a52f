// `npm start`: the whole channel server on this machine. Configuration: environment variables, or the flags
// people expect (`--target`, `--key`, …); a bad value stops the start with a message naming the variable.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

import { parseArgs } from 'node:util';
import { ConsoleLog, type LogLevel } from '../adapters/observability.js';
import { loadRuntimeSettings, SettingError } from '../config/settings.js';
import { startLocal, type LocalDelivery, type LocalOptions } from './start.js';

const HELP = `npm start [-- options]     the GRIP channel server, locally

  --target <url>        TARGET_URL    your backend (WebSocket-over-HTTP); absent: the bundled chat example
  --key <secret>        GRIP_KEY      shared key for Grip-Sig and control API auth; absent: a dev key is generated
  --iss <issuer>        GRIP_ISS      iss of Grip-Sig tokens (default pushpin)
  --ws-port <port>      WS_PORT       WebSocket port (default 8080)
  --control-port <port> CONTROL_PORT  control API port (default 5561, Pushpin's)
  --example-port <port> EXAMPLE_PORT  port of the chat example backend (default 8081)
  --delivery <mode>     LOCAL_DELIVERY  direct (default) or management-api (through the local Management API over HTTP)
  --data-dir <dir>      DATA_DIR      keep DynamoDB data on disk (default: in memory)
  --log-level <level>   LOG_LEVEL     debug, info (default), warn, error
  Tuning (as on AWS): BACKEND_TIMEOUT_MS, MAX_SUBSCRIPTIONS_PER_CONNECTION, FANOUT_CONCURRENCY, FANOUT_PAGE_SIZE,
  FANOUT_BUCKETS, FANOUT_MAX_ATTEMPTS, FANOUT_RETRY_BASE_MS, FANOUT_RETRY_MAX_MS, OPEN_GRACE_MS`;

class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
}

function port(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535)
    throw new ConfigError(`${name} is ${JSON.stringify(raw)}; it must be a port number from 0 to 65535`);
  return value;
}

function httpUrl(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is ${JSON.stringify(raw)}; it must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${name} is ${JSON.stringify(raw)}; it must be an http:// or https:// URL`);
  return raw;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  const found = allowed.find((a) => a === raw);
  if (found === undefined) throw new ConfigError(`${name} is ${JSON.stringify(raw)}; it must be one of ${allowed.join(', ')}`);
  return found;
}

function readConfig(argv: string[], env: NodeJS.ProcessEnv): { options: LocalOptions; level: LogLevel } | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      key: { type: 'string' },
      iss: { type: 'string' },
      'ws-port': { type: 'string' },
      'control-port': { type: 'string' },
      'example-port': { type: 'string' },
      delivery: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const level = oneOf('LOG_LEVEL', values['log-level'] ?? env['LOG_LEVEL'], ['debug', 'info', 'warn', 'error'] as const, 'info');
  const key = values.key ?? env['GRIP_KEY'];
  if (key !== undefined && key.length < 8) throw new ConfigError('GRIP_KEY must be at least 8 characters');
  const targetUrl = httpUrl(values.target !== undefined ? '--target' : 'TARGET_URL', values.target ?? env['TARGET_URL']);
  const delivery: LocalDelivery = oneOf(
    'LOCAL_DELIVERY',
    values.delivery ?? env['LOCAL_DELIVERY'],
    ['direct', 'management-api'] as const,
    'direct',
  );
  const dataDir = values['data-dir'] ?? env['DATA_DIR'];
  const iss = values.iss ?? env['GRIP_ISS'];
  const options: LocalOptions = {
    wsPort: port('WS_PORT', values['ws-port'] ?? env['WS_PORT'], 8080),
    controlPort: port('CONTROL_PORT', values['control-port'] ?? env['CONTROL_PORT'], 5561),
    examplePort: port('EXAMPLE_PORT', values['example-port'] ?? env['EXAMPLE_PORT'], 8081),
    settings: loadRuntimeSettings(env),
    delivery,
    ...(targetUrl !== undefined ? { targetUrl } : {}),
    ...(key !== undefined ? { gripKey: key } : {}),
    ...(iss !== undefined && iss !== '' ? { gripIss: iss } : {}),
    ...(dataDir ? { dataDir } : {}),
  };
  return { options, level };
}

async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SettingError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`npm start: ${(e as Error).message}\n\n${HELP}`);
      process.exit(2);
    }
    throw e;
  }
  if (config === 'help') {
    console.log(HELP);
    return;
  }
  const log = new ConsoleLog({ level: config.level });
  let stack;
  try {
    stack = await startLocal({ ...config.options, log });
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'EADDRINUSE') {
      console.error(`npm start: a port is already in use (${error.message}). Set WS_PORT, CONTROL_PORT or EXAMPLE_PORT to free ports.`);
      process.exit(1);
    }
    throw e;
  }
  const wsBase = stack.wsUrl;
  const lines = [
    '',
    'GRIP channel server running locally',
    `  WebSocket        ${wsBase}   (any path and query reach the backend)`,
    `  control API      ${stack.controlUrl}   GRIP_URL=${stack.controlUrl}/?key=${encodeURIComponent(stack.gripKey)}`,
    `  backend          ${stack.targetUrl}${stack.exampleUrl ? '   (bundled chat example)' : ''}`,
    `  GRIP key         ${stack.gripKey}${stack.gripKeyGenerated ? '   (generated for this run; set GRIP_KEY to choose one)' : ''}`,
    `  delivery         ${stack.delivery}; Management API ${stack.managementApiEndpoint}`,
    `  DynamoDB ${stack.dynamoEndpoint}   SQS ${stack.sqsEndpoint}`,
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
    `Publish: curl -H "Authorization: Bearer ${stack.gripKey}" -d '{"items":[{"channel":"room:lobby","formats":{"ws-message":{"content":"hello"}}}]}' ${stack.controlUrl}/publish/`,
    '',
    'Ctrl-C stops everything.',
  );
  console.log(lines.join('\n'));

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
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        console.error(`error while stopping: ${String(e)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

await main();
