import { describe, expect, it } from 'vitest';
import { EnvironmentError, loadAwsEnvironment } from '#src/handlers/aws/runtime.js';

describe('loadAwsEnvironment', () => {
  it('accepts every log level the stack offers (its logLevel context), in either case', () => {
    for (const level of ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']) {
      expect(loadAwsEnvironment({ LOG_LEVEL: level }).LOG_LEVEL).toBe(level);
      expect(loadAwsEnvironment({ LOG_LEVEL: level.toLowerCase() }).LOG_LEVEL).toBe(level);
    }
  });

  it('defaults the log level to INFO', () => {
    expect(loadAwsEnvironment({}).LOG_LEVEL).toBe('INFO');
  });

  it('refuses an unknown log level, naming the variable', () => {
    expect(() => loadAwsEnvironment({ LOG_LEVEL: 'LOUD' })).toThrow(EnvironmentError);
    expect(() => loadAwsEnvironment({ LOG_LEVEL: 'LOUD' })).toThrow(/^LOG_LEVEL: /);
  });
});
