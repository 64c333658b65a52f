/**
 * What a scenario is and the context it runs in. A scenario drives one system (Pushpin or local mode) with real
 * `ws` clients, the shared backend and real publishes, and returns an **outcome string**: a short, deterministic
 * description of what happened ("client got: a,b", "closed 1011"). The same scenario code runs against both
 * systems; the runner compares the two strings.
 */
import { randomBytes } from 'node:crypto';
import { control, echoClose, openReply, type Backend, type BackendHandler, type BackendRequest } from './backend.js';
import { TestClient, sleep, waitUntil } from './client.js';
import type { PublishResult, System } from './systems.js';

export interface Scenario {
  /** `<group>.<name>`, stable: the documented-differences list refers to it. */
  readonly id: string;
  readonly title: string;
  /** Set when the scenario needs ≥ 20 s (a Pushpin minimum), saying why. */
  readonly long?: string;
  run(ctx: ScenarioContext): Promise<string>;
}

export interface Group {
  readonly name: string;
  readonly title: string;
  /** Run the group's scenarios at the same time (timer-bound scenarios that mostly wait). */
  readonly concurrent?: boolean;
  readonly scenarios: readonly Scenario[];
}

/** Publish content that only proves a subscription is live; outcome strings leave it out. */
export const PROBE = '__probe';

/** Publish-item options beyond channel and content. */
export interface ItemOptions {
  readonly id?: string;
  readonly prevId?: string;
  readonly meta?: Readonly<Record<string, string>>;
  readonly contentFilters?: readonly string[];
}

export function textItem(channel: string, content: string, options: ItemOptions = {}): Record<string, unknown> {
  return {
    channel,
    ...(options.id !== undefined ? { id: options.id } : {}),
    ...(options.prevId !== undefined ? { 'prev-id': options.prevId } : {}),
    ...(options.meta !== undefined ? { meta: options.meta } : {}),
    formats: {
      'ws-message': { content, ...(options.contentFilters !== undefined ? { 'content-filters': options.contentFilters } : {}) },
    },
  };
}

export class ScenarioContext {
  /** Unique per scenario run and system: the backend path prefix and the channel-name stem. */
  readonly prefix: string;
  private readonly clients: TestClient[] = [];
  private readonly stem: string;

  constructor(
    readonly system: System,
    readonly scenario: Scenario,
    private readonly backend: Backend,
  ) {
    const nonce = randomBytes(4).toString('hex');
    this.stem = `${scenario.id.replace(/[^a-z0-9-]/gi, '-')}-${system.name}-${nonce}`;
    this.prefix = `/${this.stem}`;
  }

  /** A channel name unique to this run. */
  channel(name = 'ch'): string {
    return `${this.stem}-${name}`;
  }

  /** Routes this run's backend requests to `handler`; the returned list fills as requests arrive. */
  route(handler: BackendHandler): BackendRequest[] {
    return this.backend.route(this.prefix, handler);
  }

  /** Opens a client on `<prefix>/<name>`; closed when the scenario ends. */
  async connect(name = 'c', timeoutMs = 10_000, headers: Readonly<Record<string, string>> = {}): Promise<TestClient> {
    const client = await TestClient.connect(`${this.system.wsUrl}${this.prefix.slice(1)}/${name}`, timeoutMs, headers);
    this.clients.push(client);
    return client;
  }

  publish(items: readonly unknown[]): Promise<PublishResult> {
    return this.system.publish(items);
  }

  /** Publishes one text item and fails the scenario unless the system accepted it. */
  async publishText(channel: string, content: string, options: ItemOptions = {}): Promise<void> {
    const result = await this.publish([textItem(channel, content, options)]);
    if (result.status !== 200) throw new Error(`publish answered ${result.status} ${result.body}`);
  }

  /**
   * Publishes probes to `channel` every 200 ms until every client has received one (a subscription made by a
   * backend reply takes effect asynchronously in both systems). False after `timeoutMs`.
   */
  async awaitSubscribed(clients: readonly TestClient[], channel: string, timeoutMs = 6_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let n = 0; Date.now() < deadline; n++) {
      await this.publishText(channel, `${PROBE}:${n}`);
      if (await waitUntil(() => clients.every((c) => c.texts().some((t) => t.startsWith(PROBE))), 200)) return true;
    }
    return false;
  }

  /**
   * The common setup: the OPEN reply subscribes to `channels` (other requests get a CLOSE echoed), then one
   * client connects and waits until publishes reach it on each channel. `null` if they never do.
   */
  async subscribedClient(channels: readonly string[]): Promise<TestClient | null> {
    this.route((req) =>
      req.events[0]?.type === 'OPEN'
        ? openReply(channels.map((channel) => control({ type: 'subscribe', channel })))
        : (echoClose(req) ?? {}),
    );
    const client = await this.connect();
    for (const channel of channels) if (!(await this.awaitSubscribed([client], channel))) return null;
    return client;
  }

  async dispose(): Promise<void> {
    this.backend.retire(this.prefix);
    await Promise.all(this.clients.map((c) => c.end()));
  }
}

/** Texts a client received, probes left out. */
export function realTexts(client: TestClient): string[] {
  return client.texts().filter((t) => !t.startsWith(PROBE));
}

/** `a,b,c`, or `nothing`. */
export function list(items: readonly string[]): string {
  return items.length === 0 ? 'nothing' : items.join(',');
}

/** How a client's connection ended, for outcome strings. */
export function closeOutcome(client: TestClient): string {
  if (client.close === null) return client.isOpen ? 'open' : 'closing';
  return `closed ${client.close.code}${client.close.reason ? ` '${client.close.reason}'` : ''}`;
}

/** Seconds, rounded to whole seconds, as `~N s`. */
export function seconds(ms: number): string {
  return `~${Math.round(ms / 1000)} s`;
}

export { sleep };
