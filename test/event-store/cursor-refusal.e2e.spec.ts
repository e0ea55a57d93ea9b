import { createPool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareCursor, bumpStoreEpoch, decodeCursor, encodeCursor, MemoryEventStore, readStoreIdentity } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { Client, eventsPage, type Instance, startChat, startInstance } from '../ws/ws-support.ts';

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

describe('PostgreSQL cursors name their store', () => {
  const user = 'ana@example.com';
  let other: TestDatabase;
  let instance: Instance;
  let elsewhere: Instance;
  beforeAll(async () => {
    other = await createTestDatabase('lakechat_cursors_other');
    await runMigrations({ connectionString: other.url });
    [instance, elsewhere] = await Promise.all([
      startInstance({ env: { ANALYST_EMAILS: user }, databaseUrl: database.url }),
      startInstance({ env: { ANALYST_EMAILS: user }, databaseUrl: other.url }),
    ]);
    for (const each of [instance, elsewhere]) {
      await startChat(each, user, 'named');
      expect((await each.http(user, 'POST', '/api/chats/named/messages', { content: 'hello' })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all([instance?.close(), elsewhere?.close()]);
    await other?.drop();
  });

  const refusedEverywhere = async (after: string): Promise<void> => {
    const answer = await instance.http(user, 'GET', `/api/events?after=${encodeURIComponent(after)}`);
    expect([after, answer.status, answer.body?.error?.code]).toEqual([after, 400, 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
    const client = await Client.open(instance.url, { user });
    const frame = await client.subscribe({ id: 's', scope: 'user', after });
    expect([after, frame.type, frame.code]).toEqual([after, 'error', 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
    client.close();
  };

  it('names the store in every cursor it hands out: post answers, message rows, events and pages over HTTP, WebSocket events and caught_up', async () => {
    const name = await readStoreIdentityAt(database.url);
    const named = (cursor: string | null) => expect(cursor).toMatch(new RegExp(`^\\d+-\\d+\\.${name}$`));
    const posted = await instance.http(user, 'POST', '/api/chats/named/messages', { content: 'again' });
    named(posted.body.cursor);
    named(posted.body.message.cursor);
    const rows = await instance.http(user, 'GET', '/api/chats/named/messages');
    for (const message of rows.body.messages) named(message.cursor);
    const events = await eventsPage(instance, user, '?limit=2');
    expect(events.events).toHaveLength(2);
    for (const event of events.events) named(event.cursor);
    named(events.next);
    const client = await Client.open(instance.url, { user });
    const caughtUp = await client.subscribe({ id: 'all', scope: 'user', after: null });
    named(caughtUp.cursor as string);
    for (const frame of client.events('all')) named(frame.cursor as string);
    expect(client.events('all').length).toBeGreaterThanOrEqual(3);
    const live = await client.subscribe({ id: 'live', scope: 'user' });
    named(live.cursor as string);
    client.close();
  });

  it('refuses a cursor of another database, and one of another cluster, over HTTP and WebSocket', async () => {
    const fromOtherDatabase = (await eventsPage(elsewhere, user, '?limit=1')).events[0]!.cursor;
    await refusedEverywhere(fromOtherDatabase);
    const ours = decodeCursor((await eventsPage(instance, user, '?limit=1')).events[0]!.cursor);
    // This cluster's name with another system identifier: what a copy restored elsewhere issues.
    const otherCluster = encodeCursor({ ...ours, store: ours.store!.replace(/^p[0-9a-z]+d/, 'p1a2b3c4d5e6fd') });
    await refusedEverywhere(otherCluster);
    // Inside, a stored checkpoint naming another PostgreSQL log is still read: a dump restored into a
    // cluster whose counter is higher needs no repair, and its checkpoints keep their meaning.
    expect((await instance.store.readAll({ after: otherCluster, limit: 1 })).events).toHaveLength(1);
  });

  it('accepts its own cursors and a bare cursor (issued before cursors named their store) as its own, over HTTP and WebSocket', async () => {
    const first = (await eventsPage(instance, user, '?limit=1')).events[0]!.cursor;
    for (const after of [first, bareCursor(first)]) {
      const answer = await eventsPage(instance, user, `?after=${encodeURIComponent(after)}`);
      expect([after, answer.status]).toEqual([after, 200]);
      expect(answer.events.length).toBeGreaterThanOrEqual(1);
      expect(answer.events[0]!.cursor).not.toBe(first);
      const client = await Client.open(instance.url, { user });
      expect((await client.subscribe({ id: 's', scope: 'user', after })).type).toBe('caught_up');
      expect(client.events('s').length).toBeGreaterThanOrEqual(1);
      client.close();
    }
  });

  it("refuses a cursor of this database's older epoch (a repaired copy) and accepts its bare form", async () => {
    const epoch = await createTestDatabase('lakechat_cursors_epoch');
    try {
      await runMigrations({ connectionString: epoch.url });
      const before = await startInstance({ env: { ANALYST_EMAILS: user }, databaseUrl: epoch.url });
      await startChat(before, user, 'epoch');
      const old = (await before.http(user, 'POST', '/api/chats/epoch/messages', { content: 'before' })).body.cursor as string;
      await before.close();
      const pool = await createPool(epoch.url);
      await bumpStoreEpoch(pool);
      await pool.end();
      const after = await startInstance({ env: { ANALYST_EMAILS: user }, databaseUrl: epoch.url });
      try {
        const answer = await after.http(user, 'GET', `/api/events?after=${encodeURIComponent(old)}`);
        expect([answer.status, answer.body?.error?.code]).toEqual([400, 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        const client = await Client.open(after.url, { user });
        const frame = await client.subscribe({ id: 's', scope: 'user', after: old });
        expect([frame.type, frame.code]).toEqual(['error', 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        expect((await client.subscribe({ id: 'b', scope: 'user', after: bareCursor(old) })).type).toBe('caught_up');
        client.close();
        expect((await eventsPage(after, user, `?after=${encodeURIComponent(bareCursor(old))}`)).status).toBe(200);
      } finally {
        await after.close();
      }
    } finally {
      await epoch.drop();
    }
  }, 120_000);
});

async function readStoreIdentityAt(url: string): Promise<string> {
  const pool = await createPool(url);
  try {
    return await readStoreIdentity(pool);
  } finally {
    await pool.end();
  }
}
