import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

const secret = 'dapi-s3cret-value-never-echoed';

describe('the Lakebase variables', () => {
  it('accepts an https:// workspace host, and http:// only for a loopback host', () => {
    expect(loadConfig({ DATABRICKS_HOST: 'https://adb-1.2.azuredatabricks.net' }).env.DATABRICKS_HOST).toBe('https://adb-1.2.azuredatabricks.net');
    expect(loadConfig({ DATABRICKS_HOST: 'http://127.0.0.1:4321' }).env.DATABRICKS_HOST).toBe('http://127.0.0.1:4321');
    expect(loadConfig({ DATABRICKS_HOST: 'http://localhost:4321' }).env.DATABRICKS_HOST).toBe('http://localhost:4321');
    for (const host of ['acme.cloud.databricks.com', 'http://acme.cloud.databricks.com', 'ftp://127.0.0.1']) {
      const error = problemsOf({ DATABRICKS_HOST: host });
      expect(error.variables).toEqual(['DATABRICKS_HOST']);
      expect(error.message).toContain('https://');
      expect(error.message).not.toContain(host);
    }
  });

  it('holds instance names to the naming rules: 1-63 letters and hyphens, starting with a letter', () => {
    expect(loadConfig({ LAKEBASE_INSTANCE_NAME: 'personal-finance-db' }).env.LAKEBASE_INSTANCE_NAME).toBe('personal-finance-db');
    expect(loadConfig({ LAKEBASE_INSTANCE_NAME: 'a'.repeat(63) }).env.LAKEBASE_INSTANCE_NAME).toHaveLength(63);
    for (const name of ['personal_finance', '1finance', '-finance', 'my finance', 'db2', 'a'.repeat(64)]) {
      expect(problemsOf({ LAKEBASE_INSTANCE_NAME: name }).variables, name).toEqual(['LAKEBASE_INSTANCE_NAME']);
    }
  });

  it('expects an Autoscaling endpoint as projects/P/branches/B/endpoints/E, and not with an instance name', () => {
    expect(loadConfig({ LAKEBASE_ENDPOINT: 'projects/finance/branches/main/endpoints/primary' }).env.LAKEBASE_ENDPOINT).toBeDefined();
    expect(problemsOf({ LAKEBASE_ENDPOINT: 'finance/main/primary' }).variables).toEqual(['LAKEBASE_ENDPOINT']);
    const both = problemsOf({ LAKEBASE_ENDPOINT: 'projects/finance/branches/main/endpoints/primary', LAKEBASE_INSTANCE_NAME: 'finance' });
    expect(both.variables).toEqual(['LAKEBASE_ENDPOINT']);
    expect(both.message).toContain('not both');
  });

  it('refuses a PAT and client credentials together without DATABRICKS_AUTH_TYPE, saying why', () => {
    const error = problemsOf({
      DATABRICKS_HOST: 'https://example.cloud.databricks.com',
      DATABRICKS_TOKEN: secret,
      DATABRICKS_CLIENT_ID: 'client',
      DATABRICKS_CLIENT_SECRET: secret,
    });
    expect(error.variables).toEqual(['DATABRICKS_AUTH_TYPE']);
    expect(error.message).toContain('more than one authorization method');
    expect(error.message).not.toContain(secret);
    const chosen = loadConfig({
      DATABRICKS_HOST: 'https://example.cloud.databricks.com',
      DATABRICKS_TOKEN: secret,
      DATABRICKS_CLIENT_ID: 'client',
      DATABRICKS_CLIENT_SECRET: secret,
      DATABRICKS_AUTH_TYPE: 'oauth-m2m',
    });
    expect(chosen.env.DATABRICKS_AUTH_TYPE).toBe('oauth-m2m');
  });

  it('refuses modes configured by half', () => {
    expect(problemsOf({ DATABRICKS_CLIENT_ID: 'client' }).variables).toEqual(['DATABRICKS_CLIENT_SECRET']);
    expect(problemsOf({ PGPASSWORD: secret }).variables).toEqual(['PGPASSWORD']);
    expect(problemsOf({ PGUSER: 'someone' }).variables).toEqual(['PGUSER']);
    expect(problemsOf({ PGHOST: 'db.example.com', PGPASSWORD: secret }).variables).toEqual(['PGUSER']);
    expect(problemsOf({ LAKEBASE_DATABASE_NAME: 'databricks_postgres' }).variables).toEqual(['LAKEBASE_DATABASE_NAME']);
    expect(problemsOf({ LAKEBASE_INSTANCE_NAME: 'finance', DATABRICKS_TOKEN: secret }).variables).toEqual(['DATABRICKS_HOST']);
    expect(problemsOf({ LAKEBASE_PG_URL: 'postgresql://db.example.com/app' }).variables).toEqual(['LAKEBASE_PG_URL']);
    expect(problemsOf({ LAKEBASE_PG_URL: `postgresql://u:${secret}@db.example.com/app?sslmode=sometimes` }).message).not.toContain(secret);
  });

  it('accepts the variables a Databricks App gets from a database resource', () => {
    const config = loadConfig({
      PGHOST: 'instance-1234.database.cloud.databricks.com',
      PGPORT: '5432',
      PGDATABASE: 'databricks_postgres',
      PGUSER: '6b3c1d2e-0000-4000-8000-00000000c11e',
      PGSSLMODE: 'require',
      PGAPPNAME: 'lakechat',
      DATABRICKS_HOST: 'https://example.cloud.databricks.com',
      DATABRICKS_CLIENT_ID: '6b3c1d2e-0000-4000-8000-00000000c11e',
      DATABRICKS_CLIENT_SECRET: secret,
      DATABRICKS_APP_NAME: 'lakechat',
    });
    expect(config.env.PGSSLMODE).toBe('require');
  });
});

describe('.env.local', () => {
  let directory: string | undefined;
  afterEach(() => {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it('is read for local development, with the real environment winning', () => {
    directory = mkdtempSync(path.join(tmpdir(), 'lakechat-env-'));
    const file = path.join(directory, '.env.local');
    writeFileSync(
      file,
      [
        '# Option A: Instance name (recommended)',
        'LAKEBASE_INSTANCE_NAME=personal-finance-db',
        'DATABRICKS_HOST=https://example.cloud.databricks.com',
        `DATABRICKS_TOKEN="${secret}"`,
        'LOG_LEVEL=debug',
      ].join('\n'),
    );
    const config = loadConfig({ LOG_LEVEL: 'warn' }, { envFile: file });
    expect(config.env.LAKEBASE_INSTANCE_NAME).toBe('personal-finance-db');
    expect(config.env.DATABRICKS_TOKEN).toBe(secret);
    expect(config.logLevel).toBe('warn');
  });

  it('is validated like the environment', () => {
    directory = mkdtempSync(path.join(tmpdir(), 'lakechat-env-'));
    const file = path.join(directory, '.env.local');
    writeFileSync(file, 'LAKEBASE_INSTANCE_NAME=personal_finance\n');
    expect(() => loadConfig({}, { envFile: file })).toThrow(ConfigError);
  });

  it('is not read in a Databricks App, where the platform provides the credentials', () => {
    directory = mkdtempSync(path.join(tmpdir(), 'lakechat-env-'));
    const file = path.join(directory, '.env.local');
    writeFileSync(file, `DATABRICKS_TOKEN=${secret}\n`);
    const config = loadConfig({ DATABRICKS_APP_NAME: 'lakechat' }, { envFile: file });
    expect(config.env.DATABRICKS_TOKEN).toBeUndefined();
  });

  it('is not read when the caller passes its own environment', () => {
    expect(loadConfig({}).env.LAKEBASE_INSTANCE_NAME).toBeUndefined();
  });
});
