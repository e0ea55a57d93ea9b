import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/global-setup.ts';
import { createLakebaseWorld, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';
import { health, type ServerProcess, startServer } from './support/server-process.ts';

let world: LakebaseWorld;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  world = await createLakebaseWorld();
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await world?.cleanup();
});

async function run(env: Record<string, string>, cwd?: string): Promise<ServerProcess> {
  const server = await startServer(env, cwd);
  servers.push(server);
  return server;
}

function tokensIn(text: string): string[] {
  return [...world.workspace.issued().map((issued) => issued.token), pat].filter((token) => text.includes(token));
}

describe('storage at start-up', () => {
  it('uses memory with a loud warning when no database is configured', async () => {
    const server = await run({});
    expect(await health(server)).toMatchObject({
      status: 'ok',
      storage: 'memory',
      mode: 'memory',
      degraded: false,
      tokenExpiresAt: null,
    });
    expect(server.output()).toContain('events live in memory and are lost on restart');
  });

  it('keeps events in Lakebase when the instance is reachable; the log says where, /health only until when the token runs', async () => {
    const server = await run({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat, STORAGE_FALLBACK: 'fail' });
    const body = await health(server);
    expect(body).toMatchObject({
      status: 'ok',
      storage: 'postgres',
      mode: 'instance',
      degraded: false,
    });
    // /health is unauthenticated: where the database is and who logs in are in the log only.
    expect(body).not.toHaveProperty('host');
    expect(body).not.toHaveProperty('user');
    expect(body).not.toHaveProperty('database');
    expect(server.output()).toContain(world.pgHost);
    expect(server.output()).toContain(world.role.name);
    expect(Date.parse(String(body.tokenExpiresAt))).toBeGreaterThan(Date.now());
    expect(tokensIn(server.output() + JSON.stringify(body))).toEqual([]);
    expect(await server.stop()).toBe(0);
  });

  it('falls back to memory when the configured database is unreachable, saying why in the log; /health says degraded, /ready 503', async () => {
    const closedPort = String(await freePort());
    const server = await run({ ...world.baseEnv, PGPORT: closedPort, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    const body = await health(server);
    expect(body).toMatchObject({ status: 'degraded', storage: 'memory', mode: 'instance', degraded: true });
    expect(JSON.stringify(body)).not.toContain(world.pgHost);
    expect(JSON.stringify(body)).not.toContain('ECONNREFUSED');
    expect(server.output()).toContain('ECONNREFUSED');
    expect((await fetch(`${server.url}/ready`)).status).toBe(503);
    expect(server.output()).toContain('falling back to in-memory storage');
    expect(tokensIn(server.output() + JSON.stringify(body))).toEqual([]);
  });

  it('exits non-zero instead with STORAGE_FALLBACK=fail, saying why', async () => {
    const closedPort = String(await freePort());
    const server = await run({
      ...world.baseEnv,
      PGPORT: closedPort,
      LAKEBASE_INSTANCE_NAME: instanceName,
      DATABRICKS_TOKEN: pat,
      STORAGE_FALLBACK: 'fail',
    });
    expect(await server.exited).toBe(69);
    expect(server.output()).toContain('ECONNREFUSED');
    expect(server.output()).toContain('STORAGE_FALLBACK=fail');
    expect(tokensIn(server.output())).toEqual([]);
  });

  it('says once why the login was refused (no `failed …: failed …`)', async () => {
    const url = new URL(world.database.url);
    url.password = 'not-the-password';
    const server = await run({ LAKEBASE_PG_URL: url.toString(), STORAGE_FALLBACK: 'fail', LOG_FORMAT: 'json' });
    expect(await server.exited).toBe(69);
    const fatal = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } })
      .find((line) => line.level === 60);
    expect(fatal?.msg).toMatch(/refused the login of .*: 28P01: password authentication failed for user "postgres"$/);
    const reason = 'password authentication failed for user "postgres"';
    for (const text of [fatal!.msg, fatal!.err!.message]) expect(text.split(reason)).toHaveLength(2);
    expect(server.output()).not.toContain('not-the-password');
  });

  it('reads .env.local from its working directory, as the Lakebase guide says', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'lakechat-cwd-'));
    try {
      const closedPort = String(await freePort());
      writeFileSync(
        path.join(directory, '.env.local'),
        [`LAKEBASE_INSTANCE_NAME=${instanceName}`, `DATABRICKS_HOST=${world.workspace.host}`, `DATABRICKS_TOKEN=${pat}`, `PGPORT=${closedPort}`].join('\n'),
      );
      const server = await run({}, directory);
      expect(await health(server)).toMatchObject({ mode: 'instance', storage: 'memory', degraded: true });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
