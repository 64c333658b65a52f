/**
 * Shared by the client package tests: pack the package and install it offline into an empty project, start local
 * mode in front of a backend port, and run a backend process until it says it listens.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RecordingLog } from '#test-helpers/fakes.js';
import { startLocal, type LocalStack } from '#src/local/start.js';

export const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const KEY = 'client-package-test-key';

/** `npm run pack:client`, then `npm install --offline <tarball>` in a new project; resolves with both paths. */
export async function packAndInstall(prefix: string): Promise<{ tarball: string; project: string }> {
  const packed = await run('node', ['scripts/pack-client.mjs'], { cwd: ROOT });
  const tarball = packed.stdout.trim().split('\n').at(-1) ?? '';
  const project = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
  // --offline: nothing may come from a registry; the tarball must be complete on its own.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project });
  return { tarball, project };
}

/** Local mode on free ports, sending every connection event to `http://127.0.0.1:<backendPort>`. */
export function startLocalFor(backendPort: number): Promise<LocalStack> {
  return startLocal({
    wsPort: 0,
    controlPort: 0,
    gripKey: KEY,
    targetUrl: `http://127.0.0.1:${backendPort}`,
    sweepIntervalMs: 600_000,
    log: new RecordingLog(),
    worker: { waitTimeSeconds: 1 },
  });
}

/** Starts a backend process; resolves once its output contains `ready`, with the process and its output so far. */
export async function startBackend(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; ready: string },
): Promise<{ process: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(options.ready)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
  return { process: child, output: () => output };
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
