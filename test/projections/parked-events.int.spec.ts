/**
 * An event no attempt can apply must not stop the read models, nor every write that waits for them:
 * the runner moves past it and records it (parked), and /health says so.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatStreamId } from '../../src/chats/index.ts';
import { MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { type AnyReadModel, allProjections, type FoldRows, MemoryProjectionBackend, ProjectionRunner } from '../../src/projection-runner/index.ts';
import { projectionsStatus } from '../../src/rebuild/index.ts';
import { postgresReadModels, type ReadModelsUnderTest } from './harness.ts';

const owner = 'ana@example.com';
const chatId = 'c';
const stream = chatStreamId(owner, chatId);
const message = (position: number, content: string) => ({
  type: 'MessagePosted',
  data: { chatId, messageId: randomUUID(), position, role: 'user', content },
});

describe('an event the projections cannot apply', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('is parked on PostgreSQL: the events around it are applied, the checkpoints move past it, and the record stays', async () => {
    const models: ReadModelsUnderTest & { database: { pool: import('slonik').DatabasePool } } = await postgresReadModels();
    cleanups.push(() => models.cleanup());
    const { store, runner, database } = models;
    await store.append(stream, [{ type: 'ChatStarted', data: { chatId, userEmail: owner, title: 'T', agentId: null } }], { owner });
    // Valid for the chat's schema, but no read model column holds a position of three billion
    // (PostgreSQL: 22003, numeric value out of range), so every attempt fails the same way.
    const poisoned = await store.append(stream, [message(3_000_000_000, 'too far')], { owner });
    const after = await store.append(stream, [message(2, 'still here')], { owner });

    await runner.waitFor(after.cursor, 30_000);
    expect((await models.readModels.messages.list(stream, { after: 0, limit: 10 })).map((m) => m.content)).toEqual(['still here']);
    expect((await models.readModels.chats.get(owner, chatId))?.lastMessage?.preview).toBe('still here');
    const parked = await database.pool.any(
      sql.type(z.object({ event_id: z.string(), projection: z.string(), cursor: z.string(), reason: z.string() }))`
        SELECT event_id::text AS event_id, projection, cursor, reason FROM projection_parked_events ORDER BY projection`,
    );
    // Both read models of chat events store the position in an integer column: parked for each.
    const row = { event_id: poisoned.events[0]!.eventId, cursor: poisoned.cursor, reason: expect.stringMatching(/^22003: /) };
    expect(parked).toEqual([
      { ...row, projection: 'chats' },
      { ...row, projection: 'messages' },
    ]);
    expect(runner.status()).toMatchObject({ parkedEvents: 2, lastError: null });

    expect((await projectionsStatus(database.pool, allProjections)).parkedEvents).toBe(2);
    // A runner started later (a restart, another instance) reports what is parked.
    const again = new ProjectionRunner(store, runner.backend, { waitTimeoutMs: 30_000 });
    await again.start();
    expect(again.status().parkedEvents).toBe(2);
    await again.stop();
  });

  it('is parked in memory too, and a batch holding it is applied around it, one event at a time', async () => {
    const picky = {
      name: 'picky',
      parse: (event: RecordedEvent) => (event.type === 'Noted' ? { type: 'Noted', data: event.data } : null),
      tables: { noted: { columns: { n: 'integer' }, key: ['n'] } },
      migration: '(none)',
      fold: {
        Noted(rows: FoldRows, data: { n: number }) {
          if (data.n === 13) throw new Error('the handler cannot take 13');
          // Idempotent, as every read model must be: a failed batch's first events come again.
          rows.insertIfAbsent('noted', { n: data.n });
        },
      },
      queries: { memory: () => ({}), postgres: () => ({}) },
    } as unknown as AnyReadModel;
    const backend = new MemoryProjectionBackend([picky]);
    const applied = () =>
      backend
        .tables(picky)
        .all('noted')
        .map((row) => row.n as number)
        .sort((a, b) => a - b);
    const store = new MemoryEventStore({ pollIntervalMs: 50 });
    const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 5_000 });
    cleanups.push(async () => {
      await runner.stop();
      await store.close();
    });
    // One append, one batch: 12, 13 and 14 arrive together.
    const { cursor } = await store.append(
      's',
      [12, 13, 14].map((n) => ({ type: 'Noted', data: { n } })),
    );
    await runner.start();
    await runner.waitFor(cursor);
    expect(applied()).toEqual([12, 14]);
    expect(runner.status().parkedEvents).toBe(1);
  });
});
