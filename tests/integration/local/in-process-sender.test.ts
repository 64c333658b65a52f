import { afterEach, describe, expect, it } from 'vitest';
import { InProcessConnectionSender } from '#src/local/in-process-sender.js';
import { startLocalGateway, type LocalGateway } from '#src/local/gateway.js';
import { openClient, recordingHandlers, waitFor } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('in-process connection gateway', () => {
  let gateway: LocalGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
  });

  it('posts to a live connection and closes it with the code and reason asked for', async () => {
    const handlers = recordingHandlers();
    gateway = await startLocalGateway({ port: 0, handlers, log: new RecordingLog() });
    const port = new InProcessConnectionSender(gateway.connections);
    const client = await openClient(gateway.url);
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect(await port.post(id, 'hello')).toEqual({ kind: 'ok' });
    await waitFor(() => client.received.length === 1, 5_000, 'the post');
    expect(client.received[0]).toEqual({ data: 'hello', isBinary: false });
    expect(await port.close(id, { code: 4001, reason: 'kicked' })).toEqual({ kind: 'ok' });
    expect(await client.closed).toEqual({ code: 4001, reason: 'kicked' });
    const disconnect = await waitFor(() => handlers.of('DISCONNECT')[0], 5_000, 'DISCONNECT');
    expect(disconnect.requestContext.disconnectStatusCode).toBe(4001);
  });

  it('answers gone for unknown connections and too-large above 128 KB, without throwing', async () => {
    const handlers = recordingHandlers();
    gateway = await startLocalGateway({ port: 0, handlers, log: new RecordingLog() });
    const port = new InProcessConnectionSender(gateway.connections);
    const client = await openClient(gateway.url);
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect(await port.post('missing', 'x')).toEqual({ kind: 'gone' });
    expect(await port.close('missing')).toEqual({ kind: 'gone' });
    expect((await port.post(id, new Uint8Array(131_073))).kind).toBe('too-large');
    client.ws.close();
  });
});
