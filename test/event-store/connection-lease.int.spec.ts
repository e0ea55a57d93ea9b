import { createPool, type DatabasePool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventStorePoolConfiguration } from '../../src/event-store/index.ts';
import { ConnectionLease } from '../../src/event-store/postgres/connection-lease.ts';
import { createPostgresTestBed, type PostgresTestBed, withClient } from './postgres-support.ts';

let bed: PostgresTestBed;
let pool: DatabasePool;
beforeAll(async () => {
  bed = await createPostgresTestBed(1);
  pool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 2, idleInTransactionTimeoutMs: 10_000 }));
});
afterAll(async () => {
  await pool.end();
  await bed.close();
});

const backendPid = sql.type(z.object({ pid: z.number() }))`SELECT pg_backend_pid() AS pid`;

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a connection lease', () => {
  it('runs statement after statement on one session', async () => {
    const lease = new ConnectionLease(pool);
    const pids = [];
    for (let n = 0; n < 5; n++) pids.push(await lease.run((db) => db.oneFirst(backendPid)));
    lease.end();
    expect(new Set(pids).size).toBe(1);
  });

  it('never lends a connection the pool has seen closed: the next statement runs on a new session at its first try', async () => {
    const lease = new ConnectionLease(pool);
    const first = await lease.run((db) => db.oneFirst(backendPid));
    await withClient(bed.database.url, (client) => client.query('SELECT pg_terminate_backend($1)', [first]));
    // The held connection heard the server close it: the pool has dropped it.
    await until(() => pool.state().acquiredConnections === 0);
    const second = await lease.run((db) => db.oneFirst(backendPid));
    lease.end();
    expect(second).not.toBe(first);
  });
});
