import pg from 'pg';
import { sql } from 'slonik';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { createLakebasePool, type LakebasePool, resolveConnection } from '../../src/lakebase/index.ts';
import { migrateLakebase } from '../../src/migrate.ts';
import { createLakebaseWorld, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';
import { captureLog } from './support/log-capture.ts';
import { ManualClock } from './support/manual-clock.ts';

const minute = 60_000;
const log = captureLog();
let world: LakebaseWorld;
const open: LakebasePool[] = [];

beforeAll(async () => {
  world = await createLakebaseWorld();
});
afterEach(async () => {
  for (const lakebase of open.splice(0)) await lakebase.close();
});
afterAll(async () => {
  await world?.cleanup();
});

async function openPool(options: { poolSize?: number; clock?: ManualClock } = {}): Promise<LakebasePool> {
  const resolved = await resolveConnection(loadConfig({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat }));
  const lakebase = await createLakebasePool(resolved, {
    logger: log.logger,
    poolSize: options.poolSize ?? 10,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  open.push(lakebase);
  return lakebase;
}

const credentials = () => world.workspace.count('database-credential');
const latestToken = () => world.workspace.issued('database-credential').at(-1)?.token;
const pid = sql.type(z.object({ pid: z.number() }))`SELECT pg_backend_pid() AS pid`;

/** Holds `count` pool connections at once (so each is its own login), running `work` on each. */
async function holdConnections<T>(lakebase: LakebasePool, count: number, work: (connection: Parameters<Parameters<LakebasePool['pool']['connect']>[0]>[0]) => Promise<T>): Promise<T[]> {
  let arrived = 0;
  let release!: () => void;
  const allIn = new Promise<void>((resolve) => {
    release = resolve;
  });
  return Promise.all(
    Array.from({ length: count }, () =>
      lakebase.pool.connect(async (connection) => {
        arrived += 1;
        if (arrived === count) release();
        await allIn;
        return work(connection);
      }),
    ),
  );
}

describe('logging in with Lakebase tokens', () => {
  it('logs every connection in with the current token, and many connections at once cause one credential request', async () => {
    const before = credentials();
    const lakebase = await openPool({ poolSize: 20 });
    expect(credentials()).toBe(before + 1); // opening the pool logged in once
    lakebase.tokens?.invalidate(); // no token cached: the next 20 logins all need one
    const pids = await holdConnections(lakebase, 20, async (connection) => (await connection.one(pid)).pid);
    expect(new Set(pids).size).toBe(20);
    expect(await world.role.connectionCount()).toBeGreaterThanOrEqual(20);
    expect(credentials()).toBe(before + 2);
  });

  it('rotates the token: open connections keep working, new ones log in with the new token, no query fails', async () => {
    const clock = new ManualClock();
    const lakebase = await openPool({ poolSize: 10, clock });
    const first = latestToken();
    let stop = false;
    let queries = 0;
    // A steady load through the rotation; any failure rejects Promise.all below.
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          await lakebase.pool.query(sql.unsafe`SELECT 1`);
          queries += 1;
        }
      }),
    );
    await lakebase.pool.connect(async (held) => {
      const before = (await held.one(pid)).pid;
      clock.advance(45 * minute); // the refresh is due: the fake issues a new token, the old password stops working
      // The refresh is a real request to the fake workspace: on a busy machine it takes seconds.
      await vi.waitFor(() => expect(lakebase.tokens?.status().fetches).toBe(2), { timeout: 15_000 });
      expect(latestToken()).not.toBe(first);
      expect((await held.one(pid)).pid).toBe(before); // the open connection survived the rotation
      const fresh = await holdConnections(lakebase, 6, async (connection) => (await connection.one(pid)).pid);
      expect(fresh).not.toContain(before);
    });
    stop = true;
    await load;
    expect(queries).toBeGreaterThan(0);
    expect(lakebase.tokens?.status().consecutiveFailures).toBe(0);
  });

  it('logs in again with a new token after the server refuses a revoked one (28P01)', async () => {
    const lakebase = await openPool({ poolSize: 5 });
    const before = credentials();
    const revoked = latestToken() ?? '';
    await world.workspace.revoke(revoked);
    // Five new logins at once all meet the refusal; one new token serves them all.
    const pids = await holdConnections(lakebase, 5, async (connection) => (await connection.one(pid)).pid);
    expect(pids).toHaveLength(5);
    expect(credentials()).toBe(before + 1);
    expect(latestToken()).not.toBe(revoked);
    expect(log.lines().some((line) => line.msg === 'the database refused the token; fetching a new one')).toBe(true);
  });

  it('migrates with a new token when the cached one was revoked before the migrations logged in', async () => {
    const lakebase = await openPool();
    await lakebase.pool.query(sql.unsafe`SELECT 1`); // a token is now cached
    const revoked = latestToken() ?? '';
    await world.workspace.revoke(revoked);
    const before = credentials();
    const result = await migrateLakebase(lakebase, log.logger);
    expect(result.version).toBeGreaterThan(0);
    expect(credentials()).toBe(before + 1);
    expect(latestToken()).not.toBe(revoked);
  });

  it('logs in again with a new token after the current one expired early (28P01)', async () => {
    const lakebase = await openPool({ poolSize: 5 });
    const before = credentials();
    await world.role.expire();
    await expect(lakebase.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT 42 AS n`)).resolves.toBe(42);
    expect(credentials()).toBe(before + 1);
  });

  it('gives the LISTEN connection the same login, and a new token when its token was refused', async () => {
    const lakebase = await openPool();
    const listener = new pg.Client(await lakebase.listenerConfig());
    await listener.connect();
    const received = new Promise<string>((resolve) => listener.once('notification', (message) => resolve(message.payload ?? '')));
    await listener.query('LISTEN lakechat_test');
    await lakebase.pool.query(sql.unsafe`SELECT pg_notify('lakechat_test', 'hello')`);
    expect(await received).toBe('hello');
    const user = (await listener.query('SELECT current_user AS user')).rows[0].user;
    expect(user).toBe(world.role.name);
    await listener.end();

    // The token is revoked; the listener reconnects and asks again.
    const before = credentials();
    await world.workspace.revoke(latestToken() ?? '');
    const again = new pg.Client(await lakebase.listenerConfig());
    await again.connect();
    await again.end();
    expect(credentials()).toBe(before + 1);
  });

  it('drops only the token a refused connection logged in with: a fresh token is not thrown away', async () => {
    const clock = new ManualClock();
    const lakebase = await openPool({ poolSize: 2, clock });
    const first = latestToken();
    await lakebase.pool.connect(async (connection) => {
      await connection.query(sql.unsafe`SELECT 1`); // this connection logged in with the first token
      clock.advance(45 * minute); // the refresh is due: a fresh token is cached
      await vi.waitFor(async () => expect(await lakebase.tokens!.getToken()).not.toBe(first));
      const fresh = latestToken();
      expect(await lakebase.tokens!.getToken()).toBe(fresh);
      const before = credentials();
      // The server refuses the old connection's credentials (SQLSTATE 28P01, as a revoked token gives).
      await expect(connection.query(sql.unsafe`DO $$ BEGIN RAISE EXCEPTION 'token no longer valid' USING ERRCODE = '28P01'; END $$`)).rejects.toThrow();
      expect(await lakebase.tokens!.getToken()).toBe(fresh);
      expect(credentials()).toBe(before);
    });
  });

  it('reports where and as whom it connects, and the token expiry, but no token', async () => {
    const lakebase = await openPool();
    const status = lakebase.status();
    expect(status).toMatchObject({ mode: 'instance', host: world.pgHost, user: world.role.name, password: 'database-credential' });
    expect(Date.parse(status.tokenExpiresAt ?? '')).toBeGreaterThan(Date.now());
    const text = JSON.stringify(status);
    for (const issued of world.workspace.issued()) expect(text).not.toContain(issued.token);
  });
});

describe('the log', () => {
  it('never contains a token, whatever happened above', () => {
    const text = log.text();
    expect(world.workspace.issued().length).toBeGreaterThan(5);
    for (const issued of world.workspace.issued()) expect(text).not.toContain(issued.token);
    expect(text).not.toContain(pat);
  });
});
