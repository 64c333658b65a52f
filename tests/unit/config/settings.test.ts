import { LogLevel } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import {
  backendSettings,
  firstOf,
  fromContext,
  fromEnvironment,
  fromFlags,
  loadRuntimeSettings,
  localSettings,
  logLevels,
  readSettings,
  runtimeSettings,
  runtimeSettingsToEnv,
  SettingError,
  settingsToEnv,
  type SettingTable,
} from '#src/config/settings.js';

const errorOf = (read: () => unknown): SettingError => {
  try {
    read();
  } catch (e) {
    if (e instanceof SettingError) return e;
    throw e;
  }
  throw new Error('expected a SettingError');
};

describe('loadRuntimeSettings', () => {
  it('gives every default when nothing is set', () => {
    const settings = loadRuntimeSettings({});
    expect(settings.fanoutConcurrency).toBe(100);
    expect(settings.maxSubscriptionsPerConnection).toBe(20);
    expect(Object.keys(settings).sort()).toEqual(Object.keys(runtimeSettings).sort());
  });

  it('reads each setting from its environment variable, and round-trips through runtimeSettingsToEnv', () => {
    const settings = loadRuntimeSettings({ FANOUT_CONCURRENCY: '250', FANOUT_PAGE_SIZE: ' 500 ', LOG_LEVEL: 'warn' });
    expect(settings.fanoutConcurrency).toBe(250);
    expect(settings.fanoutPageSize).toBe(500);
    expect(settings.logLevel).toBe('WARN');
    expect(loadRuntimeSettings(runtimeSettingsToEnv(settings))).toEqual(settings);
  });

  it.each([
    ['FANOUT_CONCURRENCY', '0'],
    ['FANOUT_CONCURRENCY', '1.5'],
    ['BACKEND_TIMEOUT_MS', '30000'],
    ['FANOUT_BUCKETS', 'many'],
  ])('refuses %s=%s, naming the variable and the allowed range', (name, value) => {
    expect(() => loadRuntimeSettings({ [name]: value })).toThrow(SettingError);
    expect(() => loadRuntimeSettings({ [name]: value })).toThrow(
      new RegExp(`^${name} is "${value.replace('.', '\\.')}"; it must be an integer from \\d+ to \\d+`),
    );
  });
});

describe('LOG_LEVEL: one set of levels on AWS and locally', () => {
  it("is exactly Powertools' levels", () => {
    expect([...logLevels].sort()).toEqual([...new Set(Object.values(LogLevel).map((l) => l.toUpperCase()))].sort());
  });

  it('accepts every level in either case, spelt as Powertools wants it', () => {
    for (const level of logLevels) {
      expect(loadRuntimeSettings({ LOG_LEVEL: level }).logLevel).toBe(level);
      expect(loadRuntimeSettings({ LOG_LEVEL: level.toLowerCase() }).logLevel).toBe(level);
    }
  });

  it('defaults to INFO and refuses an unknown level, naming the variable', () => {
    expect(loadRuntimeSettings({}).logLevel).toBe('INFO');
    expect(errorOf(() => loadRuntimeSettings({ LOG_LEVEL: 'LOUD' })).message).toMatch(
      /^LOG_LEVEL is "LOUD"; it must be TRACE, DEBUG, INFO/,
    );
  });
});

describe('readSettings', () => {
  const table = {
    url: { type: 'url', env: 'A_URL', flag: 'url', context: 'url', example: 'https://x.example/', description: 'A URL.' },
    flag: { type: 'boolean', env: 'A_FLAG', default: false, description: 'A switch.' },
    mode: { type: 'enum', env: 'A_MODE', values: ['one', 'two'], default: 'one', description: 'A mode.' },
    secret: { type: 'string', env: 'A_SECRET', secret: true, pattern: /^.{8,}$/, allowed: 'at least 8 characters', description: 'A key.' },
  } as const satisfies SettingTable;

  it('gives defaults, and undefined for an optional value not given', () => {
    expect(readSettings(table, fromEnvironment({}))).toEqual({ url: undefined, flag: false, mode: 'one', secret: undefined });
  });

  it('reads each kind, treating an empty value as not given', () => {
    const env = { A_URL: 'http://10.0.0.5:8080/ws', A_FLAG: 'true', A_MODE: 'two', A_SECRET: 'long enough' };
    expect(readSettings(table, fromEnvironment(env))).toEqual({ url: env.A_URL, flag: true, mode: 'two', secret: 'long enough' });
    expect(readSettings(table, fromEnvironment({ A_MODE: '' })).mode).toBe('one');
  });

  it.each([
    ['A_URL', 'ftp://x.example/', 'an http:// or https:// URL'],
    ['A_URL', 'https://', 'an http:// or https:// URL'],
    ['A_FLAG', 'yes', 'true or false'],
    ['A_MODE', 'three', 'one, two'],
  ])('refuses %s=%s, saying what is allowed', (name, value, allowed) => {
    expect(errorOf(() => readSettings(table, fromEnvironment({ [name]: value }))).message).toBe(
      `${name} is "${value}"; it must be ${allowed}. ${Object.values(table).find((s) => s.env === name)?.description}`,
    );
  });

  it('never quotes a secret', () => {
    const e = errorOf(() => readSettings(table, fromEnvironment({ A_SECRET: 'short' })));
    expect(e.message).toBe('A_SECRET is not allowed (value not shown); it must be at least 8 characters. A key.');
  });

  it('names every place it looked when a required value is missing', () => {
    const source = firstOf(
      fromContext(() => undefined),
      fromEnvironment({}),
    );
    expect(errorOf(() => readSettings(table, source, ['url'])).message).toBe(
      'context "url" is missing and A_URL is not set; it must be an http:// or https:// URL, e.g. https://x.example/. A URL.',
    );
  });

  it('takes the first place that gives a value (a flag before its variable), and names it in errors', () => {
    const source = firstOf(fromFlags({ url: 'https://flag.example/' }), fromEnvironment({ A_URL: 'https://env.example/' }));
    expect(readSettings(table, source).url).toBe('https://flag.example/');
    expect(errorOf(() => readSettings(table, firstOf(fromFlags({ url: 'nope' }), fromEnvironment({})))).message).toMatch(
      /^--url is "nope"/,
    );
  });

  it('reads an environment source restricted to some settings only for those', () => {
    expect(readSettings(table, fromEnvironment({ A_URL: 'https://a.example/', A_MODE: 'two' }, [table.url]))).toMatchObject({
      url: 'https://a.example/',
      mode: 'one',
    });
  });

  it('writes the environment variables a function reads back', () => {
    const values = readSettings(table, fromEnvironment({ A_URL: 'https://a.example/', A_MODE: 'two' }));
    expect(settingsToEnv(table, values)).toEqual({ A_URL: 'https://a.example/', A_FLAG: 'false', A_MODE: 'two' });
  });
});

describe('one rule per value, wherever it is read', () => {
  it('TARGET_URL: an http(s) URL with a host', () => {
    for (const bad of ['backend.example.com', 'ftp://backend.example.com/', 'https://']) {
      expect(() => readSettings(backendSettings, fromEnvironment({ TARGET_URL: bad }))).toThrow(/^TARGET_URL is /);
    }
    expect(readSettings(backendSettings, fromEnvironment({ TARGET_URL: 'http://127.0.0.1:9/x' })).targetUrl).toBe('http://127.0.0.1:9/x');
  });

  it('GRIP_ISS: printable ASCII, default pushpin', () => {
    expect(readSettings(backendSettings, fromEnvironment({})).gripIss).toBe('pushpin');
    expect(() => readSettings(backendSettings, fromEnvironment({ GRIP_ISS: 'two words' }))).toThrow(/^GRIP_ISS is "two words"/);
  });

  it('local ports are 0–65535 and delivery is one of the two modes', () => {
    expect(readSettings(localSettings, fromFlags({ 'ws-port': '0' })).wsPort).toBe(0);
    expect(() => readSettings(localSettings, fromEnvironment({ CONTROL_PORT: '70000' }))).toThrow(/^CONTROL_PORT is "70000"/);
    expect(() => readSettings(localSettings, fromEnvironment({ LOCAL_DELIVERY: 'carrier-pigeon' }))).toThrow(
      /it must be direct, management-api/,
    );
  });
});
