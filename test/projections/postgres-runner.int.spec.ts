/**
 * What only PostgreSQL can show about the runner: checkpoints written in the batch's transaction,
 * taken FOR UPDATE so several instances never apply an event twice, and tables chosen by parameter.
 */
import { sql } from 'slonik';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chatsReadModel } from '../../projections/chats.ts';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import type { EventStore, RecordedEvent } from '../../src/event-store/index.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import { type AnyReadModel, type FoldRows, row } from '../../src/projection-runner/read-model.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { ProjectionRunner } from '../../src/projection-runner/runner.ts';
import { tableNames } from '../../src/projection-runner/tables.ts';
import { copyTables, type PostgresDatabase, postgresDatabase } from './harness.ts';

/**
 * A deliberately non-idempotent projection: it adds one per "Counted" event applied, so applying
 * an event twice shows. It can be told to fail once on a given event, in the middle of a batch.
 */
function countingProjection(failOnce: { eventId: string | null } = { eventId: null }, withBulk = false): AnyReadModel {
  const live = {
    Counted: (tables: ReturnType<typeof tableNames>, items: readonly unknown[], guard: ReturnType<typeof sql.fragment>) =>
      sql.fragment`UPDATE ${tables('counter')} SET applied = applied + ${items.length} WHERE ${guard}`,
  };
  return {
    name: 'counter',
    parse: (event: RecordedEvent) => (event.type === 'Counted' ? { type: 'Counted', data: event.eventId } : null),
    tables: { counter: { columns: { id: 'integer', applied: 'integer' }, key: ['id'] } },
    migration: '(created by this test)',
    reads: () => [row('counter', 1)],
    fold: {
      Counted(rows: FoldRows, eventId: string) {
        const counter = rows.get('counter', 1)!;
        rows.put('counter', { id: 1, applied: (counter.applied as number) + 1 });
        if (failOnce.eventId === eventId) {
          failOnce.eventId = null;
          throw new Error('the projection failed half way through a batch');
        }
      },
    },
    ...(withBulk ? { live } : {}),
    queries: { memory: () => ({}), postgres: () => ({}) },
  } as unknown as AnyReadModel;
}

describe('the projection runner on PostgreSQL', () => {
  let database: PostgresDatabase;
  let store: EventStore;
  const runners: ProjectionRunner[] = [];

  beforeEach(async () => {
    database = await postgresDatabase();
    store = database.openStore();
    await database.pool.query(sql.unsafe`CREATE TABLE counter (id integer PRIMARY KEY, applied integer NOT NULL)`);
    await database.pool.query(sql.unsafe`INSERT INTO counter VALUES (1, 0)`);
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    await store.close();
    await database.drop();
  });

  const lastEventCursor = async () => {
    const { events } = await store.readAll();
    return events[events.length - 1]!.cursor;
  };
  const counted = async () => Number(await database.pool.oneFirst(sql.unsafe`SELECT applied FROM counter`));
  const start = async (projections: AnyReadModel[], options: { checkpointSchema?: string; tablesSchema?: string; batchSize?: number } = {}) => {
    const location = options.tablesSchema === undefined ? undefined : { schema: options.tablesSchema, suffix: '' };
    const backend = new PostgresProjectionBackend(
      database.pool,
      projections.map((projection) => ({ projection, ...(location === undefined ? {} : { tables: location }) })),
      options.checkpointSchema === undefined ? {} : { checkpoints: { schema: options.checkpointSchema, suffix: '' } },
    );
    const runner = new ProjectionRunner(store, backend, { batchSize: options.batchSize ?? 500, waitTimeoutMs: 30_000 });
    await runner.start();
    runners.push(runner);
    return runner;
  };
  const appendMany = async (count: number) => {
    let cursor = '';
    for (let i = 0; i < count; i++) cursor = (await store.append(`s-${i % 7}`, [{ type: 'Counted', data: { i } }])).cursor;
    return cursor;
  };

  it.each([
    ['one event at a time', false],
    ['whole runs in one statement', true],
  ])('applies each event exactly once with three instances following the same log (%s)', async (_, withBulk) => {
    const projection = countingProjection({ eventId: null }, withBulk);
    const instances = await Promise.all([start([projection], { batchSize: 5 }), start([projection], { batchSize: 7 }), start([projection], { batchSize: 3 })]);
    const writers = await Promise.all(Array.from({ length: 4 }, () => appendMany(50)));
    const last = await lastEventCursor();
    await Promise.all(instances.map((runner) => runner.waitFor(last)));
    expect(writers).toHaveLength(4);
    expect(await counted()).toBe(200);
    const checkpoint = await database.pool.oneFirst(sql.unsafe`SELECT cursor FROM projection_checkpoints WHERE name = 'counter'`);
    expect(checkpoint).toBe(last);
  });

  it('rolls a failed batch back with its checkpoint, then applies it once on retry', async () => {
    const failOnce = { eventId: null as string | null };
    const projection = countingProjection(failOnce);
    const runner = await start([projection]);
    const first = await store.append('s', [{ type: 'Counted', data: { n: 'A' } }]);
    await runner.waitFor(first.cursor);
    const batch = await store.append('s', [
      { type: 'Counted', data: { n: 'B' } },
      { type: 'Counted', data: { n: 'C' } },
      { type: 'Counted', data: { n: 'D' } },
    ]);
    failOnce.eventId = batch.events[1]!.eventId;
    const last = await store.append('s', [{ type: 'Counted', data: { n: 'E' } }]);
    await runner.waitFor(last.cursor);
    expect(failOnce.eventId).toBeNull();
    expect(await counted()).toBe(5);
  });

  it('resumes after a restart from its checkpoint, applying nothing twice', async () => {
    const projection = countingProjection();
    const runner = await start([projection]);
    await runner.waitFor(await appendMany(10));
    await runner.stop();
    await appendMany(5);
    const again = await start([projection]);
    await again.waitFor(await lastEventCursor());
    expect(await counted()).toBe(15);
  });

  it('makes a write wait while another transaction holds the checkpoint, and times the wait out clearly', async () => {
    const runner = await start(allProjections as AnyReadModel[]);
    const before = await store.append(chatStreamId('a@x.com', 'c'), [{ type: 'ChatStarted', data: { chatId: 'c', userEmail: 'a@x.com', title: 'T', agentId: null } }], { owner: 'a@x.com' });
    await runner.waitFor(before.cursor);
    let release!: () => void;
    let locked!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holding = database.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`SELECT * FROM projection_checkpoints FOR UPDATE`);
      locked();
      await held;
    });
    await lockTaken;
    const write = await store.append(chatStreamId('a@x.com', 'c'), [{ type: 'ChatRenamed', data: { chatId: 'c', title: 'U' } }], { owner: 'a@x.com' });
    await expect(runner.waitFor(write.cursor, 300)).rejects.toMatchObject({
      code: 'LAKECHAT_ERR_PROJECTION_TIMEOUT',
      details: { cursor: write.cursor, appliedCursor: before.cursor },
    });
    release();
    await holding;
    await runner.waitFor(write.cursor);
    const chats = chatsReadModel.queries.postgres(database.pool, tableNames({ schema: null, suffix: '' }));
    expect((await chats.get('a@x.com', 'c'))!.title).toBe('U');
  });

  it('projects into tables named by parameter (another schema), leaving the live tables alone', async () => {
    const live = await start([chatsReadModel]);
    const first = await store.append(chatStreamId('a@x.com', 'c'), [{ type: 'ChatStarted', data: { chatId: 'c', userEmail: 'a@x.com', title: 'T', agentId: null } }], { owner: 'a@x.com' });
    await live.waitFor(first.cursor);
    await live.stop();
    const shadow = await copyTables(database.pool, 'shadow', [chatsReadModel]);
    const rebuilt = await start([chatsReadModel], { tablesSchema: 'shadow', checkpointSchema: 'shadow' });
    const second = await store.append(chatStreamId('a@x.com', 'd'), [{ type: 'ChatStarted', data: { chatId: 'd', userEmail: 'a@x.com', title: 'T', agentId: null } }], { owner: 'a@x.com' });
    await rebuilt.waitFor(second.cursor);
    const inShadow = await chatsReadModel.queries.postgres(database.pool, shadow).list('a@x.com', { limit: 10 });
    const inLive = await chatsReadModel.queries.postgres(database.pool, tableNames({ schema: null, suffix: '' })).list('a@x.com', { limit: 10 });
    expect(inShadow.map((chat) => chat.chatId).sort()).toEqual(['c', 'd']);
    expect(inLive.map((chat) => chat.chatId)).toEqual(['c']);
  });
});
