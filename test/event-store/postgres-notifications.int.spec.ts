import { createPool, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStorePoolConfiguration, type PostgresEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { createPostgresTestBed, type PostgresTestBed, withClient } from './postgres-support.ts';

let bed: PostgresTestBed;
let otherPool: DatabasePool;
beforeAll(async () => {
  bed = await createPostgresTestBed();
  otherPool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 4, idleInTransactionTimeoutMs: 10_000 }));
});
afterAll(async () => {
  await bed.close().finally(() => otherPool.end());
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function listenerPid(url: string, store: PostgresEventStore): Promise<number | undefined> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, [`lakechat-listen-${store.instanceId}`]);
    return rows[0]?.pid;
  });
}

function follow(store: PostgresEventStore) {
  const received: RecordedEvent[] = [];
  const controller = new AbortController();
  let caughtUp!: () => void;
  const live = new Promise<void>((resolve) => (caughtUp = resolve));
  const done = (async () => {
    for await (const event of store.subscribe({ signal: controller.signal, onCaughtUp: () => caughtUp() })) received.push(event);
  })();
  return { received, live, stop: () => (controller.abort(), done) };
}

describe('notifications between instances', () => {
  it('wakes a subscriber on another instance through NOTIFY, and loses nothing when its LISTEN connection is killed', async () => {
    // B never polls within the test: only a notification, or the catch-up after a reconnect, can wake it.
    const a = bed.openStore();
    const b = bed.openStore({ pool: otherPool, pollIntervalMs: 60_000 });
    const subscriber = follow(b);
    await subscriber.live;
    const firstPid = await until('B to listen', () => listenerPid(bed.database.url, b));

    await a.append('chat-1', [{ type: 'Posted', data: { n: 1 } }]);
    await until('the first event on B', async () => (subscriber.received.length >= 1 ? true : undefined));

    await withClient(bed.database.url, (client) => client.query('SELECT pg_terminate_backend($1)', [firstPid]));
    // Appended while B's listener is down or reconnecting: no notification reaches B for these.
    for (let n = 2; n <= 6; n++) await a.append('chat-1', [{ type: 'Posted', data: { n } }]);
    await until('the events appended while B was deaf', async () => (subscriber.received.length >= 6 ? true : undefined));

    const secondPid = await until('B to listen again', async () => {
      const pid = await listenerPid(bed.database.url, b);
      return pid !== undefined && pid !== firstPid ? pid : undefined;
    });
    expect(secondPid).not.toBe(firstPid);
    expect(b.listening).toBe(true);

    await a.append('chat-1', [{ type: 'Posted', data: { n: 7 } }]);
    await until('the event after the reconnect', async () => (subscriber.received.length >= 7 ? true : undefined));
    await subscriber.stop();
    expect(subscriber.received.map((e) => e.data.n)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('sends small notifications that carry a cursor and never the event data', async () => {
    const a = bed.openStore({ notifyIntervalMs: 0 });
    const payloads = await withClient(bed.database.url, async (client) => {
      const seen: string[] = [];
      client.on('notification', (message) => seen.push(message.payload ?? ''));
      await client.query('LISTEN lakechat_events');
      const result = await a.append('secret-stream', [{ type: 'Posted', data: { text: 'a private message' } }]);
      await until('a notification', async () => (seen.length > 0 ? true : undefined));
      return { seen, cursor: result.cursor };
    });
    const payload = JSON.parse(payloads.seen[0]!) as Record<string, unknown>;
    expect(payload).toEqual({ i: a.instanceId, c: payloads.cursor });
    expect(payloads.seen.join()).not.toContain('private');
  });
});
