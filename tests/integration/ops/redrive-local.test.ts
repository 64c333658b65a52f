/**
 * `npm run redrive -- --local` against real local queues: it finds them through the state file a running local
 * mode writes, and moves both dead-letter queues back, with no AWS CLI and no URLs to copy.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLocalState, writeLocalState } from '#src/local/state-file.js';
import { startLocalFanoutQueues, type LocalFanoutQueues } from '#test-helpers/local-sqs.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let local: LocalFanoutQueues;
let dir: string;

beforeAll(async () => {
  local = await startLocalFanoutQueues();
  dir = mkdtempSync(join(tmpdir(), 'redrive-local-'));
});
afterAll(async () => {
  await local.stop();
  rmSync(dir, { recursive: true, force: true });
});

const count = async (url: string): Promise<number> =>
  Number(
    (await local.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.[
      'ApproximateNumberOfMessages'
    ],
  );

describe('npm run redrive -- --local', () => {
  it('moves both dead-letter queues of the running local mode back to their queues', async () => {
    const { urls } = local;
    await local.sqs.send(new SendMessageCommand({ QueueUrl: urls.delayedDeadLetterQueueUrl, MessageBody: '{"dead":1}' }));
    await local.sqs.send(
      new SendMessageCommand({
        QueueUrl: urls.orderedDeadLetterQueueUrl,
        MessageBody: '{"dead":2}',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );
    const path = join(dir, 'local.json');
    writeLocalState(path, { pid: process.pid, sqsEndpoint: local.services.sqsEndpoint, queues: urls });

    // Asynchronously: fauxqs runs in this test's process and must keep answering.
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', '--local'], {
      cwd: root,
      env: { ...process.env, GRIP_LOCAL_STATE: path, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('"moved":1');
    expect(await count(urls.delayedDeadLetterQueueUrl)).toBe(0);
    expect(await count(urls.orderedDeadLetterQueueUrl)).toBe(0);
    expect(await count(urls.delayedQueueUrl)).toBe(1);
    expect(await count(urls.orderedQueueUrl)).toBe(1);
  });

  it('says how to start local mode when none is running', () => {
    expect(readLocalState(join(dir, 'missing.json'))).toEqual({ ok: false, error: expect.stringContaining('start it with npm start') });
    const stale = join(dir, 'stale.json');
    writeLocalState(stale, { pid: 2 ** 22 + 17, sqsEndpoint: 'http://127.0.0.1:1', queues: local.urls });
    expect(readLocalState(stale)).toEqual({ ok: false, error: expect.stringContaining('is no longer running') });
  });
});
