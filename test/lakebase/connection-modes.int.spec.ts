import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { isLakechatError } from '../../src/errors.ts';
import { type ConnectionStatus, createLakebasePool, resolveConnection } from '../../src/lakebase/index.ts';
import { client, createLakebaseWorld, endpointName, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';
import { captureLog } from './support/log-capture.ts';

const session = z.object({ user: z.string(), database: z.string(), ssl: z.boolean() });
const log = captureLog();

async function connect(env: Record<string, string>): Promise<{ status: ConnectionStatus; row: z.infer<typeof session> }> {
  const resolved = await resolveConnection(loadConfig(env));
  const lakebase = await createLakebasePool(resolved, { logger: log.logger });
  try {
    const row = await lakebase.pool.one(sql.type(session)`SELECT current_user AS user, current_database() AS database, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`);
    return { status: lakebase.status(), row };
  } finally {
    await lakebase.close();
  }
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

describe('with database credentials', () => {
  let world: LakebaseWorld;
  beforeAll(async () => {
    world = await createLakebaseWorld();
  });
  afterAll(async () => {
    await world?.cleanup();
  });

  it('connects with LAKEBASE_PG_URL and its password, over TLS with sslmode=require', async () => {
    await world.role.setPassword('url-password-0001');
    const url = `postgresql://${encodeURIComponent(world.role.name)}:url-password-0001@${world.pgHost}:${world.pgPort}/${world.database.name}?sslmode=require`;
    const { status, row } = await connect({ LAKEBASE_PG_URL: url });
    expect(row).toEqual({ user: world.role.name, database: world.database.name, ssl: true });
    expect(status).toMatchObject({ mode: 'url', password: 'url', tokenExpiresAt: null, sslmode: 'require' });
  });

  it('prefers LAKEBASE_PG_URL over PGHOST and LAKEBASE_INSTANCE_NAME, asking the workspace nothing', async () => {
    await world.role.setPassword('url-password-0002');
    const before = world.workspace.count('database-credential') + world.workspace.count('instance');
    const url = `postgresql://${encodeURIComponent(world.role.name)}:url-password-0002@${world.pgHost}:${world.pgPort}/${world.database.name}?sslmode=require`;
    const { status } = await connect({
      ...world.baseEnv,
      LAKEBASE_PG_URL: url,
      PGHOST: 'unreachable.invalid',
      LAKEBASE_INSTANCE_NAME: instanceName,
      DATABRICKS_TOKEN: pat,
    });
    expect(status.mode).toBe('url');
    expect(world.workspace.count('database-credential') + world.workspace.count('instance')).toBe(before);
  });

  it('connects with PGHOST and PGPASSWORD, defaulting to sslmode=require', async () => {
    await world.role.setPassword('pg-env-password-0003');
    const { status, row } = await connect({
      PGHOST: world.pgHost,
      PGPORT: String(world.pgPort),
      PGDATABASE: world.database.name,
      PGUSER: world.role.name,
      PGPASSWORD: 'pg-env-password-0003',
    });
    expect(row.ssl).toBe(true);
    expect(status).toMatchObject({ mode: 'pg-env', password: 'pgpassword', sslmode: 'require', user: world.role.name });
  });

  it('logs in with PGHOST and a database credential for LAKEBASE_INSTANCE_NAME, without looking the host up', async () => {
    const lookups = world.workspace.count('instance');
    const { status, row } = await connect({
      ...world.baseEnv,
      PGHOST: world.pgHost,
      PGUSER: world.role.name,
      PGDATABASE: world.database.name,
      LAKEBASE_INSTANCE_NAME: instanceName,
      DATABRICKS_TOKEN: pat,
    });
    expect(row.user).toBe(world.role.name);
    expect(status).toMatchObject({ mode: 'pg-env', password: 'database-credential' });
    expect(status.tokenExpiresAt).not.toBeNull();
    expect(world.workspace.count('instance')).toBe(lookups);
  });

  it('logs in with PGHOST and an Autoscaling credential for LAKEBASE_ENDPOINT', async () => {
    const before = world.workspace.count('postgres-credential');
    const { status } = await connect({
      ...world.baseEnv,
      PGHOST: world.pgHost,
      PGUSER: world.role.name,
      PGDATABASE: world.database.name,
      LAKEBASE_ENDPOINT: endpointName,
      DATABRICKS_TOKEN: pat,
    });
    expect(status).toMatchObject({ mode: 'pg-env', password: 'endpoint-credential' });
    expect(world.workspace.count('postgres-credential')).toBe(before + 1);
  });

  it("looks up the instance's host and the user (SCIM Me) with only LAKEBASE_INSTANCE_NAME and a PAT", async () => {
    const before = { instance: world.workspace.count('instance'), me: world.workspace.count('scim-me') };
    const { status, row } = await connect({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(row).toEqual({ user: world.role.name, database: world.database.name, ssl: true });
    expect(status).toMatchObject({ mode: 'instance', host: world.pgHost, user: world.role.name, password: 'database-credential' });
    expect(world.workspace.count('instance')).toBe(before.instance + 1);
    expect(world.workspace.count('scim-me')).toBe(before.me + 1);
  });

  it("looks up an Autoscaling endpoint's host with LAKEBASE_ENDPOINT", async () => {
    const { status, row } = await connect({ ...world.baseEnv, LAKEBASE_ENDPOINT: endpointName, DATABRICKS_TOKEN: pat });
    expect(row.user).toBe(world.role.name);
    expect(status).toMatchObject({ mode: 'endpoint', host: world.pgHost, password: 'endpoint-credential' });
  });

  it('uses the PAT when DATABRICKS_AUTH_TYPE chooses it over client credentials', async () => {
    const { status } = await connect({
      ...world.baseEnv,
      LAKEBASE_INSTANCE_NAME: instanceName,
      DATABRICKS_TOKEN: pat,
      DATABRICKS_CLIENT_ID: client.id,
      DATABRICKS_CLIENT_SECRET: client.secret,
      DATABRICKS_AUTH_TYPE: 'pat',
    });
    expect(status.mode).toBe('instance');
    expect(world.workspace.count('oauth-token')).toBe(0);
  });

  it('uses databricks_postgres when no database is named', async () => {
    const resolved = await resolveConnection(loadConfig({ DATABRICKS_HOST: world.workspace.host, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat }));
    expect(resolved).toMatchObject({ database: 'databricks_postgres', port: 5432, sslmode: 'require' });
  });

  it('says when the instance name does not match exactly (names are case-sensitive)', async () => {
    const error = await failure(resolveConnection(loadConfig({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: 'Personal-Finance-DB', DATABRICKS_TOKEN: pat })));
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_INSTANCE_LOOKUP_FAILED')).toBe(true);
    expect(error.message).toContain('case-sensitive');
  });

  it('says when the workspace refuses the PAT, without quoting it', async () => {
    const wrong = 'fakepat-wrong-0000';
    const error = await failure(resolveConnection(loadConfig({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: wrong })));
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED')).toBe(true);
    expect(error.message).not.toContain(wrong);
  });

  it('is refused with sslmode=disable, as Lakebase refuses plain connections', async () => {
    const error = await failure(connect({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat, PGSSLMODE: 'disable' }));
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_LOGIN_FAILED')).toBe(true);
    expect(error.message).toContain('no encryption');
  });

  it('checks the certificate with sslmode=verify-full, refusing the self-signed test certificate', async () => {
    const error = await failure(connect({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat, PGSSLMODE: 'verify-full' }));
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_CONNECT_FAILED')).toBe(true);
    expect(error.message).toContain('self-signed');
  });
});

describe("with the workspace's own token (Databricks Apps)", () => {
  let world: LakebaseWorld;
  beforeAll(async () => {
    world = await createLakebaseWorld({ bindTokens: 'oauth' });
  });
  afterAll(async () => {
    await world?.cleanup();
  });

  it("logs in with PGHOST and the service principal's OAuth token when no credential source is named", async () => {
    const { status, row } = await connect({
      PGHOST: world.pgHost,
      PGPORT: String(world.pgPort),
      PGDATABASE: world.database.name,
      PGUSER: world.role.name,
      PGSSLMODE: 'require',
      PGAPPNAME: 'lakechat-app',
      DATABRICKS_HOST: world.workspace.host,
      DATABRICKS_CLIENT_ID: client.id,
      DATABRICKS_CLIENT_SECRET: client.secret,
    });
    expect(row.user).toBe(world.role.name);
    expect(status).toMatchObject({ mode: 'pg-env', password: 'workspace-token' });
    // The fake issues JWTs, as Databricks does: the expiry comes from the token's exp claim (seconds).
    const issuedExpiry = world.workspace.issued('oauth').at(-1)?.expiresAt.getTime() ?? 0;
    expect(status.tokenExpiresAt).toBe(new Date(Math.floor(issuedExpiry / 1000) * 1000).toISOString());
  });

  it('logs in with a PAT as the workspace token too', async () => {
    await world.role.setPassword(pat);
    const { status } = await connect({
      PGHOST: world.pgHost,
      PGPORT: String(world.pgPort),
      PGDATABASE: world.database.name,
      PGUSER: world.role.name,
      DATABRICKS_HOST: world.workspace.host,
      DATABRICKS_TOKEN: pat,
    });
    expect(status).toMatchObject({ mode: 'pg-env', password: 'workspace-token' });
  });

  it('says when the service principal is refused, without quoting its secret', async () => {
    const error = await failure(
      connect({
        PGHOST: world.pgHost,
        PGPORT: String(world.pgPort),
        PGUSER: world.role.name,
        DATABRICKS_HOST: world.workspace.host,
        DATABRICKS_CLIENT_ID: client.id,
        DATABRICKS_CLIENT_SECRET: 'not-the-secret',
      }),
    );
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED')).toBe(true);
    expect(error.message).not.toContain('not-the-secret');
  });
});

describe('the log of all of the above', () => {
  it('never contains a password or token', () => {
    const text = log.text();
    expect(text.length).toBeGreaterThan(0);
    for (const secret of ['url-password-0001', 'url-password-0002', 'pg-env-password-0003', pat, client.secret]) {
      expect(text).not.toContain(secret);
    }
  });
});
