/**
 * Benchmark 4, end to end: real `ws` clients on one channel, a publish through the control API, and the time
 * until each client has the message (receive time − the instant just before the publish POST, on this
 * process's clock). Local mode (`startLocal`, with `direct` and with `management-api` delivery) runs in its own
 * process, as Pushpin does, and the same backend (written with `src/client`) serves both.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ControlClient } from '#src/client/index.js';
import { startBenchBackend, type BenchBackend } from './lib/backend.js';
import { openClients, type ClientFleet } from './lib/clients.js';
import { sleep } from './lib/clock.js';
import type { BenchContext } from './lib/context.js';
import { Host } from './lib/host-client.js';
import { pushpinInstalled, startPushpin, PUSHPIN_BIN } from '../scripts/lib/pushpin.js';
import { fixed, int, machineLine, max, median, percentile, ratio, type Table } from './lib/report.js';

const CHANNEL = 'bench-e2e';

interface System {
  readonly name: string;
  readonly short: string;
  readonly fleet: ClientFleet;
  readonly control: ControlClient;
  readonly latencies: number[];
  readonly postMs: number[];
  /** The slowest client of each measured publish, ms. */
  readonly slowest: number[];
  stop(): Promise<void>;
}

export async function benchE2e(ctx: BenchContext): Promise<Table> {
  const { quick } = ctx.flags;
  const clients = quick ? 200 : 1_000;
  const publishes = quick ? 3 : Math.max(10, ctx.flags.runs * 3);
  const key = randomBytes(24).toString('base64url');
  const withPushpin = ctx.flags.pushpin && pushpinInstalled();
  const backend: BenchBackend = await startBenchBackend({ key, channel: CHANNEL });
  const systems: System[] = [];
  let pushpinVersion = '';
  const notes: string[] = [];
  const coldMs = new Map<System, number>();
  try {
    for (const delivery of ['direct', 'management-api'] as const) {
      const host = Host.start();
      try {
        const stack = await host.call('local.start', { targetUrl: backend.url, gripKey: key, delivery });
        systems.push(
          await connectSystem(`local mode, delivery: '${delivery}'`, delivery, stack.wsUrl, stack.controlUrl, key, clients, () =>
            host.stop(),
          ),
        );
      } catch (e) {
        await host.stop();
        throw e;
      }
    }
    if (withPushpin) {
      const pushpin = await startPushpin({ backendPort: backend.port, sigKey: key });
      pushpinVersion = pushpin.version;
      try {
        systems.push(
          await connectSystem(
            `Pushpin (${pushpin.version}, message_rate 100000)`,
            'Pushpin',
            pushpin.wsUrl,
            pushpin.controlUrl,
            key,
            clients,
            () => pushpin.stop(),
          ),
        );
      } catch (e) {
        await pushpin.stop();
        throw e;
      }
    } else if (ctx.flags.pushpin) {
      notes.push(`--pushpin given but ${PUSHPIN_BIN} does not exist: no Pushpin row.`);
    }

    // Round 0 warms up every system (and proves every client is subscribed); then systems take turns.
    for (const system of systems) coldMs.set(system, await warmUp(system, clients));
    for (let i = 0; i < publishes; i++) {
      for (const system of systems) {
        await publishOnce(system, `m-${i}-${randomBytes(4).toString('hex')}`, clients);
        await sleep(100);
      }
    }
  } finally {
    for (const s of systems) {
      await s.fleet.close();
      await s.stop();
    }
    await backend.stop();
  }

  const baseline = systems.find((s) => s.name.startsWith('Pushpin')) ?? systems[0];
  const baseP99 = baseline ? percentile(baseline.latencies, 99) : Number.NaN;
  const ours = systems[0];
  const oursP99 = ours ? percentile(ours.latencies, 99) : Number.NaN;
  if (withPushpin) {
    notes.unshift(
      `Target: p99 no worse than Pushpin's → local mode (direct) p99 ${fixed(oursP99, 1)} ms vs Pushpin ${fixed(baseP99, 1)} ms: ${ratio(oursP99 / baseP99)} (${oursP99 <= baseP99 ? 'met' : 'NOT met'}).`,
    );
  } else {
    notes.unshift("Target: p99 no worse than Pushpin's — not measured in this run (use --pushpin); ratios are against the first row.");
  }
  return {
    title: `Benchmark 4: end to end, ${int(clients)} WebSocket clients on one channel`,
    parameters: [
      ['machine', machineLine()],
      [
        'clients',
        `${int(clients)} ws clients (no compression) per system, opened 100 at a time, all in the bench process; every system keeps its clients for the whole benchmark`,
      ],
      [
        'publishes',
        `${publishes} measured per system after ${WARM_UP_PUBLISHES} warm-up publishes (each reaching every client), systems taking turns; one text message each via ControlClient (GRIP publish, POST /publish/)`,
      ],
      [
        'latency',
        'per client: receive time − the instant just before the publish POST (same process clock); percentiles over all clients × publishes',
      ],
      [
        'backend',
        'bench/lib/backend.ts (src/client): verifies Grip-Sig, accepts, subscribes to one channel; one instance for every system',
      ],
      [
        'local mode',
        "startLocal() in its own process (dynalite, fauxqs, gateway, worker, pollers, all defaults); 'management-api' posts SigV4-signed HTTP (SignedHttpConnectionSender, as on AWS) to the local Management API",
      ],
      [
        'Pushpin',
        withPushpin
          ? `${pushpinVersion} from Debian (condure, zurl, proxy, handler), scratch config per docs/local-services.md §6`
          : 'not run',
      ],
    ],
    columns: [
      'system',
      'received',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'publish POST ms',
      `p99 vs ${baseline?.name.startsWith('Pushpin') ? 'Pushpin' : 'first row'}`,
    ],
    rows: systems.map((s) => [
      s.name,
      `${int(s.latencies.length)}/${int(clients * publishes)}`,
      fixed(percentile(s.latencies, 50), 1),
      fixed(percentile(s.latencies, 90), 1),
      fixed(percentile(s.latencies, 99), 1),
      fixed(max(s.latencies), 1),
      fixed(median(s.postMs), 1),
      ratio(percentile(s.latencies, 99) / baseP99),
    ]),
    notes: [
      ...notes,
      `First (cold) publish, slowest client: ${systems.map((s) => `${s.short} ${fixed(coldMs.get(s) ?? Number.NaN, 0)} ms`).join(', ')} (not in the table).`,
      `Slowest client per measured publish (ms), in order: ${systems.map((s) => `${s.short} ${s.slowest.map((v) => v.toFixed(0)).join(' ')}`).join('; ')}.`,
      `Backend requests refused: ${backend.refused()}; clients dropped: ${systems.map((s) => `${s.short} ${s.fleet.dropped()}`).join(', ')}.`,
      "Everything shares this 2-core machine: the clients and the backend (bench process), the server under test (local mode process, or Pushpin's processes), and whatever else is running.",
    ],
  };
}

async function connectSystem(
  name: string,
  short: string,
  wsUrl: string,
  controlUrl: string,
  key: string,
  clients: number,
  stop: () => Promise<void>,
): Promise<System> {
  const fleet = await openClients(`${wsUrl.replace(/\/$/, '')}/bench`, clients);
  return {
    name,
    short,
    fleet,
    control: new ControlClient({ url: controlUrl, key, iss: 'bench', retry: false }),
    latencies: [],
    postMs: [],
    slowest: [],
    stop,
  };
}

/** Warm-up publishes that must reach every client (subscriptions complete, caches and JIT warm). */
const WARM_UP_PUBLISHES = 3;

/** Publishes until every client has received `WARM_UP_PUBLISHES` messages, each awaited; returns the first one's slowest client (ms). */
async function warmUp(system: System, clients: number): Promise<number> {
  let complete = 0;
  let first = Number.NaN;
  for (let attempt = 0; complete < WARM_UP_PUBLISHES; attempt++) {
    if (attempt >= WARM_UP_PUBLISHES + 3) throw new Error(`${system.name}: not every client received the warm-up publishes`);
    const tag = `warm-${attempt}-${randomBytes(4).toString('hex')}`;
    const t0 = performance.now();
    await system.control.publish(CHANNEL, tag);
    if (await waitForAll(system.fleet, tag, clients, 10_000)) {
      if (complete === 0) first = max(system.fleet.receivedAt(tag)) - t0;
      complete++;
    }
  }
  return first;
}

async function publishOnce(system: System, tag: string, clients: number): Promise<void> {
  const t0 = performance.now();
  await system.control.publish(CHANNEL, tag);
  system.postMs.push(performance.now() - t0);
  await waitForAll(system.fleet, tag, clients, 10_000);
  const got = system.fleet.receivedAt(tag);
  for (const at of got) system.latencies.push(at - t0);
  system.slowest.push(max(got) - t0);
}

async function waitForAll(fleet: ClientFleet, tag: string, clients: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (fleet.receivedAt(tag).length >= clients) return true;
    await sleep(5);
  }
  return fleet.receivedAt(tag).length >= clients;
}
