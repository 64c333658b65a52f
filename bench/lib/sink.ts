/**
 * A counting `LocalConnections`: the far end of the Management API (or of the direct gateway) for benchmarks
 * whose subject is the worker, not 20,000 real sockets. It knows a family of connection ids, counts every
 * delivery per id, answers `gone` for ids it does not know (as API Gateway does), and records when the first
 * delivery, the last delivery and the delivery that completed the set happened.
 */
import type { CloseRequest, SendOutcome } from '#src/domain/ports.js';
import type { ConnectionInfo, LocalConnections } from '#src/local/connections.js';
import { epochNow } from './clock.js';
import { connectionIdOf, type IdFamily } from './ids.js';

export interface SinkStats {
  /** Calls to `post`, whatever their outcome. */
  readonly posts: number;
  /** Posts to known ids (each one a delivery). */
  readonly delivered: number;
  /** Known ids that received at least one message since the last reset. */
  readonly unique: number;
  /** Deliveries beyond the first per id. */
  readonly duplicates: number;
  /** Known ids that received nothing. */
  readonly missing: number;
  /** Posts to ids outside the family (answered `gone`). */
  readonly unknown: number;
  /** Epoch ms of the first and last delivery, and of the delivery that reached the last missing id. */
  readonly firstAt: number | null;
  readonly lastAt: number | null;
  readonly completeAt: number | null;
}

export class CountingConnections implements LocalConnections {
  #index = new Map<string, number>();
  #counts = new Uint32Array(0);
  #posts = 0;
  #delivered = 0;
  #unique = 0;
  #unknown = 0;
  #firstAt: number | null = null;
  #lastAt: number | null = null;
  #completeAt: number | null = null;
  readonly #connectedAt = Date.now();

  constructor(family: IdFamily = { prefix: 'x', count: 0 }) {
    this.configure(family);
  }

  /** Replaces the known ids and resets every counter. */
  configure(family: IdFamily): void {
    this.#index = new Map();
    for (let i = 0; i < family.count; i++) this.#index.set(connectionIdOf(family.prefix, i), i);
    this.#counts = new Uint32Array(family.count);
    this.reset();
  }

  reset(): void {
    this.#counts.fill(0);
    this.#posts = 0;
    this.#delivered = 0;
    this.#unique = 0;
    this.#unknown = 0;
    this.#firstAt = null;
    this.#lastAt = null;
    this.#completeAt = null;
  }

  get count(): number {
    return this.#counts.length;
  }

  post(connectionId: string, _data: string | Uint8Array): SendOutcome {
    this.#posts++;
    const i = this.#index.get(connectionId);
    if (i === undefined) {
      this.#unknown++;
      return { kind: 'gone' };
    }
    const now = epochNow();
    this.#firstAt ??= now;
    this.#lastAt = now;
    this.#delivered++;
    const before = this.#counts[i] ?? 0;
    this.#counts[i] = before + 1;
    if (before === 0) {
      this.#unique++;
      if (this.#unique === this.#counts.length) this.#completeAt = now;
    }
    return { kind: 'ok' };
  }

  close(connectionId: string, _request?: CloseRequest): SendOutcome {
    return this.#index.has(connectionId) ? { kind: 'ok' } : { kind: 'gone' };
  }

  info(connectionId: string): ConnectionInfo | null {
    if (!this.#index.has(connectionId)) return null;
    return { connectedAt: this.#connectedAt, lastActiveAt: this.#connectedAt, identity: { sourceIp: '127.0.0.1', userAgent: 'bench' } };
  }

  stats(): SinkStats {
    return {
      posts: this.#posts,
      delivered: this.#delivered,
      unique: this.#unique,
      duplicates: this.#delivered - this.#unique,
      missing: this.#counts.length - this.#unique,
      unknown: this.#unknown,
      firstAt: this.#firstAt,
      lastAt: this.#lastAt,
      completeAt: this.#completeAt,
    };
  }
}
