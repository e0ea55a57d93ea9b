import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Instance, startInstance } from '../ws/ws-support.ts';

let instance: Instance;
beforeAll(async () => {
  instance = await startInstance();
});
afterAll(async () => {
  await instance.close();
});

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${instance.port}/metrics`);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return response.text();
}

/** The value of the sample `name{...}` whose labels include every pair of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics, beside lakechat’s own metrics', () => {
  it('serves the process’s default metrics: CPU, memory, heap, event-loop lag and GC', async () => {
    // The CPU counter counts from the process's first scrape: spend some CPU between two, so the
    // second has something to show whatever the clock's granularity.
    await scrape();
    const until = Date.now() + 50;
    while (Date.now() < until);
    const text = await scrape();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_cpu_system_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    const cpu = Number(/^process_cpu_user_seconds_total (\S+)$/m.exec(text)?.[1]);
    expect(cpu).toBeGreaterThan(0);
    const heap = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
    expect(heap).toBeGreaterThan(1_000_000);
  });

  it('times HTTP requests by method, route pattern and status, never by the raw URL', async () => {
    const user = 'timed@example.com';
    for (const id of ['timed-one', 'timed-two']) expect((await instance.http(user, 'POST', '/api/chats', { id })).status).toBe(201);
    for (const id of ['timed-one', 'timed-two']) expect((await instance.http(user, 'GET', `/api/chats/${id}`)).status).toBe(200);
    expect((await instance.http(user, 'GET', '/api/chats/timed-missing')).status).toBe(404);
    expect((await instance.http(user, 'GET', '/no/such/page/42')).status).toBe(404);

    const text = await scrape();
    expect(text).toMatch(/^# TYPE lakechat_http_request_duration_seconds histogram$/m);
    const count = 'lakechat_http_request_duration_seconds_count';
    expect(sample(text, count, { method: 'POST', route: '/api/chats', status: '201' })).toBe(2);
    expect(sample(text, count, { method: 'GET', route: '/api/chats/:chatId', status: '200' })).toBe(2);
    expect(sample(text, count, { method: 'GET', route: '/api/chats/:chatId', status: '404' })).toBe(1);
    expect(sample(text, count, { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(sample(text, 'lakechat_http_request_duration_seconds_bucket', { method: 'POST', route: '/api/chats', status: '201', le: '+Inf' })).toBe(2);
    expect(sample(text, 'lakechat_http_request_duration_seconds_sum', { method: 'POST', route: '/api/chats', status: '201' })).toBeGreaterThan(0);
    for (const raw of ['timed-one', 'timed-two', 'timed-missing', '/no/such/page']) expect(text).not.toContain(raw);
  });
});
