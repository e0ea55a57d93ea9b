import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DoctorReport, runDoctor } from '../../src/lakebase/doctor.ts';
import { freePort } from '../support/global-setup.ts';
import { createLakebaseWorld, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';

let world: LakebaseWorld;
let restricted: LakebaseWorld;
let migrations: string;
const output: string[] = [];

async function admin(url: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/** Records postgrator's version table as if migrations 1 and 2 had run. */
async function markMigrated(target: LakebaseWorld): Promise<void> {
  await admin(
    target.database.url,
    `CREATE TABLE schemaversion (version bigint PRIMARY KEY, name text, md5 text, run_at timestamptz);
     INSERT INTO schemaversion VALUES (1, 'events', '', now()), (2, 'more', '', now());
     GRANT SELECT ON schemaversion TO ${pg.escapeIdentifier(target.role.name)};`,
  );
}

async function doctor(env: Record<string, string>, directory = migrations): Promise<DoctorReport & { text: string }> {
  const lines: string[] = [];
  const report = await runDoctor({ env, envFile: false, migrationsDirectory: directory, write: (line) => lines.push(line) });
  output.push(...lines);
  return { ...report, text: lines.join('\n') };
}

const failedStep = (report: DoctorReport) => report.steps.find((step) => !step.ok);

beforeAll(async () => {
  world = await createLakebaseWorld();
  restricted = await createLakebaseWorld({ canCreate: false });
  migrations = mkdtempSync(path.join(tmpdir(), 'lakechat-migrations-'));
  writeFileSync(path.join(migrations, '001.do.sql'), 'SELECT 1;');
  writeFileSync(path.join(migrations, '002.do.sql'), 'SELECT 2;');
  writeFileSync(path.join(migrations, '002.undo.sql'), 'SELECT 2;');
});
afterAll(async () => {
  await world?.cleanup();
  await restricted?.cleanup();
  rmSync(migrations, { recursive: true, force: true });
});

describe('npm run doctor', () => {
  it('says which mode resolved and why, passes every step of a good setup, and never prints the token', async () => {
    await markMigrated(world);
    const report = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(report.ok, report.text).toBe(true);
    expect(report.mode).toBe('instance');
    expect(report.steps.map((step) => step.step)).toEqual([
      'configuration',
      'mode',
      'workspace auth',
      'instance lookup',
      'database user',
      'credential',
      'tcp',
      'tls',
      'login',
      'create privilege',
      'migrations',
      'copied log',
    ]);
    expect(report.text).toContain('LAKEBASE_INSTANCE_NAME is set');
    expect(report.text).toMatch(/✓ login\s+logged in as .* \(PostgreSQL 16\.\d+, TLS\)/);
    expect(report.text).toContain('All checks passed.');
  });

  it('points at the instance name when it does not match exactly', async () => {
    const report = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: 'Personal-Finance-DB', DATABRICKS_TOKEN: pat });
    expect(report.ok).toBe(false);
    expect(failedStep(report)).toMatchObject({ step: 'instance lookup' });
    expect(failedStep(report)?.fix).toContain('case-sensitive');
    expect(report.steps.map((step) => step.step)).not.toContain('credential');
  });

  it('points at the PAT when the workspace refuses it', async () => {
    const report = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: 'fakepat-expired' });
    expect(failedStep(report)).toMatchObject({ step: 'workspace auth' });
    expect(failedStep(report)?.fix).toContain('DATABRICKS_TOKEN is a valid personal access token');
    expect(report.text).not.toContain('fakepat-expired');
  });

  it('points at the host format when DATABRICKS_HOST lacks https://', async () => {
    const report = await doctor({ LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_HOST: 'acme.cloud.databricks.com', DATABRICKS_TOKEN: pat });
    expect(failedStep(report)).toMatchObject({ step: 'configuration' });
    expect(report.text).toContain('DATABRICKS_HOST: must start with https://');
  });

  it('says how to configure a database when none is', async () => {
    const report = await doctor({});
    expect(failedStep(report)).toMatchObject({ step: 'mode' });
    expect(failedStep(report)?.fix).toContain('.env.local');
  });

  it('points at the network when nothing listens on the port', async () => {
    const port = await freePort();
    const report = await doctor({ ...world.baseEnv, PGPORT: String(port), LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(failedStep(report)).toMatchObject({ step: 'tcp' });
    expect(failedStep(report)?.detail).toContain('ECONNREFUSED');
  });

  it('points at the certificate under sslmode=verify-full', async () => {
    const report = await doctor({ ...world.baseEnv, PGSSLMODE: 'verify-full', LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(failedStep(report)).toMatchObject({ step: 'tls' });
    expect(failedStep(report)?.fix).toContain('sslmode=require');
  });

  it('points at PGUSER when the token does not belong to it (28P01)', async () => {
    const report = await doctor({ ...world.baseEnv, PGUSER: restricted.role.name, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(failedStep(report)).toMatchObject({ step: 'login' });
    expect(failedStep(report)?.detail).toContain('28P01');
    expect(failedStep(report)?.fix).toContain('PGUSER must be the identity the token belongs to');
  });

  it('points at the CREATE privilege migrations need', async () => {
    const report = await doctor({ ...restricted.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(failedStep(report)).toMatchObject({ step: 'create privilege' });
    expect(failedStep(report)?.fix).toContain('GRANT CREATE ON SCHEMA public');
  });

  it('says when migrations have not run, or not all of them', async () => {
    const fresh = await createLakebaseWorld();
    try {
      const none = await doctor({ ...fresh.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
      expect(failedStep(none)).toMatchObject({ step: 'migrations' });
      expect(failedStep(none)?.detail).toContain('no schemaversion table');
      expect(failedStep(none)?.fix).toContain('npm run migrate');
      await markMigrated(fresh);
      writeFileSync(path.join(migrations, '003.do.sql'), 'SELECT 3;');
      const behind = await doctor({ ...fresh.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
      expect(failedStep(behind)?.detail).toContain('version 2 of 3');
    } finally {
      rmSync(path.join(migrations, '003.do.sql'), { force: true });
      await fresh.cleanup();
    }
  });

  it('names DATABRICKS_HOST when LAKEBASE_INSTANCE_NAME is set without it, not the SDK’s words or the host’s format', async () => {
    const report = await doctor({ LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_CONFIG_FILE: path.join(migrations, 'no-databrickscfg') });
    expect(failedStep(report)).toMatchObject({ step: 'workspace auth' });
    expect(failedStep(report)?.detail).toContain('DATABRICKS_HOST is not set');
    expect(failedStep(report)?.fix).toMatch(/^DATABRICKS_HOST is not set, nor any credentials: .*Set DATABRICKS_HOST to your workspace URL .* and DATABRICKS_TOKEN/);
    expect(report.text).not.toContain('cannot configure default credentials');
    expect(report.text).not.toContain('includes https://');
  });

  it('names the missing credentials when DATABRICKS_HOST is set alone', async () => {
    const report = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_CONFIG_FILE: path.join(migrations, 'no-databrickscfg') });
    expect(failedStep(report)).toMatchObject({ step: 'workspace auth' });
    expect(failedStep(report)?.detail).toContain('no credentials');
    expect(failedStep(report)?.fix).toMatch(/^No credentials for .*: set DATABRICKS_TOKEN/);
  });

  it('names where the database name came from when it does not exist: the URL, PGDATABASE or LAKEBASE_DATABASE_NAME', async () => {
    const url = new URL(world.database.url);
    url.pathname = '/no_such_database';
    const byUrl = await doctor({ LAKEBASE_PG_URL: url.toString() });
    expect(failedStep(byUrl)).toMatchObject({ step: 'login' });
    expect(failedStep(byUrl)?.detail).toContain('3D000');
    expect(failedStep(byUrl)?.fix).toContain('There is no database no_such_database: it comes from the database in LAKEBASE_PG_URL');
    expect(failedStep(byUrl)?.fix).not.toMatch(/LAKEBASE_DATABASE_NAME|PGDATABASE/);

    const byInstance = await doctor({ ...world.baseEnv, LAKEBASE_DATABASE_NAME: 'no_such_database', LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(failedStep(byInstance)?.fix).toContain('it comes from LAKEBASE_DATABASE_NAME;');

    const admin = new URL(world.database.url);
    const byPgEnv = await doctor({
      PGHOST: admin.hostname,
      PGPORT: admin.port,
      PGUSER: decodeURIComponent(admin.username),
      PGPASSWORD: decodeURIComponent(admin.password),
      PGDATABASE: 'no_such_database',
    });
    expect(failedStep(byPgEnv)?.fix).toContain('it comes from PGDATABASE;');
  });

  it('points a refused fixed password at that password, not at tokens', async () => {
    const url = new URL(world.database.url);
    url.password = 'not-the-password';
    const byUrl = await doctor({ LAKEBASE_PG_URL: url.toString() });
    expect(failedStep(byUrl)).toMatchObject({ step: 'login' });
    expect(failedStep(byUrl)?.detail).toContain('28P01');
    expect(failedStep(byUrl)?.fix).toMatch(/^The server refused the password for postgres: check the password in LAKEBASE_PG_URL/);
    expect(failedStep(byUrl)?.fix).not.toMatch(/token/i);
    const byPgPassword = await doctor({ PGHOST: url.hostname, PGPORT: url.port, PGUSER: 'postgres', PGPASSWORD: 'not-the-password', PGDATABASE: world.database.name });
    expect(failedStep(byPgPassword)?.fix).toMatch(/^The server refused the password for postgres: check PGPASSWORD/);
    expect(byUrl.text + byPgPassword.text).not.toContain('not-the-password');
  });

  it('printed no token in any of the runs above', () => {
    const text = output.join('\n');
    for (const issued of [...world.workspace.issued(), ...restricted.workspace.issued()]) expect(text).not.toContain(issued.token);
    expect(text).not.toContain(pat);
  });
});
