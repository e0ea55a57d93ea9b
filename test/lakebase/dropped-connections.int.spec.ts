import pg from 'pg';
import { BackendTerminatedError, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { createLakebasePool, type LakebasePool, resolveConnection } from '../../src/lakebase/index.ts';
import { createLakebaseWorld, type LakebaseWorld } from './support/lakebase-setup.ts';
import { captureLog } from './support/log-capture.ts';

const password = 'dropped-connections-password';
const retryMs = 500;
const log = captureLog();
let world: LakebaseWorld;
let lakebase: LakebasePool;

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: world.database.url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  world = await createLakebaseWorld();
  await world.role.setPassword(password);
  // Functions that make the server end the calling connection (SQLSTATE 57P01), once or every time.
  // A sequence counts the calls: it is not rolled back when the session dies.
  await admin(`
    CREATE SEQUENCE calls;
    CREATE FUNCTION die_once() RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('calls') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
      RETURN 1;
    END $$;
    CREATE FUNCTION die_always() RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM nextval('calls');
      PERFORM pg_terminate_backend(pg_backend_pid());
      RETURN 1;
    END $$;
    GRANT USAGE, SELECT, UPDATE ON SEQUENCE calls TO ${pg.escapeIdentifier(world.role.name)};
    GRANT pg_signal_backend TO ${pg.escapeIdentifier(world.role.name)};
  `);
  const url = `postgresql://${encodeURIComponent(world.role.name)}:${password}@${world.pgHost}:${world.pgPort}/${world.database.name}?sslmode=require`;
  lakebase = await createLakebasePool(await resolveConnection(loadConfig({ LAKEBASE_PG_URL: url, DATABASE_RETRY_MS: String(retryMs) })), {
    logger: log.logger,
    poolSize: 4,
  });
});
afterAll(async () => {
  await lakebase?.close();
  await world?.cleanup();
});

const calls = sql.type(z.object({ n: z.number() }))`SELECT last_value::int AS n FROM calls`;
const resetCalls = () => admin('ALTER SEQUENCE calls RESTART');

describe('connections the server drops', () => {
  it('retries a single query on a new connection when the server ends its connection (57P01)', async () => {
    await resetCalls();
    await expect(lakebase.pool.oneFirst(sql.type(z.object({ ok: z.number() }))`SELECT die_once() AS ok`)).resolves.toBe(1);
    expect(await lakebase.pool.oneFirst(calls)).toBe(2);
    expect(log.lines().some((line) => line.msg === 'retrying a database operation on a new connection' && line.code === '57P01')).toBe(true);
  });

  it('retries for DATABASE_RETRY_MS, then fails: a query dropped every time', async () => {
    await resetCalls();
    const started = performance.now();
    await expect(lakebase.pool.query(sql.unsafe`SELECT die_always()`)).rejects.toBeInstanceOf(BackendTerminatedError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(retryMs - 50);
    expect(await lakebase.pool.oneFirst(calls)).toBeGreaterThan(2);
  });

  it('does not retry a transaction whose work had started: it may have happened', async () => {
    await resetCalls();
    await expect(lakebase.pool.transaction((transaction) => transaction.query(sql.unsafe`SELECT die_once()`))).rejects.toBeInstanceOf(BackendTerminatedError);
    expect(await lakebase.pool.oneFirst(calls)).toBe(1);
  });

  it('replaces connections the server closed while they were idle, with no query failing', async () => {
    await Promise.all(Array.from({ length: 4 }, () => lakebase.pool.query(sql.unsafe`SELECT pg_sleep(0.01)`)));
    expect(await world.role.terminateConnections()).toBeGreaterThan(0);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => lakebase.pool.oneFirst(sql.type(z.object({ i: z.number() }))`SELECT ${i}::int AS i`)));
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});
