import { describe, expect, it } from 'vitest';
import { loadRuntimeSettings, runtimeSettings, runtimeSettingsToEnv, SettingError } from '#src/config/settings.js';

describe('loadRuntimeSettings', () => {
  it('gives every default when nothing is set', () => {
    const settings = loadRuntimeSettings({});
    expect(settings.fanoutConcurrency).toBe(100);
    expect(settings.maxSubscriptionsPerConnection).toBe(20);
    expect(Object.keys(settings).sort()).toEqual(Object.keys(runtimeSettings).sort());
  });

  it('reads each setting from its environment variable, and round-trips through runtimeSettingsToEnv', () => {
    const settings = loadRuntimeSettings({ FANOUT_CONCURRENCY: '250', FANOUT_PAGE_SIZE: ' 500 ' });
    expect(settings.fanoutConcurrency).toBe(250);
    expect(settings.fanoutPageSize).toBe(500);
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
