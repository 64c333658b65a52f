import { describe, expect, it } from 'vitest';
import { handlerAccess, resourcesOf, type HandlerName } from '#src/config/functions.js';
import { loadRuntimeSettings, SettingError } from '#src/config/settings.js';
import { awsResources } from '#src/functions/aws.js';
import { grantedKeys, grantedResources, type FunctionBasics, type FunctionResources } from '#src/functions/resources.js';
import { FakeSender, InMemoryHistory, InMemoryStore, RecordingLog, RecordingMetrics, RecordingQueue } from '#test-helpers/fakes.js';

const basics: FunctionBasics = {
  settings: loadRuntimeSettings({}),
  log: new RecordingLog(),
  metrics: new RecordingMetrics(),
  clock: () => 0,
  afterEach: () => {},
};
const everything = {
  store: new InMemoryStore(() => 0),
  history: new InMemoryHistory(),
  lane: { enqueue: async () => ({ ok: true as const, value: undefined }) },
  queue: new RecordingQueue(),
  sender: new FakeSender(),
  gripKey: 'key-0123456789',
  backend: { targetUrl: 'https://backend.example/ws', gripIss: 'pushpin' },
  gripSigIssuer: 'pushpin',
};
const names = Object.keys(handlerAccess) as HandlerName[];
const basicKeys = Object.keys(basics);

describe('grantedResources', () => {
  it.each(names)('gives %s exactly what its row of handlerAccess grants', (name) => {
    const resources = grantedResources(name, basics, everything);
    expect(Object.keys(resources).sort()).toEqual([...basicKeys, ...grantedKeys(handlerAccess[name])].sort());
  });

  it('refuses to build a function whose granted resource the platform did not provide', () => {
    const { sender: _sender, ...noSender } = everything;
    expect(() => grantedResources('fanout-worker', basics, noSender)).toThrow(
      'fanout-worker is granted sender but the platform provided none',
    );
  });

  it('types each function to see only its grants', () => {
    const control: FunctionResources<'control'> = grantedResources('control', basics, everything);
    expect(control.gripKey).toBe('key-0123456789');
    // @ts-expect-error control is granted no table
    expect(control.store).toBeUndefined();
    const connect: FunctionResources<'ws-connect'> = grantedResources('ws-connect', basics, everything);
    // @ts-expect-error $connect cannot post to connections (API Gateway refuses until it returns)
    expect(connect.sender).toBeUndefined();
    // @ts-expect-error only the worker's queue is also the dead letters
    const _deadLetters = connect.queue.deadLetter;
    expect(connect.queue).toBe(everything.queue);
  });
});

describe('awsResources: a function reads only the environment its access names', () => {
  const workerEnv = {
    AWS_REGION: 'us-east-1',
    TABLE_NAME: 'Connections',
    HISTORY_TABLE_NAME: 'History',
    ORDERED_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/fanout.fifo',
    DELAYED_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/fanout-delayed',
    DELAYED_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/fanout-delayed-dlq',
    CLIENT_MESSAGES_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/client-messages.fifo',
    MANAGEMENT_API_ENDPOINT: 'https://abc.execute-api.us-east-1.amazonaws.com/live',
  };

  it('builds the worker from its seven variables, ignoring (even invalid) ones it is not granted', async () => {
    const worker = await awsResources('fanout-worker', { ...workerEnv, TARGET_URL: 'not a url', GRIP_KEY_SECRET_ARN: '' });
    expect(Object.keys(worker).sort()).toEqual([...basicKeys, 'history', 'lane', 'queue', 'sender', 'store'].sort());
    expect(resourcesOf(handlerAccess['fanout-worker'])).toHaveLength(7);
  });

  it.each(Object.keys(workerEnv).filter((k) => k !== 'AWS_REGION'))('refuses to start without %s, naming it', async (variable) => {
    const env: Record<string, string> = { ...workerEnv };
    delete env[variable];
    const e = await awsResources('fanout-worker', env).catch((thrown: unknown) => thrown);
    expect(e).toBeInstanceOf(SettingError);
    expect((e as SettingError).message).toMatch(new RegExp(`^${variable} is not set; it must be `));
  });

  it('reads every setting before any adapter: a bad TARGET_URL stops ws-disconnect before it reads the GRIP key', async () => {
    const env = { TABLE_NAME: 'Connections', GRIP_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:k', TARGET_URL: 'ftp://x/' };
    await expect(awsResources('ws-disconnect', env)).rejects.toThrow(
      /^TARGET_URL is "ftp:\/\/x\/"; it must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});
