/**
 * The example backend `npm start` runs when no `TARGET_URL` is given: a chat, written only with the public
 * client library (`src/client`), exactly as a user's backend would be.
 *
 * - `GET /` (or any path) serves a small chat page; `?room=NAME` picks the room, `?name=` the display name.
 * - WebSocket-over-HTTP `POST`s: OPEN → accept, subscribe to `room:<NAME>`, store room and name as meta, send a
 *   welcome; TEXT → publish `<name>: <text>` to the room through the control API; CLOSE → echo it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlClient, PublishError, WebSocketReply, isWsOverHttp, readWebSocketRequest, verifyGripSig } from '../../client/index.js';
import { createNodeHandler } from '../../client/node.js';

export interface ChatBackendOptions {
  /** The GRIP shared key: verifies `Grip-Sig` and signs control requests. */
  readonly key: string;
  /** The control API's base URL (the value people put in `GRIP_URL`). */
  readonly controlUrl: string;
  /** The WebSocket URL the chat page connects to. */
  readonly websocketUrl: string;
  readonly host?: string;
  readonly port?: number;
  readonly log?: (line: string) => void;
}

export interface ChatBackend {
  /** The backend's base URL: `TARGET_URL` for the server, and where a browser opens the chat page. */
  readonly url: string;
  stop(): Promise<void>;
}

const ROOM = /^[\w-]{1,64}$/;

/** Starts the chat backend on loopback. */
export async function startChatBackend(options: ChatBackendOptions): Promise<ChatBackend> {
  const log = options.log ?? (() => {});
  const control = new ControlClient({ url: options.controlUrl, key: options.key, iss: 'example-chat' });
  const page = chatPage(options.websocketUrl);

  async function handle(request: Request): Promise<Response> {
    if (!isWsOverHttp(request)) {
      return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    const sig = await verifyGripSig(request, { key: options.key });
    if (!sig.signed) return new Response(`Grip-Sig not valid: ${sig.reason}\n`, { status: 401 });
    const read = await readWebSocketRequest(request);
    if (!read.ok) return new Response(`${read.error.kind}\n`, { status: 400 });
    const ws = read.value;
    const reply = new WebSocketReply();

    if (ws.isOpening) {
      const params = new URL(request.url).searchParams;
      const room = params.get('room') ?? 'lobby';
      if (!ROOM.test(room)) return reply.reject(400, 'room must be 1-64 letters, digits, - or _\n');
      const name = (params.get('name') ?? `guest-${ws.connectionId.slice(0, 4)}`).replace(/[^\w .-]/g, '').slice(0, 32) || 'guest';
      reply
        .accept()
        .subscribe(`room:${room}`)
        .setMeta('room', room)
        .setMeta('name', name)
        .send(`welcome to ${room}, ${name}! messages you type go to everyone in the room.`);
      log(`chat: ${name} joined ${room}`);
      return reply.toResponse();
    }

    const room = ws.meta['room'];
    const name = ws.meta['name'] ?? 'guest';
    for (const event of ws.events) {
      if (event.type === 'TEXT' && room !== undefined) {
        try {
          await control.publish(`room:${room}`, `${name}: ${event.text}`);
        } catch (e) {
          // The sender still has a working connection; tell them instead of failing the request.
          reply.send(`(not delivered: ${e instanceof PublishError ? e.code : 'error'})`);
        }
      } else if (event.type === 'CLOSE') {
        reply.close(event.code ?? 1000);
      }
    }
    return reply.toResponse();
  }

  const server: Server = createServer(createNodeHandler(handle, { onError: (e) => log(`chat backend error: ${String(e)}`) }));
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function chatPage(websocketUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GRIP chat</title>
<style>
body{font:15px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
#log{border:1px solid #ccc;height:22rem;overflow-y:auto;padding:.5rem;white-space:pre-wrap}
form{display:flex;gap:.5rem;margin-top:.5rem} #text{flex:1} .sys{color:#777}
</style></head><body>
<h1>GRIP chat</h1>
<p>Room <b id="room"></b>. Open this page in two tabs (add <code>?room=NAME&amp;name=YOU</code> to the URL) and talk.</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something" autofocus><button>Send</button></form>
<script>
const params = new URLSearchParams(location.search);
const room = params.get('room') || 'lobby';
document.getElementById('room').textContent = room;
const log = document.getElementById('log');
const line = (text, cls) => { const d = document.createElement('div'); d.textContent = text; if (cls) d.className = cls; log.append(d); log.scrollTop = log.scrollHeight; };
const url = new URL(${JSON.stringify(websocketUrl)});
url.pathname = '/chat';
url.search = params.toString() || 'room=lobby';
let ws;
function connect() {
  ws = new WebSocket(url);
  ws.onopen = () => line('connected', 'sys');
  ws.onmessage = (e) => line(e.data);
  ws.onclose = (e) => { line('disconnected (' + e.code + '), reconnecting in 2 s', 'sys'); setTimeout(connect, 2000); };
}
connect();
document.getElementById('form').onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById('text');
  if (input.value && ws.readyState === WebSocket.OPEN) ws.send(input.value);
  input.value = '';
};
</script></body></html>`;
}
