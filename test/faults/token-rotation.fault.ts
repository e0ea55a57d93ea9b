import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { openStorage, type Storage } from '../../src/storage.ts';
import { createLakebaseWorld, instanceName, type LakebaseWorld, pat } from '../lakebase/support/lakebase-setup.ts';
import { ManualClock } from '../lakebase/support/manual-clock.ts';

const minute = 60_000;
const user = 'rotation@example.com';

let world: LakebaseWorld;
let storage: Storage;
let app: FastifyInstance;
let base: string;
const clock = new ManualClock();

beforeAll(async () => {
  world = await createLakebaseWorld();
  const config = loadConfig(
    { ...world.baseEnv, LAKEBASE_INSTANCE_NAME: instanceName, DATABRICKS_TOKEN: pat, STORAGE_FALLBACK: 'fail', LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0' },
    { envFile: false },
  );
  const logger = createLogger({ level: 'silent' });
  storage = await openStorage(config, logger, { clock });
  expect(storage.status()).toMatchObject({ storage: 'postgres', mode: 'instance' });
  app = await buildApp({ config, logger, storage });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  await storage?.close();
  await world?.cleanup();
});

async function post(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'x-demo-user': user, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('the database token rotated and the old one revoked under load', () => {
  it('fails no request while the token is refreshed, the old one revoked and every connection made to log in again', async () => {
    expect(await post('/api/chats', { id: 'rotation' })).toBe(201);
    const first = world.workspace.issued('database-credential').at(-1)!.token;
    const failures: number[] = [];
    let answered = 0;
    let posted = 0;
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, poster) => {
        for (let n = 0; !stop && n < 500; n += 1) {
          const status = await post('/api/chats/rotation/messages', { content: `${poster}/${n}` });
          if (status === 201) posted += 1;
          else failures.push(status);
          answered += 1;
        }
      }),
    );
    const waitForAnswers = async (more: number) => {
      const target = answered + more;
      await vi.waitFor(() => expect(answered).toBeGreaterThanOrEqual(target), { timeout: 30_000 });
    };

    await waitForAnswers(20);
    clock.advance(45 * minute); // the refresh is due: a new token becomes the password
    await vi.waitFor(() => expect(storage.tokenStatus?.()?.fetches).toBe(2), { timeout: 10_000 });
    await world.workspace.revoke(first); // and the old one stops working everywhere
    await world.role.terminateConnections(); // every pooled connection must log in again, now
    await waitForAnswers(40);
    await world.role.terminateConnections(); // once more, with the token the refusal made it fetch
    await waitForAnswers(40);
    stop = true;
    await load;

    // Not one request failed, and none was stored twice: a post whose connection dropped at its commit
    // was retried by the server and answered once.
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThanOrEqual(100);
    const chat = await fetch(`${base}/api/chats/rotation`, { headers: { 'x-demo-user': user } });
    expect(((await chat.json()) as { messageCount: number }).messageCount).toBe(posted);
    expect(storage.tokenStatus?.()?.consecutiveFailures).toBe(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^lakechat_token_refreshes_total [2-9]\d*$/m);
  });
});
