/**
 * A `ws` client that records everything it receives (messages, pings, pongs, the close) with arrival times, and
 * the waits scenarios use: poll until a condition holds, or until a counter stops moving (quiescence).
 */
import WebSocket from 'ws';

export type Received =
  | { readonly kind: 'text' | 'binary'; readonly data: string; readonly at: number }
  | { readonly kind: 'ping' | 'pong'; readonly data: string; readonly at: number };

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

export class TestClient {
  readonly received: Received[] = [];
  close: CloseInfo | null = null;
  readonly openedAt: number;

  private constructor(
    private readonly ws: WebSocket,
    openedAt: number,
  ) {
    this.openedAt = openedAt;
  }

  /**
   * Opens a client; resolves once the handshake completes, rejects with `handshake <status>` when the server
   * answers something other than 101, or with the socket error.
   */
  static connect(url: string, timeoutMs = 10_000, headers: Readonly<Record<string, string>> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, headers: { ...headers } });
      const early: Received[] = [];
      let client: TestClient | null = null;
      const record = (r: Received) => (client ? client.received.push(r) : early.push(r));
      ws.on('message', (data: Buffer, isBinary: boolean) =>
        record({ kind: isBinary ? 'binary' : 'text', data: isBinary ? data.toString('base64') : data.toString('utf8'), at: Date.now() }),
      );
      ws.on('ping', (data: Buffer) => record({ kind: 'ping', data: data.toString('utf8'), at: Date.now() }));
      ws.on('pong', (data: Buffer) => record({ kind: 'pong', data: data.toString('utf8'), at: Date.now() }));
      ws.on('close', (code: number, reason: Buffer) => {
        if (client) client.close = { code, reason: reason.toString('utf8'), at: Date.now() };
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`handshake ${res.statusCode ?? '?'}`));
        ws.terminate();
      });
      ws.on('error', (e: Error) => {
        if (!client) reject(e);
      });
      ws.once('open', () => {
        client = new TestClient(ws, Date.now());
        client.received.push(...early);
        resolve(client);
      });
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  ping(data: string): void {
    this.ws.ping(data);
  }

  /** Texts received so far (messages only). */
  texts(): string[] {
    return this.received.filter((r) => r.kind === 'text').map((r) => r.data);
  }

  count(kind: Received['kind']): number {
    return this.received.filter((r) => r.kind === kind).length;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Closes (if still open) and waits for the close to finish; never throws. */
  async end(code = 1000, reason = ''): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), 3_000);
    await closed;
    clearTimeout(timer);
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 10 ms; resolves `true` when it holds, `false` after `timeoutMs` (never throws). */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/**
 * Waits until `measure()` has not changed for `quietMs` (or `maxMs` passed): "nothing more is coming". Used
 * where a scenario must show that something does *not* happen and no later event can fence it.
 */
export async function settle(measure: () => number, quietMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = measure();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(20);
    const now = measure();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}
