import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage.ts';
import { client, createLakebaseWorld, instanceName, type LakebaseWorld, pat } from './support/lakebase-setup.ts';
import { captureLog } from './support/log-capture.ts';

let world: LakebaseWorld;
let oauthWorld: LakebaseWorld;
const log = captureLog();

beforeAll(async () => {
  world = await createLakebaseWorld();
  oauthWorld = await createLakebaseWorld({ bindTokens: 'oauth' });
});
afterAll(async () => {
  await world?.cleanup();
  await oauthWorld?.cleanup();
});

describe('storage on Lakebase', () => {
  it('migrates with the token, keeps events in PostgreSQL, and /health reports the mode and token expiry (not the host or user)', async () => {
    const config = loadConfig({ ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat });
    const storage = await openStorage(config, log.logger);
    try {
      expect(storage.eventStore.kind).toBe('postgres');
      await storage.eventStore.append('chat-1', [{ type: 'ChatStarted', data: { title: 'budget' } }]);
      const read = await storage.eventStore.readStream('chat-1');
      expect(read.events.map((event) => event.type)).toEqual(['ChatStarted']);
      const app = await buildApp({ config, logger: log.logger, storage });
      const response = await app.inject({ method: 'GET', url: '/health' });
      expect(response.json()).toMatchObject({
        status: 'ok',
        storage: 'postgres',
        mode: 'instance',
        degraded: false,
      });
      expect(response.body).not.toContain(world.pgHost);
      expect(response.body).not.toContain(world.role.name);
      expect(storage.status()).toMatchObject({ host: world.pgHost, user: world.role.name, database: world.database.name });
      expect(Date.parse(response.json().tokenExpiresAt)).toBeGreaterThan(Date.now());
      await app.close();
    } finally {
      await storage.close();
    }
  });

  it("runs as a Databricks App does: PG* variables and the service principal's OAuth token", async () => {
    const config = loadConfig({
      PGHOST: oauthWorld.pgHost,
      PGPORT: String(oauthWorld.pgPort),
      PGDATABASE: oauthWorld.database.name,
      PGUSER: oauthWorld.role.name,
      PGSSLMODE: 'require',
      PGAPPNAME: 'lakechat',
      DATABRICKS_HOST: oauthWorld.workspace.host,
      DATABRICKS_CLIENT_ID: client.id,
      DATABRICKS_CLIENT_SECRET: client.secret,
      DATABRICKS_APP_NAME: 'lakechat',
      STORAGE_FALLBACK: 'fail',
    });
    const storage = await openStorage(config, log.logger);
    try {
      expect(storage.status()).toMatchObject({ storage: 'postgres', mode: 'pg-env', user: oauthWorld.role.name });
      await storage.eventStore.append('chat-2', [{ type: 'ChatStarted', data: {} }]);
    } finally {
      await storage.close();
    }
  });

  it('falls back to memory, saying why, when the migrations fail (no CREATE privilege)', async () => {
    const restricted = await createLakebaseWorld({ canCreate: false });
    try {
      const env = { ...restricted.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat };
      const storage = await openStorage(loadConfig(env), log.logger);
      try {
        expect(storage.status()).toMatchObject({ storage: 'memory', mode: 'instance', degraded: true, user: restricted.role.name });
        expect(storage.status().reason).toContain('permission denied for schema public');
        expect(storage.eventStore.kind).toBe('memory');
      } finally {
        await storage.close();
      }
      await expect(openStorage(loadConfig({ ...env, STORAGE_FALLBACK: 'fail' }), log.logger)).rejects.toMatchObject({
        code: 'LAKECHAT_ERR_MIGRATION_FAILED',
      });
    } finally {
      await restricted.cleanup();
    }
  });

  it('wrote no token to the log', () => {
    const text = log.text();
    for (const issued of [...world.workspace.issued(), ...oauthWorld.workspace.issued()]) expect(text).not.toContain(issued.token);
    expect(text).not.toContain(pat);
    expect(text).not.toContain(client.secret);
  });
});
