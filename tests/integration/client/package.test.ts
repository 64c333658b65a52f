/**
 * The client package as a user gets it: `npm run pack:client` builds the tarball, npm installs it offline into an
 * empty project, and the README's "A complete backend" code block runs there with plain `node` against local mode.
 * Also checks what the package holds (no dependencies, ESM, types that need only Web APIs).
 */
import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientPool, HandshakeRejected } from '#test-helpers/e2e.js';
import type { LocalStack } from '#src/local/start.js';
import { freePort, KEY, packAndInstall, ROOT, run, startBackend, startLocalFor } from './support.js';

let project: string;
let tarball: string;

beforeAll(async () => {
  ({ tarball, project } = await packAndInstall('grip-client-user-'));
}, 120_000);

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the packed client', () => {
  it('installs alone: ESM with types, no dependencies, no scripts', async () => {
    expect(tarball).toMatch(/grip-channel-server-client-\d+\.\d+\.\d+\.tgz$/);
    const installed = join(project, 'node_modules', '@grip-channel-server', 'client');
    const manifest: unknown = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: '@grip-channel-server/client', type: 'module' });
    expect(manifest).not.toHaveProperty('dependencies');
    expect(manifest).not.toHaveProperty('scripts');
    // Nothing else was installed next to it.
    expect(await readdir(join(project, 'node_modules'))).toEqual(expect.arrayContaining(['@grip-channel-server']));
    expect((await readdir(join(project, 'node_modules'))).filter((d) => !d.startsWith('.'))).toEqual(['@grip-channel-server']);
    const files = await readdir(join(installed, 'dist'), { recursive: true });
    expect(files).toEqual(expect.arrayContaining(['index.js', 'node.js', 'types/client/index.d.ts', 'types/client/node.d.ts']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('the main entry uses no Node API: its JS imports nothing and its types check against Web-worker libs alone', async () => {
    const installed = join(project, 'node_modules', '@grip-channel-server', 'client', 'dist');
    for (const file of (await readdir(installed)).filter((f) => f.endsWith('.js') && f !== 'node.js')) {
      const js = await readFile(join(installed, file), 'utf8');
      expect(js, file).not.toMatch(/\bfrom\s*["'](?!\.\/)/);
      expect(js, file).not.toMatch(/\b(Buffer|process|require)\b/);
    }
    await writeFile(
      join(project, 'worker.ts'),
      [
        "import { ControlClient, WebSocketReply, readWebSocketRequest, verifyGripSig } from '@grip-channel-server/client';",
        'export default {',
        '  async fetch(request: Request): Promise<Response> {',
        "    if (!(await verifyGripSig(request, { key: 'k' })).signed) return new Response('no', { status: 401 });",
        '    const read = await readWebSocketRequest(request);',
        '    if (!read.ok) return new Response(read.error.message, { status: 400 });',
        "    await new ControlClient({ url: 'https://control.example', key: 'k', iss: 'w' }).publish('c', 'hi');",
        "    return new WebSocketReply({ request: read.value }).accept().subscribe('c', { since: 'x' }).toResponse();",
        '  },',
        '};',
      ].join('\n'),
    );
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022', 'WebWorker'],
        types: [],
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['worker.ts'],
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await run('node', [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch((e: { stdout?: string }) => e);
    expect('stdout' in checked ? checked.stdout : '').toBe('');
  });
});

describe("the README's complete backend, from the installed package", () => {
  let stack: LocalStack | undefined;
  let backend: ChildProcess | undefined;
  const clients = new ClientPool();

  afterEach(async () => {
    await clients.closeAll();
    backend?.kill();
    await stack?.stop();
  });

  it('runs with plain node against local mode: two clients chat, a bad room is refused', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### A complete backend'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toContain("from '@grip-channel-server/client'");
    await writeFile(join(project, 'chat.mjs'), code ?? '');

    const port = await freePort();
    stack = await startLocalFor(port);
    const started = await startBackend('node', ['chat.mjs'], {
      cwd: project,
      env: { GRIP_KEY: KEY, GRIP_CONTROL_URL: stack.controlUrl, PORT: String(port) },
      ready: 'chat backend on',
    });
    backend = started.process;
    const output = started.output;
    expect(output()).toContain(`chat backend on http://127.0.0.1:${port}`);

    const alice = await clients.connect(`${stack.wsUrl}/chat?room=lobby`);
    const bob = await clients.connect(`${stack.wsUrl}/chat?room=lobby`);
    expect(JSON.parse(await alice.nth(1))).toEqual({ type: 'welcome', room: 'lobby' });
    expect(JSON.parse(await bob.nth(1))).toEqual({ type: 'welcome', room: 'lobby' });
    alice.ws.send('hello from alice');
    for (const client of [alice, bob]) {
      expect(JSON.parse(await client.nth(2))).toMatchObject({ type: 'message', text: 'hello from alice', id: expect.any(String) });
    }

    const refused = await clients.connect(`${stack.wsUrl}/chat?room=no%20spaces`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HandshakeRejected);
    expect((refused as HandshakeRejected).rejection).toMatchObject({ status: 400, body: 'add ?room=<letters, digits, - or _>\n' });
    expect(output()).not.toMatch(/error/i);
  });
});
