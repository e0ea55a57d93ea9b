import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';

const tableRow = z.object({ schema: z.string(), name: z.string(), has_version: z.boolean() });
const countRow = z.object({ n: z.union([z.number(), z.bigint(), z.string()]).transform(Number) });
const batchRows = 1_000;

/**
 * Every base table, in any schema, with the given column: the read models (chats, messages,
 * profiles, profile_history), their rebuild shadows (`*__rebuild`), read models built "as of" another
 * time in their own schema, and `fallback_parked_events`. Found in the catalog, so a table added later
 * with an `owner` column is erased too. The log itself is rewritten by the event store, never here.
 */
async function tablesWith(db: CommonQueryMethods, column: 'owner' | 'stream_id'): Promise<z.output<typeof tableRow>[]> {
  const { rows } = await db.query(sql.unsafe`
    SELECT c.table_schema AS schema, c.table_name AS name,
      EXISTS (SELECT 1 FROM information_schema.columns v
              WHERE v.table_schema = c.table_schema AND v.table_name = c.table_name AND v.column_name = 'version') AS has_version
    FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.column_name = ${column} AND t.table_type = 'BASE TABLE'
      AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
      AND c.table_name NOT IN ('events', 'projection_parked_events')
    ORDER BY 1, 2`);
  return rows.map((row) => tableRow.parse(row));
}

/** With an erasure record's id: the statement also adds the rows it deleted to that record's count (exact after a kill). */
function counted(countIn: string | undefined): ReturnType<typeof sql.fragment> {
  return countIn === undefined ? sql.fragment`` : sql.fragment`, counted AS (UPDATE erasures SET rows_erased = rows_erased + (SELECT count(*) FROM gone) WHERE id = ${countIn})`;
}

/** Deletes in batches of rows (each its own short statement), so no lock is held for long. */
async function deleteInBatches(db: CommonQueryMethods, table: { schema: string; name: string }, condition: ReturnType<typeof sql.fragment>, countIn: string | undefined): Promise<number> {
  const target = sql.identifier([table.schema, table.name]);
  let total = 0;
  for (;;) {
    const { rows } = await db.query(sql.unsafe`
      WITH gone AS (
        DELETE FROM ${target} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${target} WHERE ${condition} LIMIT ${batchRows}))
        RETURNING 1)${counted(countIn)}
      SELECT count(*) AS n FROM gone`);
    const n = countRow.parse(rows[0]).n;
    total += n;
    if (n < batchRows) return total;
  }
}

/** Parked-event records of events no longer in the log as they were (their ids were rewritten). */
async function deleteOrphanParked(db: CommonQueryMethods, streamIds: readonly string[], countIn: string | undefined): Promise<number> {
  const { rows } = await db.query(sql.unsafe`
    WITH gone AS (
      DELETE FROM projection_parked_events p
      WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = p.event_id)
         OR p.stream_id = ANY(${sql.array([...streamIds], 'text')})
      RETURNING 1)${counted(countIn)}
    SELECT count(*) AS n FROM gone`);
  return countRow.parse(rows[0]).n;
}

/** Deletes every row of the user outside the log; returns how many (added to the record `countIn` as they go). */
export async function deleteOwnerRows(db: CommonQueryMethods, owner: string, countIn?: string): Promise<number> {
  let total = 0;
  for (const table of await tablesWith(db, 'owner')) total += await deleteInBatches(db, table, sql.fragment`owner = ${owner}`, countIn);
  return total + (await deleteOrphanParked(db, [], countIn));
}

/**
 * Deletes the rows of these streams (a deleted chat's or profile's) outside the log, those below
 * `beforeVersion` where a table has versions; returns how many.
 */
export async function deleteStreamRows(db: CommonQueryMethods, streamIds: readonly string[], beforeVersion?: number, countIn?: string): Promise<number> {
  if (streamIds.length === 0) return 0;
  let total = 0;
  for (const table of await tablesWith(db, 'stream_id')) {
    const inStreams = sql.fragment`stream_id = ANY(${sql.array([...streamIds], 'text')})`;
    const condition = beforeVersion !== undefined && table.has_version ? sql.fragment`${inStreams} AND version < ${beforeVersion}` : inStreams;
    total += await deleteInBatches(db, table, condition, countIn);
  }
  return total + (await deleteOrphanParked(db, streamIds, countIn));
}

/** A deletion event (`ChatDeleted`, `ProfileDeleted`) that erases its stream's content before it, but for `keepTypes`. */
export interface ContentDeletion {
  type: string;
  keepTypes: readonly string[];
  /**
   * The stream may go on after the deletion (a profile starts afresh): only what came before it is
   * erased, and only its rows of versions before it. Else (a chat, whose id is never used again) the
   * whole stream's content and rows.
   */
  restartable: boolean;
}

const deletionRow = z.object({ stream_id: z.string(), version: countRow.shape.n });

/**
 * The deletions whose stream still holds content before them that is not yet a tombstone: a process
 * stopped between appending the deletion and erasing the content. Reads every deletion event once
 * (the type index) and probes its stream (the stream index) for one event left.
 */
export async function unerasedDeletions(db: CommonQueryMethods, deletion: ContentDeletion): Promise<{ streamId: string; version: number }[]> {
  const { rows } = await db.query(sql.unsafe`
    SELECT d.stream_id, d.stream_version AS version FROM events d
    WHERE d.event_type = ${deletion.type}
      AND EXISTS (SELECT 1 FROM events e
                  WHERE e.stream_id = d.stream_id AND e.stream_version < d.stream_version
                    AND e.event_type <> ALL(${sql.array([...deletion.keepTypes], 'text')})
                    AND e.data->'erased' IS DISTINCT FROM 'true'::jsonb)
    ORDER BY d.position`);
  return rows.map((row) => deletionRow.parse(row)).map((row) => ({ streamId: row.stream_id, version: row.version }));
}

/** The tables an erasure touches, to vacuum afterwards. */
export async function touchedTables(db: CommonQueryMethods): Promise<string[]> {
  const tables = [...(await tablesWith(db, 'owner')), ...(await tablesWith(db, 'stream_id'))];
  const names = new Set(tables.map((table) => `${table.schema}.${table.name}`));
  for (const name of ['events', 'projection_parked_events', 'erasures']) names.add(name);
  return [...names];
}

/**
 * VACUUM the tables, so the old versions of the rewritten and deleted rows leave the table files
 * (VACUUM cannot run in a transaction: each is its own statement). Where the role may not (it does
 * not own the table) PostgreSQL skips it with a warning; a failure is reported, not thrown.
 */
export async function vacuumTables(db: CommonQueryMethods, tables: readonly string[], report: (table: string, error: unknown) => void): Promise<void> {
  for (const table of tables) {
    const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [undefined, table];
    try {
      await db.query(sql.unsafe`VACUUM ${schema === undefined ? sql.identifier([name]) : sql.identifier([schema, name])}`);
    } catch (error) {
      report(table, error);
    }
  }
}

/** What an erasure of this user would touch: events per type, rows per table (a dry run). */
export async function countOwnerData(db: CommonQueryMethods, owner: string): Promise<{ events: Record<string, number>; rows: Record<string, number> }> {
  const typeRow = z.object({ event_type: z.string(), n: countRow.shape.n });
  const { rows: types } = await db.query(sql.unsafe`SELECT event_type, count(*) AS n FROM events WHERE owner = ${owner} GROUP BY 1 ORDER BY 1`);
  const events = Object.fromEntries(types.map((row) => typeRow.parse(row)).map((row) => [row.event_type, row.n]));
  const rows: Record<string, number> = {};
  for (const table of await tablesWith(db, 'owner')) {
    const { rows: counted } = await db.query(sql.unsafe`SELECT count(*) AS n FROM ${sql.identifier([table.schema, table.name])} WHERE owner = ${owner}`);
    const n = countRow.parse(counted[0]).n;
    if (n > 0) rows[`${table.schema}.${table.name}`] = n;
  }
  return { events, rows };
}
