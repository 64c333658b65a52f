/**
 * The soak run (issue 9's reliability figures): a population of real `ws` clients joining and leaving local mode
 * while publishes arrive at channels of 10–1,000 subscribers and a backend fails some requests and goes away
 * for a few seconds now and then. It counts, per client, the messages it should have received against the
 * ones it did, duplicates, and clients the server closed; it samples the server's RSS and event-loop delay.
 *
 * Shared by `npm run bench -- --only=soak` (30 minutes, local mode in a host process of its own) and a short
 * version in `npm test` (tests/integration/e2e/soak.test.ts), which asserts the counts, never the timings.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import WebSocket from 'ws';
import { ControlClient, WebSocketReply, isWsOverHttp, readWebSocketRequest, verifyGripSig } from '#src/client/index.js';
import { createNodeHandler } from '#src/client/node.js';

export interface SoakOptions {
  readonly durationMs: number;
  /** Clients connected before the first publish and until the end: each must get every publish to its channel. */
  readonly stableClients: number;
  /** Clients that come and go: as many alive at any time, each living `churnClients / joinsPerSecond` s on average. */
  readonly churnClients: number;
  readonly joinsPerSecond: number;
  readonly publishesPerSecond: number;
  /** Every client sends one message per this many ms on average (the backend echoes it). */
  readonly clientMessageEveryMs: number;
  /** The backend stops listening for `outageMs` every `outageEveryMs` (first one at half that period). */
  readonly outageEveryMs: number;
  readonly outageMs: number;
  /** How often the server's RSS and event-loop delay are sampled. */
  readonly sampleEveryMs: number;
}

/** What the server process reports about itself. */
export interface ServerSample {
  readonly rssBytes: number;
  /** p99 of the event-loop delay since the previous sample, ms. */
  readonly eventLoopP99Ms: number;
  /** Heap in use right after a full GC (retained memory), when the server process can collect on demand. */
  readonly liveHeapBytes?: number | undefined;
}

export interface SoakTarget {
  readonly wsUrl: string;
  readonly controlUrl: string;
  sample(): Promise<ServerSample>;
}

/** A server sample, with the deliveries of the window it ends: the slowest, and how many took over 5 s. */
export type SoakSample = ServerSample & { readonly atMs: number; readonly windowMaxLatencyMs: number; readonly windowLate: number };

export interface SoakReport {
  readonly elapsedMs: number;
  readonly joins: number;
  readonly joinsRefused: number;
  readonly aliveMin: number;
  readonly aliveMax: number;
  readonly publishes: number;
  readonly publishFailures: number;
  readonly channels: { readonly big: number; readonly mid: number; readonly small: number };
  /** Clients connected throughout: messages they should have had, got, lost, and echoes of their messages lost. */
  readonly stable: {
    readonly clients: number;
    readonly expected: number;
    readonly delivered: number;
    readonly lost: number;
    readonly echoesLost: number;
  };
  /** Clients that came and went: publishes made while they were connected (with a 2 s margin before leaving). */
  readonly churn: { readonly clients: number; readonly expected: number; readonly delivered: number; readonly lost: number };
  readonly duplicates: number;
  /** Clients the server closed or that errored, though nobody asked them to go. */
  readonly wronglyClosed: number;
  readonly closeSamples: readonly string[];
  /** The first few messages a churner missed, with the times (ms into the run) that decided they were due. */
  readonly lostSamples: readonly string[];
  /** From the start of a publish's POST to a client's receipt, over every delivery. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number };
  readonly backend: { readonly requests: number; readonly resets: number; readonly outages: number };
  readonly samples: readonly SoakSample[];
}

/** A churner's publishes count as expected only if they finished this long before it left. */
const LEAVE_MARGIN_MS = 2_000;
const TICK_MS = 20;

interface Client {
  readonly ws: WebSocket;
  readonly channel: string;
  readonly stable: boolean;
  openAt: number;
  leaving: boolean;
  readonly seen: Set<number>;
  sent: number;
  echoed: number;
}

interface Publish {
  readonly channel: string;
  readonly startedAt: number;
  finishedAt: number;
  ok: boolean;
}

/**
 * Channels sized so that half the clients share one channel, a quarter share channels of ~100, and a quarter
 * channels of ~10: with 2,000 clients alive, one channel of ~1,000, five of ~100 and fifty of ~10.
 */
export function soakChannels(alive: number): { readonly big: string[]; readonly mid: string[]; readonly small: string[] } {
  const mid = Math.max(1, Math.round(alive / 4 / 100));
  const small = Math.max(1, Math.round(alive / 4 / 10));
  return {
    big: ['soak-big'],
    mid: Array.from({ length: mid }, (_, i) => `soak-mid-${i}`),
    small: Array.from({ length: small }, (_, i) => `soak-small-${i}`),
  };
}

export async function runSoak(target: SoakTarget, backend: SoakBackend, options: SoakOptions): Promise<SoakReport> {
  const channels = soakChannels(options.stableClients + options.churnClients);
  const allChannels = [...channels.big, ...channels.mid, ...channels.small];
  let clientCounter = 0;
  const channelFor = (n: number): string => {
    const slot = n % 4;
    const k = Math.floor(n / 4);
    if (slot < 2) return channels.big[0] ?? 'soak-big';
    const list = slot === 2 ? channels.mid : channels.small;
    return list[k % list.length] ?? 'soak-big';
  };

  const publishes: Publish[] = [];
  const byChannel = new Map<string, number[]>();
  const alive = new Set<Client>();
  const stable: Client[] = [];
  let joins = 0;
  let joinsRefused = 0;
  let duplicates = 0;
  let wronglyClosed = 0;
  const closeSamples: string[] = [];
  const lostSamples: string[] = [];
  const latency = new LatencyHistogram();
  // Per sample window: the slowest delivery and how many took over 5 s, to see when delays happen.
  let window = { maxMs: 0, late: 0 };
  const takeWindow = () => {
    const w = window;
    window = { maxMs: 0, late: 0 };
    return { windowMaxLatencyMs: w.maxMs, windowLate: w.late };
  };
  const churn = { clients: 0, expected: 0, delivered: 0, lost: 0 };
  const startedAt = Date.now();
  const now = () => Date.now() - startedAt;

  const expectedFor = (client: Client, leftAt: number | null): number[] => {
    return (byChannel.get(client.channel) ?? []).filter((seq) => {
      const p = publishes[seq];
      if (!p?.ok || p.startedAt < client.openAt) return false;
      return leftAt === null || p.finishedAt <= leftAt - LEAVE_MARGIN_MS;
    });
  };

  const join = (isStable: boolean): Promise<Client | null> =>
    new Promise((resolve) => {
      const n = clientCounter++;
      const channel = channelFor(n);
      const ws = new WebSocket(`${target.wsUrl}/soak?channel=${encodeURIComponent(channel)}`, { perMessageDeflate: false });
      const client: Client = { ws, channel, stable: isStable, openAt: -1, leaving: false, seen: new Set(), sent: 0, echoed: 0 };
      joins++;
      const refuse = (why: string) => {
        joinsRefused++;
        if (closeSamples.length < 5) closeSamples.push(`join refused: ${why}`);
        resolve(null);
      };
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        ws.terminate();
        refuse(`HTTP ${res.statusCode ?? 0}`);
      });
      ws.on('error', (e) => {
        if (client.openAt < 0) refuse(e.message);
      });
      ws.on('open', () => {
        client.openAt = now();
        alive.add(client);
        resolve(client);
      });
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('e:')) {
          client.echoed++;
          return;
        }
        const seq = Number(text);
        if (!Number.isInteger(seq)) return;
        if (client.seen.has(seq)) duplicates++;
        else client.seen.add(seq);
        const published = publishes[seq];
        if (published) {
          const ms = now() - published.startedAt;
          latency.add(ms);
          window.maxMs = Math.max(window.maxMs, ms);
          if (ms > 5_000) window.late++;
        }
      });
      ws.on('close', (code, reason) => {
        if (client.openAt < 0) return;
        alive.delete(client);
        if (!client.leaving) {
          wronglyClosed++;
          if (closeSamples.length < 5) closeSamples.push(`closed by the server: ${code} ${reason.toString()}`);
        }
      });
    });

  const leave = async (client: Client): Promise<void> => {
    client.leaving = true;
    const leftAt = now();
    const expected = expectedFor(client, leftAt);
    const delivered = expected.filter((seq) => client.seen.has(seq)).length;
    churn.clients++;
    churn.expected += expected.length;
    churn.delivered += delivered;
    churn.lost += expected.length - delivered;
    for (const seq of expected) {
      const p = publishes[seq];
      if (client.seen.has(seq) || !p || lostSamples.length >= 5) continue;
      lostSamples.push(
        `publish ${seq} to ${client.channel} (${p.startedAt}–${p.finishedAt} ms) missed by a client open ${client.openAt}–${leftAt} ms`,
      );
    }
    client.seen.clear();
    await closeClient(client.ws);
  };

  // Stable clients first, in batches, before the clock of the run starts.
  const joinLimit = pLimit(50);
  const opened = await Promise.all(Array.from({ length: options.stableClients }, () => joinLimit(() => join(true))));
  for (const c of opened) if (c) stable.push(c);
  const samples: SoakSample[] = [{ ...(await target.sample()), atMs: 0, ...takeWindow() }];

  const control = new ControlClient({ url: target.controlUrl, key: backend.key, iss: 'soak', retry: false });
  const publishLimit = pLimit(32);
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const churners = new Set<Client>();
  const lifetimeMs = (options.churnClients / options.joinsPerSecond) * 1000;
  const leaveAt = new Map<Client, number>();
  let aliveMin = Number.POSITIVE_INFINITY;
  let aliveMax = 0;
  let publishCredit = 0;
  let joinCredit = 0;
  let pendingJoins = 0;
  let nextSample = options.sampleEveryMs;
  const runStart = now();
  backend.startOutages(options.outageEveryMs, options.outageMs);

  while (now() - runStart < options.durationMs) {
    const t = now();
    // Joins: keep `churnClients` churners alive, at most `joinsPerSecond` new ones per second.
    joinCredit = Math.min(joinCredit + (options.joinsPerSecond * TICK_MS) / 1000, options.joinsPerSecond);
    while (joinCredit >= 1 && churners.size + pendingJoins < options.churnClients) {
      joinCredit--;
      pendingJoins++;
      track(
        join(false).then((c) => {
          pendingJoins--;
          if (!c) return;
          churners.add(c);
          // Uniform in [0.5, 1.5] × the mean lifetime, so leaves spread out instead of arriving in waves.
          leaveAt.set(c, c.openAt + lifetimeMs * (0.5 + Math.random()));
        }),
      );
    }
    for (const c of churners) {
      if ((leaveAt.get(c) ?? Number.POSITIVE_INFINITY) <= t && !c.leaving) {
        churners.delete(c);
        leaveAt.delete(c);
        track(leave(c));
      }
    }
    // Publishes: uniformly over the channels (the big channel gets 1/56 of them, but 1,000 deliveries each).
    publishCredit += (options.publishesPerSecond * TICK_MS) / 1000;
    while (publishCredit >= 1) {
      publishCredit--;
      const channel = allChannels[Math.floor(Math.random() * allChannels.length)] ?? 'soak-big';
      const seq = publishes.length;
      const record: Publish = { channel, startedAt: now(), finishedAt: Number.POSITIVE_INFINITY, ok: false };
      publishes.push(record);
      const list = byChannel.get(channel);
      if (list) list.push(seq);
      else byChannel.set(channel, [seq]);
      track(
        publishLimit(() => control.publish(channel, String(seq))).then(
          () => {
            record.ok = true;
            record.finishedAt = now();
          },
          () => {
            record.finishedAt = now();
          },
        ),
      );
    }
    // Client messages: each alive client sends one per `clientMessageEveryMs` on average.
    const sendChance = TICK_MS / options.clientMessageEveryMs;
    for (const c of alive) {
      if (!c.leaving && Math.random() < sendChance && c.ws.readyState === WebSocket.OPEN) {
        c.sent++;
        c.ws.send(`m:${c.sent}`);
      }
    }
    aliveMin = Math.min(aliveMin, alive.size);
    aliveMax = Math.max(aliveMax, alive.size);
    if (t - runStart >= nextSample) {
      nextSample += options.sampleEveryMs;
      samples.push({ ...(await target.sample()), atMs: t - runStart, ...takeWindow() });
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await backend.stopOutages();
  const elapsedMs = now() - runStart;
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);

  // Drain: wait until every stable client has what it should (or 30 s pass) before counting.
  const stableExpected = new Map(stable.map((c) => [c, expectedFor(c, null)]));
  const missing = () => stable.reduce((n, c) => n + (stableExpected.get(c) ?? []).filter((s) => !c.seen.has(s)).length, 0);
  const echoesMissing = () => stable.reduce((n, c) => n + (c.sent - c.echoed), 0);
  const drainUntil = Date.now() + 30_000;
  while ((missing() > 0 || echoesMissing() > 0) && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 100));
  samples.push({ ...(await target.sample()), atMs: now() - runStart, ...takeWindow() });

  for (const c of churners) await leave(c);
  let expected = 0;
  let delivered = 0;
  for (const c of stable) {
    const list = stableExpected.get(c) ?? [];
    expected += list.length;
    delivered += list.filter((s) => c.seen.has(s)).length;
  }
  const report: SoakReport = {
    elapsedMs,
    joins,
    joinsRefused,
    aliveMin: Number.isFinite(aliveMin) ? aliveMin : 0,
    aliveMax,
    publishes: publishes.length,
    publishFailures: publishes.filter((p) => !p.ok).length,
    channels: { big: channels.big.length, mid: channels.mid.length, small: channels.small.length },
    stable: { clients: stable.length, expected, delivered, lost: expected - delivered, echoesLost: echoesMissing() },
    churn,
    duplicates,
    wronglyClosed,
    closeSamples,
    lostSamples,
    latencyMs: { p50: latency.percentile(50), p99: latency.percentile(99), p999: latency.percentile(99.9), max: latency.max },
    backend: backend.stats(),
    samples,
  };
  const closing = pLimit(100);
  for (const c of alive) c.leaving = true;
  await Promise.all([...alive].map((c) => closing(() => closeClient(c.ws))));
  return report;
}

/** Delivery latencies in 5 ms buckets up to 2 minutes: millions of deliveries in constant memory. */
class LatencyHistogram {
  static readonly #BUCKET_MS = 5;
  readonly #counts = new Uint32Array(24_000);
  #total = 0;
  max = 0;

  add(ms: number): void {
    const bucket = Math.min(this.#counts.length - 1, Math.max(0, Math.floor(ms / LatencyHistogram.#BUCKET_MS)));
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#total++;
    this.max = Math.max(this.max, ms);
  }

  /** The upper edge of the bucket holding the p-th percentile; NaN without samples. */
  percentile(p: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.ceil((p / 100) * this.#total);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return (i + 1) * LatencyHistogram.#BUCKET_MS;
    }
    return this.max;
  }
}

/** Closes cleanly, or terminates after 2 s without the server's close frame. */
function closeClient(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2_000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000, 'soak: leaving');
  });
}

export interface SoakBackend {
  readonly url: string;
  readonly key: string;
  startOutages(everyMs: number, forMs: number): void;
  /** Stops the outage timer; a backend that is down comes back now. */
  stopOutages(): Promise<void>;
  stats(): { requests: number; resets: number; outages: number };
  stop(): Promise<void>;
}

/**
 * The soak's backend, written with the public client library: it accepts every connection and subscribes it to
 * the `channel` query value, echoes `m:<n>` as `e:<n>`, and answers CLOSE. A share of requests get their
 * connection reset before any answer (what a crashing backend instance does), and during an outage it does not
 * listen at all (connection refused), as a backend being redeployed.
 */
export async function startSoakBackend(options: { readonly key: string; readonly failureRate: number }): Promise<SoakBackend> {
  let requests = 0;
  let resets = 0;
  let outages = 0;
  async function handle(request: Request): Promise<Response> {
    if (!isWsOverHttp(request)) return new Response('soak backend\n');
    const sig = await verifyGripSig(request, { key: options.key });
    if (!sig.signed) return new Response(`Grip-Sig not valid: ${sig.reason}\n`, { status: 401 });
    const read = await readWebSocketRequest(request);
    if (!read.ok) return new Response(`${read.error.kind}\n`, { status: 400 });
    const reply = new WebSocketReply();
    if (read.value.isOpening) {
      const channel = new URL(request.url).searchParams.get('channel') ?? 'soak-big';
      return reply.accept().subscribe(channel).toResponse();
    }
    for (const event of read.value.events) {
      if (event.type === 'TEXT' && event.text.startsWith('m:')) reply.send(`e:${event.text.slice(2)}`);
      if (event.type === 'CLOSE') reply.close(event.code ?? 1000);
    }
    return reply.toResponse();
  }
  const nodeHandler = createNodeHandler(handle);
  const server: Server = createServer((req, res) => {
    requests++;
    if (Math.random() < options.failureRate) {
      resets++;
      req.socket.destroy();
      return;
    }
    nodeHandler(req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let timer: NodeJS.Timeout | null = null;
  let relisten: NodeJS.Timeout | null = null;
  const listen = () =>
    new Promise<void>((resolve) => {
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const stopOutages = async () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (relisten) {
      clearTimeout(relisten);
      relisten = null;
      await listen();
    }
  };
  return {
    url: `http://127.0.0.1:${port}/`,
    key: options.key,
    startOutages(everyMs, forMs) {
      const outage = () => {
        outages++;
        server.close();
        server.closeAllConnections();
        relisten = setTimeout(() => {
          relisten = null;
          void listen();
        }, forMs);
        timer = setTimeout(outage, everyMs);
      };
      timer = setTimeout(outage, everyMs / 2);
    },
    stopOutages,
    stats: () => ({ requests, resets, outages }),
    async stop() {
      await stopOutages();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
