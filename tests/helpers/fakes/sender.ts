/** `ConnectionSender` with scripted outcomes per connection. */
import type { CloseRequest, ConnectionSender, SendOutcome } from '#src/domain/ports.js';

/** Shorthands for scripted outcomes. `failed` is retryable; give a full outcome for a non-retryable one. */
export type OutcomeSpec = 'ok' | 'gone' | 'throttled' | 'failed' | 'too-large' | 'rejected' | SendOutcome | Error;

function outcomeOf(spec: Exclude<OutcomeSpec, Error>): SendOutcome {
  if (typeof spec !== 'string') return spec;
  switch (spec) {
    case 'ok':
      return { kind: 'ok' };
    case 'gone':
      return { kind: 'gone' };
    case 'throttled':
      return { kind: 'throttled', message: 'LimitExceededException' };
    case 'failed':
      return { kind: 'failed', retryable: true, message: 'InternalServerError' };
    case 'too-large':
      return { kind: 'too-large', message: 'PayloadTooLargeException' };
    case 'rejected':
      return { kind: 'rejected', message: 'BadRequestException: Invalid connectionId' };
  }
}

export const FATAL: SendOutcome = { kind: 'failed', retryable: false, message: 'ForbiddenException' };

export type SendCall =
  | { readonly op: 'post'; readonly connectionId: string; readonly data: string | Uint8Array }
  | { readonly op: 'close'; readonly connectionId: string; readonly request: CloseRequest | undefined };

/**
 * `ConnectionSender` with scripted outcomes. `script(id, …)` queues outcomes for that connection's next calls
 * (post or close alike); when a connection's script runs out, its `always` outcome applies, else `ok`. An
 * `Error` in a script is thrown (a bug in an adapter), to test that callers survive it. Every call is recorded
 * in order; each call yields once, so concurrent deliveries really overlap and `maxInFlight` is meaningful.
 */
export class FakeSender implements ConnectionSender {
  readonly calls: SendCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #scripts = new Map<string, OutcomeSpec[]>();
  readonly #always = new Map<string, OutcomeSpec>();
  #default: OutcomeSpec = 'ok';

  script(connectionId: string, ...outcomes: OutcomeSpec[]): this {
    this.#scripts.set(connectionId, [...(this.#scripts.get(connectionId) ?? []), ...outcomes]);
    return this;
  }
  always(connectionId: string, outcome: OutcomeSpec): this {
    this.#always.set(connectionId, outcome);
    return this;
  }
  /** The outcome for connections with no script of their own. */
  otherwise(outcome: OutcomeSpec): this {
    this.#default = outcome;
    return this;
  }

  async post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome> {
    return this.#answer({ op: 'post', connectionId, data });
  }

  async close(connectionId: string, request?: CloseRequest): Promise<SendOutcome> {
    return this.#answer({ op: 'close', connectionId, request });
  }

  /** What was posted to one connection, in order (binary as bytes). */
  posted(connectionId: string): (string | Uint8Array)[] {
    return this.calls.flatMap((c) => (c.op === 'post' && c.connectionId === connectionId ? [c.data] : []));
  }
  closes(connectionId?: string): { connectionId: string; request: CloseRequest | undefined }[] {
    return this.calls.flatMap((c) =>
      c.op === 'close' && (connectionId === undefined || c.connectionId === connectionId)
        ? [{ connectionId: c.connectionId, request: c.request }]
        : [],
    );
  }
  /** How many posts each connection received. */
  postCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.calls) if (c.op === 'post') counts.set(c.connectionId, (counts.get(c.connectionId) ?? 0) + 1);
    return counts;
  }

  async #answer(call: SendCall): Promise<SendOutcome> {
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await Promise.resolve();
      const script = this.#scripts.get(call.connectionId);
      const spec =
        script !== undefined && script.length > 0
          ? (script.shift() as OutcomeSpec)
          : (this.#always.get(call.connectionId) ?? this.#default);
      if (spec instanceof Error) throw spec;
      return outcomeOf(spec);
    } finally {
      this.inFlight--;
    }
  }
}
