import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLakebasePool, type LakebasePool, resolveConnection } from '../../src/lakebase/index.ts';
import { createLakebaseWorld, type LakebaseWorld } from './support/lakebase-setup.ts';
import { type CapturedLog, captureLog } from './support/log-capture.ts';

const password = 'slow-query-password';
let world: LakebaseWorld;

async function openPool(slowQueryMs: number): Promise<{ lakebase: LakebasePool; log: CapturedLog }> {
  const log = captureLog();
  const url = `postgresql://${encodeURIComponent(world.role.name)}:${password}@${world.pgHost}:${world.pgPort}/${world.database.name}?sslmode=require`;
  const lakebase = await createLakebasePool(await resolveConnection(loadConfig({ LAKEBASE_PG_URL: url })), { logger: log.logger, slowQueryMs });
  return { lakebase, log };
}

beforeAll(async () => {
  world = await createLakebaseWorld();
  await world.role.setPassword(password);
});
afterAll(async () => {
  await world?.cleanup();
});

describe('slow queries', () => {
  it('are reported with their SQL and duration, never their parameter values', async () => {
    const { lakebase, log } = await openPool(20);
    const value = 'customer-secret-4242';
    await lakebase.pool.query(sql.unsafe`SELECT pg_sleep(0.1), ${value}::text AS note`);
    await lakebase.close();
    const slow = log.lines().filter((line) => line.msg === 'slow query');
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ level: 40, slowQueryMs: 20, parameterCount: 1 });
    expect(slow[0]?.sql).toContain('pg_sleep(0.1)');
    expect(Number(slow[0]?.durationMs)).toBeGreaterThanOrEqual(100);
    expect(log.text()).not.toContain(value);
  });

  it('are not reported under the threshold', async () => {
    const { lakebase, log } = await openPool(60_000);
    await lakebase.pool.query(sql.unsafe`SELECT pg_sleep(0.05)`);
    await lakebase.close();
    expect(log.lines().filter((line) => line.msg === 'slow query')).toHaveLength(0);
  });
});
