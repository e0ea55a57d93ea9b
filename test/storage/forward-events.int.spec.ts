import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { bumpStoreEpoch, erasedStreamId, MemoryEventStore, readStoreEpoch, readStoreIdentity, tombstoneOf } from '../../src/event-store/index.ts';
import { Forwarder } from '../../src/fallback/forward-events.ts';
import { createLogger } from '../../src/logger.ts';
import { createPostgresTestBed, type PostgresTestBed } from '../event-store/postgres-support.ts';

const logger = createLogger({ level: 'silent' });
let bed: PostgresTestBed;

beforeAll(async () => {
  bed = await createPostgresTestBed(4);
});
afterAll(async () => {
  await bed?.close();
});

const started = (chatId: string) => ({ type: 'ChatStarted', data: { chatId, userEmail: 'a@x.com', title: 'New Chat', agentId: null } });
const posted = (chatId: string, position: number, messageId: string) => ({
  type: 'MessagePosted',
  data: { chatId, messageId, position, role: 'user', content: `m${position}` },
});
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('forwarding the memory log', () => {
  it('appends every event once, even when run again after a failed switch, and re-posts or parks what moved on', async () => {
    const store = bed.openStore();
    const memory = new MemoryEventStore();
    const chat = chatStreamId('a@x.com', 'c');
    const deleted = chatStreamId('a@x.com', 'gone');
    // PostgreSQL: chat c with one message from elsewhere; chat gone deleted.
    await store.append(chat, [started('c'), posted('c', 1, uuid(900))], { expectedVersion: 'no_stream', owner: 'a@x.com' });
    await store.append(deleted, [started('gone'), { type: 'ChatDeleted', data: { chatId: 'gone' } }], { expectedVersion: 'no_stream', owner: 'a@x.com' });
    // Memory: the same chats, and one of its own.
    await memory.append(chat, [started('c')], { expectedVersion: 'no_stream', owner: 'a@x.com' });
    await memory.append(chat, [posted('c', 1, uuid(1))], { expectedVersion: 1, owner: 'a@x.com' });
    await memory.append(deleted, [started('gone')], { expectedVersion: 'no_stream', owner: 'a@x.com' });
    await memory.append(deleted, [posted('gone', 1, uuid(2))], { expectedVersion: 1, owner: 'a@x.com' });
    const own = chatStreamId('a@x.com', 'own');
    await memory.append(own, [started('own'), posted('own', 1, uuid(3)), posted('own', 2, uuid(4))], { expectedVersion: 'no_stream', owner: 'a@x.com' });

    const first = new Forwarder(memory, store, bed.pool, logger);
    await first.forwardAll();
    expect(first.counts).toEqual({ forwarded: 3, redecided: 1, parked: 3 });
    // Run again from scratch, as a switch that failed half-way is: nothing is written twice.
    const again = new Forwarder(memory, store, bed.pool, logger);
    await again.forwardAll();

    const rows = await bed.pool.any(sql.type(z.object({ stream_id: z.string(), event_type: z.string(), data: z.any() }))`
      SELECT stream_id, event_type, data FROM events ORDER BY tx_id, position`);
    const messages = rows.filter((row) => row.event_type === 'MessagePosted');
    expect(messages.map((row) => [row.data.messageId, row.data.position])).toEqual([
      [uuid(900), 1],
      [uuid(1), 2], // posted again after the message from elsewhere
      [uuid(3), 1],
      [uuid(4), 2],
    ]);
    expect(new Set(messages.map((row) => row.data.messageId)).size).toBe(messages.length);
    const parked = await bed.pool.any(sql.type(z.object({ stream_id: z.string(), event_type: z.string(), reason: z.string() }))`
      SELECT stream_id, event_type, reason FROM fallback_parked_events ORDER BY parked_at`);
    expect(parked.map((row) => [row.stream_id, row.event_type])).toEqual([
      [chat, 'ChatStarted'],
      [deleted, 'ChatStarted'],
      [deleted, 'MessagePosted'],
    ]);
    expect(parked[2]!.reason).toContain('not posted again');
    await memory.close();
    await store.close();
  });
});

describe('forwarding the memory log of a user under erasure', () => {
  it('appends their tombstones once, even when run again after the memory erasure gave them ids of its own', async () => {
    const store = bed.openStore();
    const memory = new MemoryEventStore();
    const owner = 'erased@x.com';
    const chat = chatStreamId(owner, 'e');
    await memory.append(chat, [started('e'), posted('e', 1, uuid(501)), posted('e', 2, uuid(502))], { expectedVersion: 'no_stream', owner });
    const erasureId = uuid(600);
    const streamKey = 'k'.repeat(64);
    // The first attempt forwards the tombstones the erasure will make (what Erasures.forwardedForm gives).
    const first = new Forwarder(memory, store, bed.pool, logger, async (event) =>
      event.owner === owner
        ? { ...event, data: { ...tombstoneOf(erasureId) }, streamId: erasedStreamId(streamKey, event.streamId), eventId: uuid(700 + event.version), metadata: {}, owner: null }
        : event,
    );
    await first.forwardAll();
    expect(first.counts).toEqual({ forwarded: 3, redecided: 0, parked: 0 });
    // Then the erasure rewrites the memory log (new random ids), and the switch is attempted again from scratch.
    await memory.erase({ owner }, { erasureId, streamKey });
    const again = new Forwarder(memory, store, bed.pool, logger);
    await again.forwardAll();
    expect(again.counts).toEqual({ forwarded: 0, redecided: 0, parked: 0 });
    const renamed = erasedStreamId(streamKey, chat);
    const rows = await bed.pool.any(sql.type(z.object({ event_type: z.string(), data: z.any() }))`
      SELECT event_type, data FROM events WHERE stream_id = ${renamed} ORDER BY stream_version`);
    expect(rows).toEqual(['ChatStarted', 'MessagePosted', 'MessagePosted'].map((type) => ({ event_type: type, data: tombstoneOf(erasureId) })));
    expect(await bed.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM fallback_parked_events WHERE stream_id = ${renamed}`)).toBe(0);
    await memory.close();
    await store.close();
  });
});

describe('the PostgreSQL store identity', () => {
  it('names the cluster and the epoch, and changes when the epoch is bumped (the repair of a copied database)', async () => {
    const epoch = await readStoreEpoch(bed.pool);
    const before = await readStoreIdentity(bed.pool);
    expect(before).toMatch(/^p[0-9a-z]+e[0-9a-z]+$/);
    expect(await bumpStoreEpoch(bed.pool)).toBe(epoch + 1);
    expect(await readStoreEpoch(bed.pool)).toBe(epoch + 1);
    const after = await readStoreIdentity(bed.pool);
    expect(after).not.toBe(before);
    expect(after.slice(0, after.lastIndexOf('e'))).toBe(before.slice(0, before.lastIndexOf('e')));
  });
});
