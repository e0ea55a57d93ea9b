import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { wsLimitsFrom } from '../../src/ws/limits.ts';

describe('the WebSocket settings', () => {
  it('defaults to limits a browser client never meets', () => {
    expect(wsLimitsFrom(loadConfig({}))).toMatchObject({
      maxPayloadBytes: 65_536,
      postsPerSecond: 10,
      signalsPerSecond: 50,
      maxSubscriptions: 20,
      maxConnectionsPerUser: 20,
      heartbeatIntervalMs: 30_000,
      sendBufferBytes: 262_144,
      stuckTimeoutMs: 30_000,
    });
    expect(loadConfig({}).env.WS_ALLOWED_ORIGINS).toEqual([]);
  });

  it('reads allowed origins as a list, lower-cased, without trailing slashes', () => {
    expect(loadConfig({ WS_ALLOWED_ORIGINS: ' https://Chat.Example.com/ ,http://localhost:5173,, ' }).env.WS_ALLOWED_ORIGINS).toEqual(['https://chat.example.com', 'http://localhost:5173']);
  });

  it('refuses a limit that is not a positive whole number, naming the variable', () => {
    for (const [variable, value] of [
      ['WS_SEND_BUFFER_BYTES', '0'],
      ['WS_MAX_SUBSCRIPTIONS', 'many'],
      ['WS_HEARTBEAT_INTERVAL_MS', '-5'],
      ['WS_MAX_PAYLOAD_BYTES', '100'],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ [variable]: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(new Set((error as ConfigError).variables)).toEqual(new Set([variable]));
    }
  });
});
