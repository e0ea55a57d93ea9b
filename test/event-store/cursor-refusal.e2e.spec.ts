import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, MemoryEventStore } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { Client, startChat, startInstance, type Instance } from '../ws/ws-support.ts';

const analyst = 'ana@example.com';
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase('lakechat_cursors');
  await runMigrations({ connectionString: database.url });
});
afterAll(async () => {
  await database?.drop();
});

/** A cursor of another memory log (another process's), and a bare one (PostgreSQL's form). */
async function foreignCursors(): Promise<{ otherMemory: string; bare: string }> {
  const other = new MemoryEventStore();
  const otherMemory = (await other.append('s', [{ type: 'Elsewhere', data: {} }])).cursor;
  await other.close();
  return { otherMemory, bare: '1-1' };
}

for (const kind of ['memory', 'postgres'] as const) {
  describe(`cursors at the edge (${kind})`, () => {
    let instance: Instance;
    let issued: string;
    beforeAll(async () => {
      instance = await startInstance({ env: { ANALYST_EMAILS: analyst }, ...(kind === 'postgres' ? { databaseUrl: database.url } : {}) });
      await startChat(instance, analyst, `cursors-${kind}`);
      const posted = await instance.http(analyst, 'POST', `/api/chats/cursors-${kind}/messages`, { content: 'hello' });
      issued = posted.body.cursor as string;
    });
    afterAll(async () => {
      await instance?.close();
    });

    const beyondHead = (): string => {
      const point = decodeCursor(issued);
      return encodeCursor({ tx: point.tx + 999_999_999n, position: point.position + 5n, store: point.store });
    };
    const refused = async (cursors: string[]): Promise<void> => {
      for (const after of cursors) {
        const answer = await instance.http(analyst, 'GET', `/api/events?after=${encodeURIComponent(after)}`);
        expect([after, answer.status, answer.body?.error?.code]).toEqual([after, 400, 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        const client = await Client.open(instance.url, { user: analyst });
        const frame = await client.subscribe({ id: 's', scope: 'all', after });
        expect([after, frame.type, frame.code]).toEqual([after, 'error', 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        client.close();
      }
    };

    it('accepts the cursors it issued', async () => {
      const answer = await instance.http(analyst, 'GET', `/api/events?after=${encodeURIComponent(issued)}`);
      expect(answer.status).toBe(200);
      const client = await Client.open(instance.url, { user: analyst });
      expect((await client.subscribe({ id: 's', scope: 'all', after: issued })).type).toBe('caught_up');
      client.close();
    });

    it('refuses a cursor beyond the head of the log over HTTP and WebSocket, instead of answering caught up and delivering nothing', async () => {
      await refused([beyondHead(), ...(kind === 'postgres' ? ['999999999-5'] : [])]);
    });

    it('refuses a cursor issued by another store over HTTP and WebSocket', async () => {
      const { otherMemory, bare } = await foreignCursors();
      await refused(kind === 'memory' ? [otherMemory, bare] : [otherMemory]);
    });
  });
}
