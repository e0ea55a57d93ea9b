/**
 * Cursors name their store: the name of a PostgreSQL log (cluster, database, epoch) as an ordinary
 * role reads it. Lakebase apps never run as a superuser, so the identity must be readable by a role
 * with no more than the grants the app's tables need.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bumpStoreEpoch, readStoreIdentity } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let first: TestDatabase;
let second: TestDatabase;
const role = `plain_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');

async function asAdmin(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

function urlAs(url: string, user: string, secret: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = secret;
  return parsed.toString();
}

async function identityAt(url: string): Promise<string> {
  const pool = await createPool(url);
  try {
    return await readStoreIdentity(pool);
  } finally {
    await pool.end();
  }
}

beforeAll(async () => {
  [first, second] = await Promise.all([createTestDatabase('lakechat_identity'), createTestDatabase('lakechat_identity')]);
  await Promise.all([runMigrations({ connectionString: first.url }), runMigrations({ connectionString: second.url })]);
  await asAdmin(first.url, [`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE`, `GRANT SELECT ON store_epoch TO ${role}`]);
});
afterAll(async () => {
  await first?.drop();
  await second?.drop();
  if (first !== undefined) await asAdmin(first.url.replace(/\/[^/?]*(\?|$)/, '/postgres$1'), [`DROP ROLE IF EXISTS ${role}`]).catch(() => undefined);
});

describe('the store identity', () => {
  it('is readable by an ordinary role (no superuser), and equals what the owner reads', async () => {
    const plain = await identityAt(urlAs(first.url, role, password));
    expect(plain).toMatch(/^p[0-9a-z]+d[0-9a-z]+e[0-9a-z]+$/);
    expect(plain).toBe(await identityAt(first.url));
  });

  it('differs between two databases of one cluster, and changes with the epoch', async () => {
    const before = await identityAt(first.url);
    expect(await identityAt(second.url)).not.toBe(before);
    const pool = await createPool(second.url);
    try {
      const was = await readStoreIdentity(pool);
      await bumpStoreEpoch(pool);
      expect(await readStoreIdentity(pool)).not.toBe(was);
    } finally {
      await pool.end();
    }
  });
});
