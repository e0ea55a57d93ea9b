import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration', () => {
  it('has sensible defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.production).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('prefers DATABRICKS_APP_PORT over PORT, and treats a Databricks App as production', () => {
    const config = loadConfig({ PORT: '3000', DATABRICKS_APP_PORT: '8080', DATABRICKS_APP_NAME: 'lakechat' });
    expect(config.port).toBe(8080);
    expect(config.production).toBe(true);
  });

  it('stops on a bad value naming the variable, never echoing the value', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'not-a-port-s3cret', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('LAKECHAT_ERR_CONFIG_INVALID');
    expect(error.variables).toEqual(expect.arrayContaining(['PORT', 'LOG_LEVEL']));
    expect(error.message).not.toContain('s3cret');
  });
});
