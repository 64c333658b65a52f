/**
 * `npm start` as a person runs it (src/local/cli.ts in its own process): the banner shows the GRIP key only when
 * it generated one (issue 10: a key the user set was printed into terminals and scrollback), says where the
 * store and queues are reachable, and Ctrl-C stops everything with one summary line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../../src/local/cli.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Starts the CLI, waits for its banner, stops it with SIGINT; resolves with everything it printed. */
function runOnce(env: Record<string, string>): Promise<{ banner: string; output: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI], {
      env: {
        ...process.env,
        WS_PORT: '0',
        CONTROL_PORT: '0',
        EXAMPLE_PORT: '0',
        LOG_LEVEL: 'WARN',
        GRIP_LOCAL_STATE: join(scratch, `state-${Math.random()}.json`),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let banner = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner within 30 s; output so far:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (banner === '' && output.includes('Ctrl-C stops everything.')) {
        banner = output;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ banner, output, code });
    });
  });
}

describe('npm start (the CLI)', () => {
  it('never prints a key the user chose, prints a generated one, and stops with one summary line', async () => {
    const chosen = 'a-key-the-user-chose-0123456789';
    const withKey = await runOnce({ GRIP_KEY: chosen });
    expect(withKey.banner, withKey.output).toContain('GRIP channel server running locally');
    expect(withKey.banner, withKey.output).toContain('from GRIP_KEY (not shown)');
    expect(withKey.output).not.toContain(chosen);
    expect(withKey.banner).toMatch(/DynamoDB unix:\/\S+ {3}SQS unix:\/\S+ {3}\(reachable by this OS user only\)/);
    expect(withKey.output, withKey.output).toMatch(/SIGINT: stopping…\n.*stopped/i);
    expect(withKey.code, withKey.output).toBe(0);

    const generated = await runOnce({ GRIP_KEY: '' });
    expect(generated.banner, generated.output).toMatch(/GRIP key {9}\S+ {3}\(generated for this run; set GRIP_KEY to choose one\)/);
  });
});
