import { describe, expect, it } from 'vitest';
import { usePostgresInstances } from '../ws/postgres-fixture.ts';
import { eventually, type Instance } from '../ws/ws-support.ts';

const { instance: startApp, client: openClient } = usePostgresInstances();

async function scrape(instance: Instance): Promise<{ type: string | null; text: string; value(sample: string): number }> {
  const response = await fetch(`http://127.0.0.1:${instance.port}/metrics`);
  const text = await response.text();
  return {
    type: response.headers.get('content-type'),
    text,
    value(sample) {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
      if (line === undefined) throw new Error(`no sample ${sample} in:\n${text}`);
      return Number(line.slice(sample.length + 1));
    },
  };
}

describe('GET /metrics', () => {
  it('serves every metric in the Prometheus text format, each with HELP and TYPE', async () => {
    const instance = await startApp();
    const metrics = await scrape(instance);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const name of [
      'lakechat_events_appended_total',
      'lakechat_append_duration_seconds',
      'lakechat_ws_connections',
      'lakechat_ws_subscriptions',
      'lakechat_ws_frames_sent_total',
      'lakechat_ws_signals_dropped_total',
      'lakechat_projection_lag_events',
      'lakechat_projection_lag_seconds',
      'lakechat_token_refreshes_total',
      'lakechat_token_refresh_failures_total',
      'lakechat_db_pool_connections',
      'lakechat_db_pool_waiting_clients',
      'lakechat_storage_mode',
    ]) {
      expect(metrics.text).toMatch(new RegExp(`^# HELP ${name} .+$`, 'm'));
      expect(metrics.text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    // Every line is a comment or `name{labels} number` (names as Prometheus allows: nodejs_eventloop_lag_p99_seconds).
    for (const line of metrics.text.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-z_][a-z0-9_]* .+|[a-z_][a-z0-9_]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN))$/);
    }
    expect(metrics.text).toContain('lakechat_storage_mode{storage="postgres",mode="url",degraded="false"} 1');
    expect(metrics.value('lakechat_db_pool_connections{state="idle"}') + metrics.value('lakechat_db_pool_connections{state="acquired"}')).toBeGreaterThan(0);
  });

  it('counts appended events by type, times the appends, and follows WebSocket connections, subscriptions and frames', async () => {
    const instance = await startApp();
    const before = await scrape(instance);
    expect(before.value('lakechat_ws_connections')).toBe(0);
    const appendsBefore = before.value('lakechat_append_duration_seconds_count');

    expect((await instance.http('metrics@example.com', 'POST', '/api/chats', { id: 'counted' })).status).toBe(201);
    for (const content of ['one', 'two']) {
      expect((await instance.http('metrics@example.com', 'POST', '/api/chats/counted/messages', { content })).status).toBe(201);
    }
    const client = await openClient(instance.url, { user: 'metrics@example.com' });
    await client.subscribe({ id: 's1', scope: 'chat', chatId: 'counted', after: null });

    const after = await scrape(instance);
    expect(after.value('lakechat_events_appended_total{type="ChatStarted"}')).toBe(1);
    expect(after.value('lakechat_events_appended_total{type="MessagePosted"}')).toBe(2);
    expect(after.value('lakechat_append_duration_seconds_count')).toBe(appendsBefore + 3);
    expect(after.value('lakechat_append_duration_seconds_bucket{le="+Inf"}')).toBe(appendsBefore + 3);
    expect(after.value('lakechat_ws_connections')).toBe(1);
    expect(after.value('lakechat_ws_subscriptions')).toBe(1);
    // Two message events and caught_up at least.
    expect(after.value('lakechat_ws_frames_sent_total')).toBeGreaterThanOrEqual(3);

    // A retried post (same clientMessageId) writes nothing, so counts nothing.
    const retried = { content: 'three', clientMessageId: 'retry-1' };
    await instance.http('metrics@example.com', 'POST', '/api/chats/counted/messages', retried);
    await instance.http('metrics@example.com', 'POST', '/api/chats/counted/messages', retried);
    expect((await scrape(instance)).value('lakechat_events_appended_total{type="MessagePosted"}')).toBe(3);

    client.socket.close();
    await eventually('the connection to be gone', async () => ((await scrape(instance)).value('lakechat_ws_connections') === 0 ? true : undefined));
    expect((await scrape(instance)).value('lakechat_ws_subscriptions')).toBe(0);
  });
});
