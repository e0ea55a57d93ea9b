import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLakebaseWorld, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';

const tsx = import.meta.resolve('tsx');
let world: LakebaseWorld;
let cwd: string;

/**
 * A script of package.json (`npm run doctor` is `tsx scripts/doctor.ts`) with exactly `env`, in an
 * empty folder so that no developer's .env.local is read.
 */
function script(name: 'doctor' | 'migrate', env: Record<string, string>): Promise<{ code: number; output: string }> {
  const file = fileURLToPath(new URL(`../../scripts/${name}.ts`, import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsx, file], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }),
    );
  });
}

beforeAll(async () => {
  cwd = mkdtempSync(path.join(tmpdir(), 'lakechat-doctor-'));
  world = await createLakebaseWorld();
});
afterAll(async () => {
  await world?.cleanup();
  rmSync(cwd, { recursive: true, force: true });
});

describe('npm run doctor', () => {
  it('exits 1 until the migrations ran, and 0 once npm run migrate applied them (instance mode)', async () => {
    const env = { ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat };
    const before = await script('doctor', env);
    expect(before.code).toBe(1);
    expect(before.output).toMatch(/✗ migrations\s+no schemaversion table/);
    expect(before.output).toContain('Fix: Run the migrations');

    const migrate = await script('migrate', env);
    expect(migrate.code, migrate.output).toBe(0);

    const after = await script('doctor', env);
    expect(after.output).toContain('All checks passed.');
    expect(after.code).toBe(0);
    for (const issued of world.workspace.issued()) expect(before.output + migrate.output + after.output).not.toContain(issued.token);
  });

  it('exits 1 at the first failing step, with its fix', async () => {
    const { code, output } = await script('doctor', { ...world.baseEnv, LAKEBASE_INSTANCE_NAME: 'no-such-instance', DATABRICKS_TOKEN: pat });
    expect(code).toBe(1);
    expect(output).toMatch(/✗ instance lookup/);
    expect(output).toContain('Fix: Verify that LAKEBASE_INSTANCE_NAME matches the instance name exactly (case-sensitive)');
  });
});
