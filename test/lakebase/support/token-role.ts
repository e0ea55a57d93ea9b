import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sslOnlyGroup } from '../../support/postgres-ssl.ts';

export interface TokenRole {
  /** The role's name: an email, like a Lakebase user's role. */
  name: string;
  /** Makes `token` the role's password until `expiresAt`, as a Lakebase token is checked at login. */
  setPassword(token: string, expiresAt?: Date): Promise<void>;
  /** Expires the current password: new logins fail with 28P01, open connections keep working. */
  expire(): Promise<void>;
  /** Closes the role's server connections (pg_terminate_backend): they end with 57P01. */
  terminateConnections(): Promise<number>;
  /** How many server connections the role has open. */
  connectionCount(): Promise<number>;
  drop(): Promise<void>;
}

async function withAdmin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A PostgreSQL role whose password is whatever token the fake workspace issued last, so logging in
 * with the token is a real password login. It may log in over TLS only (like Lakebase) and, with
 * `canCreate`, create tables in the test database's public schema.
 */
export async function createTokenRole(databaseUrl: string, options: { canCreate?: boolean; sslOnly?: boolean } = {}): Promise<TokenRole> {
  const name = `app-${randomBytes(4).toString('hex')}@example.com`;
  const role = pg.escapeIdentifier(name);
  const database = new URL(databaseUrl).pathname.slice(1);
  await withAdmin(databaseUrl, async (client) => {
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD NULL`);
    if (options.sslOnly ?? true) await client.query(`GRANT ${sslOnlyGroup} TO ${role}`);
    await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${role}`);
    if (options.canCreate ?? true) await client.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`);
  });
  return {
    name,
    setPassword: (token, expiresAt) =>
      withAdmin(databaseUrl, async (client) => {
        const until = expiresAt === undefined ? 'infinity' : expiresAt.toISOString();
        await client.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(token)} VALID UNTIL ${pg.escapeLiteral(until)}`);
      }),
    expire: () =>
      withAdmin(databaseUrl, async (client) => {
        await client.query(`ALTER ROLE ${role} VALID UNTIL '-infinity'`);
      }),
    terminateConnections: () =>
      withAdmin(databaseUrl, async (client) => {
        const result = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [name]);
        return result.rowCount ?? 0;
      }),
    connectionCount: () =>
      withAdmin(databaseUrl, async (client) => {
        const result = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [name]);
        return Number(result.rows[0].n);
      }),
    drop: () =>
      withAdmin(databaseUrl, async (client) => {
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [name]);
        await client.query(`DROP OWNED BY ${role}`);
        await client.query(`DROP ROLE IF EXISTS ${role}`);
      }),
  };
}
