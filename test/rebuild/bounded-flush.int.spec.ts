/**
 * The rebuild keeps replaced rows back (a chat's row is written once per many batches, not once per
 * batch), but writes them in bounded parts, each its own short transaction: a transaction that writes
 * holds a transaction id, and while it does every reader of the log waits (issue 11, "Stalled").
 */
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatsReadModel } from '../../projections/chats.ts';
import { profilesReadModel } from '../../projections/profiles.ts';
import { tableNames } from '../../src/projection-runner/tables.ts';
import { createTablesLike } from '../../src/projection-runner/tables-like.ts';
import { foldApplier } from '../../src/rebuild/appliers/fold-applier.ts';
import { projectLog } from '../../src/rebuild/projector.ts';
import { createLogBed, type LogBed, writeHistory } from '../replay/log-bed.ts';

let bed: LogBed;

beforeAll(async () => {
  bed = await createLogBed(4);
  await writeHistory(bed.writer, { users: 6, chatsPerUser: 3, messagesPerChat: 2 });
  await bed.readable();
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

const perTransaction = z.object({ rows: z.number() });

/** How many rows each transaction wrote into a table (rows written by one transaction share its xmin). */
async function rowsPerTransaction(schema: string, table: string): Promise<number[]> {
  const rows = await bed.pool.any(sql.type(perTransaction)`
    SELECT count(*)::int AS rows FROM ${sql.identifier([schema, table])} GROUP BY xmin::text ORDER BY 1 DESC`);
  return rows.map((row) => row.rows);
}

describe('the rebuild writes rows it kept back', () => {
  it('in parts of at most flushRows, each its own transaction, and the tables end complete', async () => {
    const location = { schema: 'bounded', suffix: '' };
    await createTablesLike(bed.pool, [chatsReadModel, profilesReadModel], location);
    const tables = tableNames(location);
    const targets = [chatsReadModel, profilesReadModel].map((model) => {
      // Everything kept back until the end (writeBehind above the log), then written 4 rows at a time.
      const applier = foldApplier(model, tables, { writeBehind: 1_000_000, flushRows: 4 });
      applier.startEmpty();
      return { projection: model, applier, cursor: null, position: null };
    });
    await projectLog({ store: bed.store, pool: bed.pool, batchSize: 10_000, targets });

    const chats = await rowsPerTransaction('bounded', 'chats');
    expect(chats.reduce((sum, rows) => sum + rows, 0)).toBe(18);
    expect(Math.max(...chats)).toBeLessThanOrEqual(4);
    expect(chats.length).toBeGreaterThanOrEqual(5);
    const profiles = await rowsPerTransaction('bounded', 'profiles');
    expect(profiles.reduce((sum, rows) => sum + rows, 0)).toBe(6);
    expect(Math.max(...profiles)).toBeLessThanOrEqual(4);
    // The same rows as the live runner's.
    const runner = await bed.startRunner();
    await bed.caughtUp(runner);
    const live = await bed.tables('public', [chatsReadModel, profilesReadModel]);
    const rebuilt = await bed.tables('bounded', [chatsReadModel, profilesReadModel]);
    expect(rebuilt).toEqual(live);
  });
});
