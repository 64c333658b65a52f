/**
 * The bundled chat backend (src/local/example/chat.ts) over real HTTP, as the server calls it: resume from the
 * page's last message id, the room check, the message limit, and what it publishes (with an id, for history).
 * A real `node:http` server stands in for the control API and records the publishes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGripSig } from '#src/domain/auth.js';
import { decodeEvents, encodeEvents } from '#src/domain/protocol/codec.js';
import type { WsEvent } from '#src/domain/protocol/events.js';
import { startChatBackend, type ChatBackend } from '#src/local/example/chat.js';
import { MAX_CHAT_TEXT_BYTES } from '#src/local/example/chat-page.js';

const KEY = 'chat-example-key';
let chat: ChatBackend;
let control: Server;
const published: unknown[] = [];

beforeAll(async () => {
  control = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      published.push(JSON.parse(body));
      res.end('Published\n');
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  chat = await startChatBackend({ key: KEY, controlUrl, websocketUrl: 'ws://127.0.0.1:1' });
});

afterAll(async () => {
  await chat?.stop();
  control?.closeAllConnections();
  await new Promise<void>((resolve) => (control ? control.close(() => resolve()) : resolve()));
});

/** One WebSocket-over-HTTP request, signed as the server signs it; resolves with the status and decoded events. */
async function post(
  query: string,
  events: WsEvent[],
  meta: Record<string, string> = {},
): Promise<{ status: number; body: string; events: WsEvent[] }> {
  const sig = await signGripSig({ key: KEY, iss: 'pushpin', nowSeconds: Math.floor(Date.now() / 1000) });
  const headers: Record<string, string> = {
    'Content-Type': 'application/websocket-events',
    Accept: 'application/websocket-events',
    'Connection-Id': 'conn-1234',
    'Grip-Sig': sig,
  };
  for (const [name, value] of Object.entries(meta)) headers[`Meta-${name}`] = value;
  const response = await fetch(`${chat.url}/chat?${query}`, { method: 'POST', headers, body: new Uint8Array(encodeEvents(events)) });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.headers.get('content-type') !== 'application/websocket-events') {
    return { status: response.status, body: new TextDecoder().decode(bytes), events: [] };
  }
  const decoded = decodeEvents(bytes);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return { status: response.status, body: '', events: decoded.value };
}

const texts = (events: WsEvent[]) => events.flatMap((e) => (e.type === 'TEXT' ? [e.text] : []));

describe('the chat example backend', () => {
  it('subscribes with since = the last message id the page saw, and a gap notice for when that is impossible', async () => {
    const opened = await post('room=lobby&name=zoe&last=m-7', [{ type: 'OPEN' }]);
    expect(opened.events[0]).toEqual({ type: 'OPEN' });
    expect(texts(opened.events)).toEqual([
      'c:{"type":"subscribe","channel":"room:lobby","since":"m-7","recovery-failed":"{\\"type\\":\\"gap\\"}"}',
      'm:{"type":"welcome","room":"lobby","name":"zoe"}',
    ]);
    const fresh = await post('room=lobby&name=zoe', [{ type: 'OPEN' }]);
    expect(texts(fresh.events)[0]).toBe('c:{"type":"subscribe","channel":"room:lobby","recovery-failed":"{\\"type\\":\\"gap\\"}"}');
  });

  it('refuses an invalid room with the rule the page shows', async () => {
    expect(await post('room=no%20spaces', [{ type: 'OPEN' }])).toMatchObject({
      status: 400,
      body: 'a room name is 1 to 64 letters, digits, - or _\n',
    });
  });

  it('publishes each message with an id (so clients can resume after it), and tells only the sender about one too long', async () => {
    published.length = 0;
    const sent = await post('', [{ type: 'TEXT', text: 'hi <b>all</b>' }], { room: 'lobby', name: 'zoe' });
    expect(sent.events).toEqual([]);
    expect(published).toHaveLength(1);
    const item = (published[0] as { items: { channel: string; id: string; formats: { 'ws-message': { content: string } } }[] }).items[0];
    expect(item?.channel).toBe('room:lobby');
    expect(JSON.parse(item?.formats['ws-message'].content ?? '')).toEqual({
      type: 'message',
      id: item?.id,
      name: 'zoe',
      text: 'hi <b>all</b>',
    });

    const tooLong = await post('', [{ type: 'TEXT', text: 'x'.repeat(MAX_CHAT_TEXT_BYTES + 1) }], { room: 'lobby', name: 'zoe' });
    expect(texts(tooLong.events)).toEqual([
      `m:{"type":"error","text":"not sent: ${MAX_CHAT_TEXT_BYTES + 1} bytes, more than the ${MAX_CHAT_TEXT_BYTES} a chat message may have"}`,
    ]);
    // Escaping can make the envelope outgrow the server's limit even when the text fits: told, not thrown.
    const quotes = await post('', [{ type: 'TEXT', text: '"'.repeat(MAX_CHAT_TEXT_BYTES) }], { room: 'lobby', name: 'zoe' });
    expect(texts(quotes.events)[0]).toMatch(/^m:\{"type":"error","text":"not sent: \d+ bytes once encoded, over the server's 131072"\}$/);
    expect(published).toHaveLength(1);
  });

  it('answers a client ping with a pong', async () => {
    const ping = await post('', [{ type: 'PING', data: new Uint8Array([7]) }], { room: 'lobby', name: 'zoe' });
    expect(ping.events).toEqual([{ type: 'PONG', data: new Uint8Array([7]) }]);
  });
});
