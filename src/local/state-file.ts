/**
 * Where a running `npm start` tells other local tools how to reach it: today `npm run redrive -- --local`, which
 * needs the SQS endpoint and the queue URLs (they change every run). The file is readable by this user only, and
 * removed when local mode stops.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const LocalStateSchema = z.object({
  pid: z.number().int(),
  sqsEndpoint: z.string().url(),
  queues: z.object({
    orderedQueueUrl: z.string(),
    orderedDeadLetterQueueUrl: z.string(),
    delayedQueueUrl: z.string(),
    delayedDeadLetterQueueUrl: z.string(),
  }),
});
export type LocalState = z.infer<typeof LocalStateSchema>;

/** The state file's path: `GRIP_LOCAL_STATE` when set, else one per user under the temp directory. */
export function localStatePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env['GRIP_LOCAL_STATE'] ?? join(tmpdir(), `grip-channel-server-${userInfo().username}`, 'local.json');
}

/** Writes the state (mode 0600 in a 0700 directory); returns a function that removes it again. */
export function writeLocalState(path: string, state: LocalState): () => void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(state, null, 2), { mode: 0o600 });
  return () => rmSync(path, { force: true });
}

/** Reads the state of a running local mode, or says why it cannot. */
export function readLocalState(path: string): { ok: true; value: LocalState } | { ok: false; error: string } {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    return { ok: false, error: `no local mode is running (${path} does not exist): start it with npm start` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: `${path} is not JSON; remove it and restart npm start` };
  }
  const parsed = LocalStateSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: `${path} is not a local-mode state file; remove it and restart npm start` };
  try {
    process.kill(parsed.data.pid, 0);
  } catch {
    return { ok: false, error: `the local mode that wrote ${path} (pid ${parsed.data.pid}) is no longer running: start it with npm start` };
  }
  return { ok: true, value: parsed.data };
}
