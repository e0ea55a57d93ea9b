import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLakebaseWorld, instanceName, pat, type LakebaseWorld } from './support/lakebase-setup.ts';

const script = fileURLToPath(new URL('../../scripts/doctor.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
let world: LakebaseWorld;
let cwd: string;

/**
 * `npm run doctor` (tsx scripts/doctor.ts) with exactly `env`, in an empty folder so that no
 * developer's .env.local is read.
 */
function doctor(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, script],
      { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }),
    );
  });
}

beforeAll(async () => {
  cwd = mkdtempSync(path.join(tmpdir(), 'lakechat-doctor-'));
  world = await createLakebaseWorld();
  // Record every migration of this build as applied, as the server's start-up would.
  const folder = new URL('../../migrations/', import.meta.url);
  const files = (existsSync(folder) ? readdirSync(folder) : []).filter((file) => /^\d+\.do\.sql$/.test(file));
  const client = new pg.Client({ connectionString: world.database.url });
  await client.connect();
  await client.query('CREATE TABLE schemaversion (version bigint PRIMARY KEY, name text, md5 text, run_at timestamptz)');
  for (const file of files) await client.query('INSERT INTO schemaversion VALUES ($1, $2, $3, now())', [Number.parseInt(file, 10), file, '']);
  await client.query(`GRANT SELECT ON schemaversion TO ${pg.escapeIdentifier(world.role.name)}`);
  await client.end();
}, 60_000);
afterAll(async () => {
  await world?.cleanup();
  rmSync(cwd, { recursive: true, force: true });
});

describe('npm run doctor', () => {
  it('exits 0 when every step passes', async () => {
    const { code, output } = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    expect(output).toContain('All checks passed.');
    expect(code).toBe(0);
  });

  it('exits 1 at the first failing step, with its fix', async () => {
    const { code, output } = await doctor({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: 'no-such-instance', DATABRICKS_TOKEN: pat });
    expect(code).toBe(1);
    expect(output).toMatch(/✗ instance lookup/);
    expect(output).toContain('Fix: Verify that LAKEBASE_INSTANCE_NAME matches the instance name exactly (case-sensitive)');
    for (const issued of world.workspace.issued()) expect(output).not.toContain(issued.token);
  });
});
