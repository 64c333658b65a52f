/**
 * The client library against this server's own protocol code: a request built by the server's backend-request
 * builder and signed with its Grip-Sig is what the client reads and verifies.
 */
import { describe, expect, it } from 'vitest';
import { readWebSocketRequest } from '#src/client/request.js';
import { verifyGripSig } from '#src/client/signature.js';
import { signGripSig } from '#src/domain/auth.js';
import { buildBackendRequest, handshakeFromClient } from '#src/domain/protocol/request.js';

describe('server request → client', () => {
  it('reads the connection id, meta, offered subprotocols and events, and verifies the signature', async () => {
    const { handshake } = handshakeFromClient({
      headers: { 'Sec-WebSocket-Protocol': 'chat.v2, chat.v1', Cookie: 'sid=1', 'Meta-Spoofed': 'evil' },
      path: '/ws',
      query: 'room=lobby',
    });
    const gripSig = await signGripSig({ key: 'base64:c2VjcmV0', iss: 'grip-server', nowSeconds: Math.floor(Date.now() / 1000) });
    const built = buildBackendRequest({
      targetUrl: 'http://backend.test/',
      connectionId: 'Zx1=',
      handshake,
      meta: { user: 'alice' },
      events: [
        { type: 'TEXT', text: 'hi' },
        { type: 'CLOSE', code: 1000, reason: '' },
      ],
      gripSig,
    });
    const request = new Request(built.url, { method: 'POST', headers: built.headers, body: new Uint8Array(built.body) });

    expect(new URL(request.url).searchParams.get('room')).toBe('lobby');
    expect(await verifyGripSig(request, { key: 'base64:c2VjcmV0', iss: 'grip-server' })).toMatchObject({ signed: true });
    expect(await verifyGripSig(request, { key: 'secret-but-not-base64', iss: 'grip-server' })).toEqual({
      signed: false,
      reason: 'bad-signature',
    });
    expect(await readWebSocketRequest(request)).toEqual({
      ok: true,
      value: {
        connectionId: 'Zx1=',
        meta: { user: 'alice' },
        events: [
          { type: 'TEXT', text: 'hi' },
          { type: 'CLOSE', code: 1000, reason: '' },
        ],
        isOpening: false,
        requestedProtocols: ['chat.v2', 'chat.v1'],
      },
    });
  });
});
