/**
 * "Silently skipped, or retried forever": an event a read model cannot take (its data fails the
 * schema, or the projection's own code throws) is parked, for that read model only, and recorded;
 * the other read models apply it, and nothing behind it waits.
 */
import { type DatabasePool, sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type EventStore, MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { type AnyReadModel, type FoldRows, MemoryProjectionBackend, PostgresProjectionBackend, ProjectionRunner } from '../../src/projection-runner/index.ts';
import { createPostgresTestBed, type PostgresTestBed } from '../event-store/postgres-support.ts';
import { startInstance } from '../ws/ws-support.ts';

const notedSchema = z.object({ n: z.number().int() });

/**
 * A read model of `Noted` events. `picky` parses strictly (data without a numeric n fails its
 * schema) and its fold throws a plain JavaScript error on 13; `lenient` takes everything.
 */
function notedProjection(name: 'picky' | 'lenient'): AnyReadModel {
  const strict = name === 'picky';
  const numberIn = (data: unknown): number => {
    if (strict) return notedSchema.parse(data).n;
    const n = (data as { n?: unknown }).n;
    return typeof n === 'number' ? n : -1;
  };
  return {
    name,
    parse: (event: RecordedEvent) => (event.type === 'Noted' ? { type: 'Noted', data: strict ? notedSchema.parse(event.data) : event.data } : null),
    tables: { test_noted: { columns: { projection: 'text', n: 'integer' }, key: ['projection', 'n'] } },
    migration: '(test)',
    fold: {
      Noted(rows: FoldRows, data: unknown) {
        const n = numberIn(data);
        if (strict && n === 13) throw new TypeError('the handler cannot take 13');
        rows.insertIfAbsent('test_noted', { projection: name, n });
      },
    },
    queries: { memory: () => ({}), postgres: () => ({}) },
  } as unknown as AnyReadModel;
}

const parkedRow = z.object({ event_id: z.string(), projection: z.string(), reason: z.string() });

describe.each(['postgres', 'memory'] as const)('Silently skipped, or retried forever (%s)', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(): Promise<{
    store: EventStore;
    runner: ProjectionRunner;
    applied(name: string): Promise<number[]>;
    parked(): Promise<{ eventId: string; projection: string; reason: string }[]>;
  }> {
    const projections = [notedProjection('picky'), notedProjection('lenient')];
    if (kind === 'memory') {
      const store = new MemoryEventStore({ pollIntervalMs: 50 });
      const backend = new MemoryProjectionBackend(projections);
      const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 30_000 });
      cleanups.push(
        () => store.close(),
        () => runner.stop(),
      );
      return {
        store,
        runner,
        applied: async (name) =>
          backend
            .tables(projections.find((projection) => projection.name === name)!)
            .all('test_noted')
            .map((row) => row.n as number)
            .sort((a, b) => a - b),
        parked: async () => (await backend.parkedEvents()).map(({ eventId, projection, reason }) => ({ eventId, projection, reason })),
      };
    }
    const bed: PostgresTestBed = await createPostgresTestBed(4);
    const pool: DatabasePool = bed.pool;
    await pool.query(sql.unsafe`CREATE TABLE test_noted (projection text, n int, PRIMARY KEY (projection, n))`);
    const store = bed.openStore({ pollIntervalMs: 100 });
    const runner = new ProjectionRunner(
      store,
      new PostgresProjectionBackend(
        pool,
        projections.map((projection) => ({ projection })),
      ),
      { waitTimeoutMs: 30_000 },
    );
    cleanups.push(
      () => bed.close(),
      () => runner.stop(),
    );
    return {
      store,
      runner,
      applied: async (name) => [...(await pool.anyFirst(sql.type(z.object({ n: z.number() }))`SELECT n FROM test_noted WHERE projection = ${name} ORDER BY n`))],
      parked: async () =>
        (await pool.any(sql.type(parkedRow)`SELECT event_id::text AS event_id, projection, reason FROM projection_parked_events ORDER BY parked_at, projection`)).map((row) => ({
          eventId: row.event_id,
          projection: row.projection,
          reason: row.reason,
        })),
    };
  }

  it('parks an event whose data fails its schema (recorded, counted), for the read model that failed only, and applies it to the others', async () => {
    const { store, runner, applied, parked } = await setUp();
    await runner.start();
    await store.append('s', [{ type: 'Noted', data: { n: 1 } }]);
    const bad = await store.append('s', [{ type: 'Noted', data: { n: 'two' } }]);
    const after = await store.append('s', [{ type: 'Noted', data: { n: 3 } }]);
    await runner.waitFor(after.cursor);
    expect(await applied('picky')).toEqual([1, 3]);
    // The lenient read model took the event the picky one could not parse.
    expect(await applied('lenient')).toEqual([-1, 1, 3]);
    expect(await parked()).toEqual([{ eventId: bad.events[0]!.eventId, projection: 'picky', reason: expect.stringMatching(/schema/i) }]);
    expect(runner.status()).toMatchObject({ parkedEvents: 1, lastError: null });
  });

  it('parks an event whose handler throws a JavaScript error (not retried forever), for that read model only', async () => {
    const { store, runner, applied, parked } = await setUp();
    // One append, one batch: 12, 13 and 14 arrive together.
    const { cursor, events } = await store.append(
      's',
      [12, 13, 14].map((n) => ({ type: 'Noted', data: { n } })),
    );
    await runner.start();
    await runner.waitFor(cursor);
    expect(await applied('picky')).toEqual([12, 14]);
    expect(await applied('lenient')).toEqual([12, 13, 14]);
    expect(await parked()).toEqual([{ eventId: events[1]!.eventId, projection: 'picky', reason: expect.stringMatching(/^TypeError: the handler cannot take 13/) }]);
    expect(runner.status()).toMatchObject({ parkedEvents: 1, lastError: null });
    // Writes after it are not held back.
    const next = await store.append('s', [{ type: 'Noted', data: { n: 15 } }]);
    await runner.waitFor(next.cursor);
    expect(await applied('picky')).toEqual([12, 14, 15]);
  });
});

describe('an event that fails its schema, over HTTP', () => {
  it('is reported by /health as parked, not skipped without a trace', async () => {
    const instance = await startInstance();
    try {
      const user = 'schema@example.com';
      expect((await instance.http(user, 'POST', '/api/chats', { id: 'c' })).status).toBe(201);
      const health = async () => (await instance.http(user, 'GET', '/health')).body;
      expect((await health()).status).toBe('ok');
      const { chatStreamId } = await import('../../src/chats/index.ts');
      // Stored by something other than lakechat's domain: a MessagePosted without its content.
      await instance.store.append(chatStreamId(user, 'c'), [{ type: 'MessagePosted', data: { chatId: 'c', position: 1 } }], { owner: user });
      const deadline = Date.now() + 10_000;
      let body = await health();
      while (body.projections.parkedEvents === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        body = await health();
      }
      expect(body.status).toBe('degraded');
      expect(body.projections.parkedEvents).toBeGreaterThan(0);
      // Writes behind it are not held back.
      expect((await instance.http(user, 'POST', '/api/chats', { id: 'd' })).status).toBe(201);
      expect((await instance.http(user, 'POST', '/api/chats/d/messages', { content: 'next' })).status).toBe(201);
    } finally {
      await instance.close();
    }
  });
});
