import { createPool, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStorePoolConfiguration, type PostgresEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { createPostgresTestBed, type PostgresTestBed, withClient } from '../event-store/postgres-support.ts';
import { eventually } from './ws-support.ts';

let bed: PostgresTestBed;
let otherPool: DatabasePool;
beforeAll(async () => {
  bed = await createPostgresTestBed();
  otherPool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 4, idleInTransactionTimeoutMs: 10_000 }));
});
afterAll(async () => {
  await bed.close().finally(() => otherPool.end());
});

async function listenerPid(store: PostgresEventStore): Promise<number | undefined> {
  return withClient(bed.database.url, async (client) => {
    const { rows } = await client.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, [`lakechat-listen-${store.instanceId}`]);
    return rows[0]?.pid;
  });
}

describe('extra notification channels on the store’s LISTEN connection', () => {
  it('delivers notify() payloads to every instance listening, itself included, and again after the connection is killed', async () => {
    const a = bed.openStore();
    const b = bed.openStore({ pool: otherPool, pollIntervalMs: 60_000 });
    const atA: string[] = [];
    const atB: string[] = [];
    a.listen('lakechat_test_signals', (payload) => atA.push(payload));
    b.listen('lakechat_test_signals', (payload) => atB.push(payload));
    const firstPid = await eventually('B to listen', () => listenerPid(b));
    await eventually('A to listen', () => listenerPid(a));

    await a.notify('lakechat_test_signals', 'one');
    await eventually('"one" on both', () => atA.includes('one') && atB.includes('one'));

    await withClient(bed.database.url, (client) => client.query('SELECT pg_terminate_backend($1)', [firstPid]));
    await eventually('B to listen again', async () => {
      const pid = await listenerPid(b);
      return pid !== undefined && pid !== firstPid ? pid : undefined;
    });
    await a.notify('lakechat_test_signals', 'two');
    await eventually('"two" on B', () => atB.includes('two'));
    expect(atB).toEqual(['one', 'two']);
  });

  it('keeps waking live subscribers with event notifications on the same connection', async () => {
    const a = bed.openStore();
    const b = bed.openStore({ pool: otherPool, pollIntervalMs: 60_000 });
    const signals: string[] = [];
    const received: RecordedEvent[] = [];
    const controller = new AbortController();
    let live!: () => void;
    const caughtUp = new Promise<void>((resolve) => (live = resolve));
    const following = (async () => {
      for await (const event of b.subscribe({ signal: controller.signal, onCaughtUp: () => live() })) received.push(event);
    })();
    await caughtUp;
    // Added after the connection is up: LISTENed at once, not only at the next reconnect.
    await eventually('B to listen', () => listenerPid(b));
    b.listen('lakechat_test_other', (payload) => signals.push(payload));
    await eventually('the channel to be listened to', async () => {
      await a.notify('lakechat_test_other', 'ping');
      return signals.length > 0;
    });
    await a.append('stream-1', [{ type: 'Happened', data: {} }]);
    await eventually('the event on B', () => received.length === 1);
    controller.abort();
    await following;
  });

  it('refuses a channel name that is not a plain identifier, and the events channel itself', () => {
    const a = bed.openStore();
    expect(() => a.listen('x; DROP TABLE events', () => undefined)).toThrow();
    expect(() => a.listen('lakechat_events', () => undefined)).toThrow();
  });
});
