/**
 * The bundled chat example resumes across a server-side disconnect (issue 14): a client closed by the server
 * reconnects as the chat page does, with `last=<id of the last message it saw>`, and gets the messages it missed,
 * in order, before new ones. With an id the server no longer has, it gets the page's "gap" notice instead.
 */
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { connectionsTable } from '#src/config/resources.js';
import { startLocal, type LocalStack } from '#src/local/start.js';
import { RecordingLog } from '#test-helpers/fakes.js';
import { ClientPool, waitFor, type E2EClient } from '#test-helpers/e2e.js';

const KEY = 'chat-resume-key';

describe('the chat example across a server-side disconnect', () => {
  let stack: LocalStack;
  const clients = new ClientPool();

  beforeAll(async () => {
    stack = await startLocal({
      wsPort: 0,
      controlPort: 0,
      examplePort: 0,
      gripKey: KEY,
      sweepIntervalMs: 600_000,
      log: new RecordingLog(),
      worker: { waitTimeSeconds: 1 },
    });
  });
  afterAll(async () => {
    await clients.closeAll();
    await stack?.stop();
  });

  const join = (name: string, last?: string) =>
    clients.connect(`${stack.wsUrl}/chat?${new URLSearchParams({ room: 'resume', name, ...(last ? { last } : {}) }).toString()}`);
  const chat = (client: E2EClient) =>
    client.messages.flatMap((m) => {
      const parsed = JSON.parse(m) as { type: string; id?: string; text?: string };
      return parsed.type === 'message' ? [parsed] : parsed.type === 'gap' ? [{ type: 'gap' }] : [];
    });
  /** The connection id the server gave the client named `name` (the page never learns it; the store knows). */
  async function connectionIdOf(name: string): Promise<string> {
    const out = await DynamoDBDocumentClient.from(stack.clients.dynamo).send(new ScanCommand({ TableName: connectionsTable.localName }));
    const found = (out.Items ?? []).find((i) => JSON.stringify(i['handshake'] ?? '').includes(`name=${name}`));
    if (typeof found?.['connectionId'] !== 'string') throw new Error(`no connection for ${name}`);
    return found['connectionId'];
  }

  it('replays the messages a closed client missed when it reconnects with last=<id>', async () => {
    const ann = await join('ann');
    let bob = await join('bob');
    ann.ws.send('before');
    await waitFor(() => chat(bob).length === 1, 'bob to see the first message');
    const last = chat(bob)[0]?.id;

    const control = new ControlClient({ url: stack.controlUrl, key: KEY, iss: 'test', retry: false });
    await control.closeConnection(await connectionIdOf('bob'), { code: 4001, reason: 'server-side disconnect' });
    expect(await bob.closed).toEqual({ code: 4001, reason: 'server-side disconnect' });
    for (const text of ['missed 1', 'missed 2', 'missed 3']) ann.ws.send(text);
    await waitFor(() => chat(ann).length === 4, 'ann to see her own messages');

    bob = await join('bob', last);
    ann.ws.send('after');
    await waitFor(() => chat(bob).length === 4, 'bob to catch up and see the next message');
    expect(chat(bob).map((m) => m.text)).toEqual(['missed 1', 'missed 2', 'missed 3', 'after']);

    // An id the server never had: the page is told it missed messages it cannot get back.
    const cid = await join('cid', 'not-an-id');
    await waitFor(() => chat(cid).length === 1, 'cid to get the gap notice');
    expect(chat(cid)).toEqual([{ type: 'gap' }]);
  });
});
