import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConsoleLog,
  InMemoryMetrics,
  PowertoolsLog,
  PowertoolsMetrics,
  REDACTED,
  redact,
  type LogLevel,
} from '#src/adapters/observability.js';

/** Captures what Powertools writes (through its own `Console` on `process.stdout` and `process.stderr`). */
function captureOutput(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const chunks: string[] = [];
  const record = (chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(record),
    vi.spyOn(process.stderr, 'write').mockImplementation(record),
  ];
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}

describe('redact', () => {
  it('replaces secret-looking values at any depth and keeps the rest', () => {
    const err = new Error('boom');
    const out = redact({
      connectionId: 'abc=',
      headers: { authorization: 'Bearer x', Cookie: 'sid=1', 'Grip-Sig': 'jwt', 'user-agent': 'ua' },
      gripKey: 'k',
      nested: [{ password: 'p', ok: 1 }],
      error: err,
    });
    expect(out).toEqual({
      connectionId: 'abc=',
      headers: { authorization: REDACTED, Cookie: REDACTED, 'Grip-Sig': REDACTED, 'user-agent': 'ua' },
      gripKey: REDACTED,
      nested: [{ password: REDACTED, ok: 1 }],
      error: err,
    });
    expect(out.error).toBe(err);
  });
});

describe('ConsoleLog', () => {
  const collect = (level?: LogLevel) => {
    const lines: [string, LogLevel][] = [];
    const log = new ConsoleLog({ level, write: (line, l) => lines.push([line, l]), clock: () => Date.UTC(2026, 0, 1, 12, 0, 1, 234) });
    return { log, lines };
  };

  it('writes a readable line with time, level, message and attributes', () => {
    const { log, lines } = collect();
    log.warn('backend refused', { status: 403, reason: 'two words', error: new TypeError('bad') });
    expect(lines).toEqual([['12:00:01.234 WARN  backend refused status=403 reason="two words" error="TypeError: bad"', 'warn']]);
  });

  it('filters by level', () => {
    const { log, lines } = collect('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map(([, l]) => l)).toEqual(['warn', 'error']);
  });

  it('carries context into children without changing the parent, and redacts secrets', () => {
    const { log, lines } = collect('debug');
    const child = log.withContext({ connectionId: 'abc=' });
    child.debug('hello', { authorization: 'Bearer secret' });
    log.info('parent');
    expect(lines[0]?.[0]).toBe(`12:00:01.234 DEBUG hello connectionId="abc=" authorization=${REDACTED}`);
    expect(lines[1]?.[0]).toBe('12:00:01.234 INFO  parent');
  });
});

describe('PowertoolsLog', () => {
  let capture: ReturnType<typeof captureOutput> | undefined;
  afterEach(() => capture?.restore());

  it('writes JSON lines with attributes and child context, redacting secrets, honouring the level', () => {
    capture = captureOutput();
    const log = new PowertoolsLog({ serviceName: 'test-svc', level: 'info' });
    log.debug('hidden');
    log.info('opened', { connectionId: 'abc=', headers: { cookie: 'sid=1', origin: 'o' } });
    log.withContext({ connectionId: 'xyz=' }).error('closed', { token: 't' });
    const lines = capture.lines();
    capture.restore();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'opened',
      service: 'test-svc',
      connectionId: 'abc=',
      headers: { cookie: REDACTED, origin: 'o' },
    });
    expect(lines[1]).toMatchObject({ level: 'ERROR', message: 'closed', connectionId: 'xyz=', token: REDACTED });
  });
});

describe('PowertoolsMetrics', () => {
  let capture: ReturnType<typeof captureOutput> | undefined;
  afterEach(() => capture?.restore());

  it('flushes summed counters and timing samples as one EMF line in the GripChannelServer namespace', () => {
    capture = captureOutput();
    const metrics = new PowertoolsMetrics({ defaultDimensions: { function: 'worker' } });
    metrics.count('Deliveries');
    metrics.count('Deliveries', 41);
    metrics.count('DeliveriesGone', 2);
    metrics.timing('PublishLatency', 12);
    metrics.timing('PublishLatency', 30);
    metrics.flush();
    metrics.flush(); // nothing recorded since: writes nothing
    const lines = capture.lines();
    capture.restore();
    expect(lines).toHaveLength(1);
    const emf = lines[0] as { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] } } & Record<
      string,
      unknown
    >;
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('GripChannelServer');
    expect(emf.Deliveries).toBe(42);
    expect(emf.DeliveriesGone).toBe(2);
    expect(emf.PublishLatency).toEqual([12, 30]);
    expect(emf.function).toBe('worker');
    expect(emf._aws.CloudWatchMetrics[0]?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'Deliveries', Unit: 'Count' },
        { Name: 'PublishLatency', Unit: 'Milliseconds' },
      ]),
    );
  });
});

describe('InMemoryMetrics', () => {
  it('keeps counters and timing summaries, with bounded samples and percentiles', () => {
    const m = new InMemoryMetrics({ maxSamples: 100 });
    m.count('Published');
    m.count('Published', 2);
    for (let i = 1; i <= 1000; i++) m.timing('BackendLatency', i);
    expect(m.counter('Published')).toBe(3);
    expect(m.counter('Deliveries')).toBe(0);
    const t = m.timings('BackendLatency');
    expect(t).toMatchObject({ count: 1000, sum: 500_500, min: 1, max: 1000 });
    expect(t?.samples).toHaveLength(100);
    expect(t?.samples[0]).toBe(901);
    expect(m.percentile('BackendLatency', 50)).toBe(950);
    expect(m.percentile('BackendLatency', 100)).toBe(1000);
    expect(m.percentile('PublishLatency', 50)).toBeNull();
    expect(m.snapshot().counters).toEqual({ Published: 3 });
    m.reset();
    expect(m.snapshot()).toEqual({ counters: {}, timings: {} });
  });
});
