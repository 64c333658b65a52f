/**
 * The example backend `npm start` runs when no `TARGET_URL` is given: a chat, written only with the public
 * client library (`src/client`), exactly as a user's backend would be.
 *
 * - `GET /` (or any path) serves the chat page (`chat-page.ts`); `?room=NAME` picks the room, `?name=` the name.
 * - WebSocket-over-HTTP `POST`s: OPEN → check the room (400 with the reason if invalid), accept, subscribe to
 *   `room:<NAME>` (resuming after `?last=<id>`, the last message the page saw), store room and name as meta, send
 *   a welcome; TEXT → publish `{type:'message', id, name, text}` to the room with that `id`; CLOSE → echo it.
 *   Everything the page gets is JSON: `welcome`, `message`, `error` (to the sender only) and `gap` (resume failed).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  ControlClient,
  GripUsageError,
  MAX_MESSAGE_BYTES,
  PublishError,
  WebSocketReply,
  isWsOverHttp,
  readWebSocketRequest,
  verifyGripSig,
} from '../../client/index.js';
import { createNodeHandler } from '../../client/node.js';
import { chatPage, MAX_CHAT_TEXT_BYTES, ROOM_PATTERN, ROOM_RULE } from './chat-page.js';

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

const ROOM = new RegExp(ROOM_PATTERN);
const utf8 = new TextEncoder();

/** Starts the chat backend on loopback. */
export async function startChatBackend(options: ChatBackendOptions): Promise<ChatBackend> {
  const log = options.log ?? (() => {});
  const control = new ControlClient({ url: options.controlUrl, key: options.key, iss: 'example-chat' });
  const page = chatPage(options.websocketUrl);

  async function handle(request: Request): Promise<Response> {
    if (!isWsOverHttp(request)) {
      return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
    }
    const sig = await verifyGripSig(request, { key: options.key });
    if (!sig.signed) return new Response(`Grip-Sig not valid: ${sig.reason}\n`, { status: 401 });
    const read = await readWebSocketRequest(request);
    if (!read.ok) return new Response(`${read.error.kind}\n`, { status: 400 });
    const ws = read.value;
    const reply = new WebSocketReply({ request: ws });

    if (ws.isOpening) {
      const params = new URL(request.url).searchParams;
      const room = params.get('room') ?? 'lobby';
      if (!ROOM.test(room)) return reply.reject(400, `${ROOM_RULE}\n`);
      const name = (params.get('name') ?? '').replace(/[^\w .-]/g, '').slice(0, 32) || `guest-${ws.connectionId.slice(0, 4)}`;
      reply
        .accept()
        .subscribe(`room:${room}`, {
          // The page passes the id of the last message it saw: the server replays what it missed.
          since: params.get('last') || undefined,
          recoveryFailed: JSON.stringify({ type: 'gap' }),
        })
        .setMeta('room', room)
        .setMeta('name', name)
        .send(JSON.stringify({ type: 'welcome', room, name }));
      log(`chat: ${name} joined ${room}`);
      return reply.toResponse();
    }

    const room = ws.meta['room'];
    const name = ws.meta['name'] ?? 'guest';
    for (const event of ws.events) {
      if (event.type === 'TEXT' && room !== undefined) {
        await publish(reply, room, name, event.text);
      } else if (event.type === 'CLOSE') {
        reply.close(event.code ?? 1000);
      }
    }
    return reply.toResponse();
  }

  /** Publishes one chat message; what goes wrong is told to the sender, whose connection keeps working. */
  async function publish(reply: WebSocketReply, room: string, name: string, text: string): Promise<void> {
    const textBytes = utf8.encode(text).length;
    if (textBytes > MAX_CHAT_TEXT_BYTES) {
      reply.send(
        JSON.stringify({
          type: 'error',
          text: `not sent: ${textBytes} bytes, more than the ${MAX_CHAT_TEXT_BYTES} a chat message may have`,
        }),
      );
      return;
    }
    const id = randomUUID();
    const message = JSON.stringify({ type: 'message', id, name, text });
    const bytes = utf8.encode(message).length;
    if (bytes > MAX_MESSAGE_BYTES) {
      reply.send(JSON.stringify({ type: 'error', text: `not sent: ${bytes} bytes once encoded, over the server's ${MAX_MESSAGE_BYTES}` }));
      return;
    }
    try {
      await control.publish(`room:${room}`, message, { id });
    } catch (e) {
      if (!(e instanceof PublishError) && !(e instanceof GripUsageError)) throw e;
      log(`chat: publish to ${room} failed: ${e.message}`);
      reply.send(JSON.stringify({ type: 'error', text: `not delivered (${e.code}), try again` }));
    }
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
