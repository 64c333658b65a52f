/**
 * Opt-in: the packed client package as a backend in Deno and Bun (Web `Request`/`Response`/`fetch`/WebCrypto, no
 * Node adapter), against local mode. Runs only when CLIENT_RUNTIMES names the binaries, e.g.
 * `CLIENT_RUNTIMES=deno=/usr/local/bin/deno,bun=/usr/local/bin/bun npx vitest run tests/integration/client/runtimes.test.ts`;
 * CI has neither runtime, and `npm test` skips it (Node is proven by package.test.ts in every run).
 */
import type { ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientPool } from '#test-helpers/e2e.js';
import type { LocalStack } from '#src/local/start.js';
import { freePort, KEY, packAndInstall, startBackend, startLocalFor } from './support.js';

const runtimes = (process.env['CLIENT_RUNTIMES'] ?? '')
  .split(',')
  .filter((entry) => entry.includes('='))
  .map((entry) => entry.split('=') as [string, string]);

/** A backend on Web APIs only: the README's handler, served by the runtime's own HTTP server. */
const BACKEND = `
import { ControlClient, WebSocketReply, isWsOverHttp, readWebSocketRequest, verifyGripSig } from '@grip-channel-server/client';
const env = (name) => (globalThis.Deno ? Deno.env.get(name) : process.env[name]);
const key = env('GRIP_KEY');
const control = new ControlClient({ url: env('GRIP_CONTROL_URL'), key, iss: 'runtime-backend' });
async function handle(request) {
  if (!isWsOverHttp(request)) return new Response('WebSocket-over-HTTP only', { status: 400 });
  const sig = await verifyGripSig(request, { key });
  if (!sig.signed) return new Response(sig.reason, { status: 401 });
  const read = await readWebSocketRequest(request);
  if (!read.ok) return new Response(read.error.message, { status: 400 });
  const ws = read.value;
  const reply = new WebSocketReply({ request: ws });
  if (ws.isOpening) return reply.accept().subscribe('room').send(navigator.userAgent ?? 'unknown').toResponse();
  for (const event of ws.events) {
    if (event.type === 'TEXT') await control.publish('room', 'echo: ' + event.text, { id: crypto.randomUUID() });
  }
  return reply.toResponse();
}
const port = Number(env('PORT'));
if (globalThis.Deno) Deno.serve({ port, hostname: '127.0.0.1', onListen: () => console.log('listening') }, handle);
else { Bun.serve({ port, hostname: '127.0.0.1', fetch: handle }); console.log('listening'); }
`;

describe.skipIf(runtimes.length === 0)('the packed client in other runtimes', () => {
  let project: string;
  let stack: LocalStack | undefined;
  let backend: ChildProcess | undefined;
  const clients = new ClientPool();

  beforeAll(async () => {
    ({ project } = await packAndInstall('grip-client-runtime-'));
    await writeFile(join(project, 'backend.mjs'), BACKEND);
  }, 120_000);

  afterEach(async () => {
    await clients.closeAll();
    backend?.kill();
    await stack?.stop();
  });

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it.each(runtimes)('%s: accepts, verifies Grip-Sig and publishes through the control API', async (name, binary) => {
    const port = await freePort();
    stack = await startLocalFor(port);
    const args = name === 'deno' ? ['run', '--allow-net', '--allow-env', '--allow-read', 'backend.mjs'] : ['backend.mjs'];
    const env = { GRIP_KEY: KEY, GRIP_CONTROL_URL: stack.controlUrl, PORT: String(port) };
    backend = (await startBackend(binary, args, { cwd: project, env, ready: 'listening' })).process;
    const client = await clients.connect(`${stack.wsUrl}/`);
    console.log(`${name} backend says: ${await client.nth(1)}`);
    client.ws.send('hello');
    expect(await client.nth(2)).toBe('echo: hello');
  });
});
