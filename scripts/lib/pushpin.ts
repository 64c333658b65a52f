/**
 * Runs the Debian Pushpin package in the foreground from a scratch configuration: for the side-by-side in the
 * end-to-end benchmark (`npm run bench`) and for the differential conformance suite (`npm run conformance`).
 * The package's own configuration does not start zurl, so every WebSocket would get a 502; the fix
 * (docs/local-services.md §6): run zurl from the runner, point the zurl specs into the scratch rundir, and raise
 * `message_rate` from 2,500/s, which would throttle a fan-out to 1,000 clients. Every port is a free one, so neither local mode's defaults
 * (8080/5561) nor a Pushpin somebody else runs on this machine are disturbed. `stop()` sends SIGTERM to the
 * runner (which stops condure, zurl, proxy and handler) and SIGKILL only if it has not exited after 5 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The runner binary; `PUSHPIN_BIN` points elsewhere (a build from source, another prefix). */
export const PUSHPIN_BIN = process.env['PUSHPIN_BIN'] ?? '/usr/bin/pushpin';

/** The `[handler]` settings a caller may change; the rest are the Debian package's defaults. */
export interface PushpinHandlerSettings {
  /** Deliveries per second. Default here 100,000 (the package ships 2,500, which throttles big fan-outs). */
  readonly messageRate: number;
  /** Max time (ms) an item waits for its `prev-id`. Package default 5,000. */
  readonly messageWait: number;
  /** Seconds an item `id` is remembered for de-duplication. Package default 60. */
  readonly idCacheTtl: number;
  /** Subscriptions per connection. Package default 20. */
  readonly connectionSubscriptionMax: number;
}

export interface PushpinOptions {
  readonly backendPort: number;
  readonly sigKey: string;
  /** Where the scratch directory is made (and removed on stop). Default: the OS temp directory. */
  readonly scratchRoot?: string;
  readonly handler?: Partial<PushpinHandlerSettings>;
  /** Pushpin's `log_level`: 2 = info (default), 3 = debug. */
  readonly logLevel?: number;
}

export interface PushpinInstance {
  /** Where clients connect: `ws://127.0.0.1:<http_port>/`. */
  readonly wsUrl: string;
  /** The GRIP control URL (publishes go to `<controlUrl>/publish/`). */
  readonly controlUrl: string;
  readonly version: string;
  /** The scratch directory: configuration, run dir and the merged log (`pushpin.out`). */
  readonly dir: string;
  /** The last `bytes` characters of Pushpin's merged output. */
  logTail(bytes?: number): string;
  stop(): Promise<void>;
}

export function pushpinInstalled(): boolean {
  return existsSync(PUSHPIN_BIN);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function pushpinVersion(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(PUSHPIN_BIN, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolve('unknown'));
    child.on('close', () => resolve(out.trim().split('\n')[0] ?? 'unknown'));
  });
}

/** Starts Pushpin routing every request to the backend on `backendPort` over WebSocket-over-HTTP. */
export async function startPushpin(options: PushpinOptions): Promise<PushpinInstance> {
  const root = options.scratchRoot ?? os.tmpdir();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(path.join(root, 'pushpin-'));
  const handler: PushpinHandlerSettings = {
    messageRate: 100_000,
    messageWait: 5_000,
    idCacheTtl: 60,
    connectionSubscriptionMax: 20,
    ...options.handler,
  };
  const [httpPort, publishPort, pushInPort, pushInSubPort, commandPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const conf = `[global]
include={libdir}/internal.conf
rundir=${dir}/run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:${httpPort}
logdir=${dir}/log
log_level=${options.logLevel ?? 2}
client_buffer_size=8192
client_maxconn=50000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=routes
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
log_from=false
log_user_agent=false
sig_iss=pushpin
sig_key=${options.sigKey}
updates_check=off
zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in
zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream
zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out

[handler]
push_in_spec=tcp://127.0.0.1:${pushInPort}
push_in_sub_specs=tcp://127.0.0.1:${pushInSubPort}
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port=${publishPort}
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{rundir}/{ipc_prefix}stats
command_spec=tcp://127.0.0.1:${commandPort}
message_rate=${handler.messageRate}
message_hwm=25000
message_wait=${handler.messageWait}
id_cache_ttl=${handler.idCacheTtl}
connection_subscription_max=${handler.connectionSubscriptionMax}
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
`;
  writeFileSync(path.join(dir, 'pushpin.conf'), conf);
  writeFileSync(path.join(dir, 'routes'), `* 127.0.0.1:${options.backendPort},over_http\n`);
  const outFile = path.join(dir, 'pushpin.out');
  const logFd = openSync(outFile, 'a');
  const child: ChildProcess = spawn(PUSHPIN_BIN, ['--config', path.join(dir, 'pushpin.conf'), '--merge-output'], {
    cwd: dir,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.on('error', () => {
    exited = true;
  });

  const logTail = (bytes = 2_000): string => {
    try {
      return readFileSync(outFile, 'utf8').slice(-bytes);
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (!exited && child.pid !== undefined) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  while (!((await accepts(httpPort)) && (await accepts(publishPort)))) {
    if (exited || Date.now() > deadline) {
      const output = logTail();
      await stop();
      throw new Error(`Pushpin did not start; its last output:\n${output}`);
    }
    await sleep(20);
  }
  return {
    wsUrl: `ws://127.0.0.1:${httpPort}/`,
    controlUrl: `http://127.0.0.1:${publishPort}`,
    version: await pushpinVersion(),
    dir,
    logTail,
    stop,
  };
}
