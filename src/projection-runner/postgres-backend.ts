import type { Logger } from 'pino';
import { type CommonQueryMethods, type DatabasePool, type FragmentSqlToken, InvalidInputError, sql } from 'slonik';
import { z } from 'zod';
import { compareCursors, prepared, type RecordedEvent, sqlState } from '../event-store/index.ts';
import type { ParkOutcome, ProjectionBackend } from './backend.ts';
import { advanceCheckpoints, ensureCheckpoints, lockCheckpoints, readCheckpoints } from './checkpoints.ts';
import { decodeStrict } from './decode.ts';
import { type FoldItem, foldEvents, type RowSource, readsNothing, readsOf } from './fold.ts';
import type { AppliedInAppend } from './in-append.ts';
import type { AnyReadModel } from './read-model.ts';
import { selectRow } from './rows.ts';
import { changeSetStatements, changeStatements, loadRows } from './sql-rows.ts';
import { liveTables, type TableLocation, type TableNames, tableNames } from './tables.ts';
import { handlerFailure, parkReason, UnappliableEventError } from './unappliable.ts';

/** A projection and where it writes: the live tables, or shadow tables / another schema for a rebuild. */
export interface ProjectionBinding {
  projection: AnyReadModel;
  tables?: TableLocation;
  /** The name of its checkpoint row; the projection's name by default. */
  checkpoint?: string;
}

export interface PostgresBackendOptions {
  /** Where the checkpoint table is; the live one by default. */
  checkpoints?: TableLocation;
  logger?: Logger | undefined;
  /** What this instance's appends applied to the live tables (the live runner's backend only). */
  inAppend?: AppliedInAppend;
}

interface Bound {
  projection: AnyReadModel;
  tables: TableNames;
  checkpoint: string;
}

type LiveFastPath = (tables: TableNames, items: readonly { data: unknown; event: RecordedEvent }[], guard: FragmentSqlToken) => FragmentSqlToken;

const always = sql.fragment`TRUE`;

/** Nothing known: a fold that reads nothing runs over it (one that reads throws: a bug in its reads()). */
const nothingRead: RowSource = { get: () => undefined, last: () => undefined };

/** The events a read model handles, decoded; data failing its schema throws UnappliableEventError. */
function foldItems(model: AnyReadModel, events: readonly RecordedEvent[]): FoldItem[] {
  const items: FoldItem[] = [];
  for (const event of events) {
    const decoded = decodeStrict(model, event);
    if (decoded !== null) items.push({ type: decoded.type, data: decoded.data, event });
  }
  return items;
}

/**
 * Applies the events to one read model inside a transaction, by its fold: loads the rows the folds
 * read (one statement per table), folds the events over them in memory, and writes the changes (one
 * statement per table and kind). An event whose data fails the schema, or a fold that throws, throws
 * UnappliableEventError, so the runner parks the event for this read model.
 */
export async function applyTo(db: CommonQueryMethods, model: AnyReadModel, tables: TableNames, events: readonly RecordedEvent[]): Promise<void> {
  const items = foldItems(model, events);
  if (items.length === 0) return;
  const rows = await loadRows(db, model, tables, readsOf(model, items));
  for (const statement of changeSetStatements(foldEvents(model, rows, items), tables, always)) await db.query(sql.unsafe`${statement}`);
}

/**
 * The read model's writes of the batch as statements that can share one statement with the others,
 * all guarded: a declared live fast path for a run of one type, or the fold's changes when it reads
 * nothing and writes each table with one statement. Undefined when the batch needs the general path.
 * (Also what an append could run inside its own statement: it reads nothing first.)
 */
export function oneStatementWrites(model: AnyReadModel, tables: TableNames, events: readonly RecordedEvent[], guard: FragmentSqlToken): FragmentSqlToken[] | undefined {
  const items = foldItems(model, events);
  if (items.length === 0) return [];
  const type = items[0]!.type;
  const fast = (model.live as Record<string, LiveFastPath | undefined> | undefined)?.[type];
  if (fast !== undefined && items.every((item) => item.type === type)) {
    try {
      return [fast(tables, items, guard)];
    } catch (error) {
      throw handlerFailure(model.name, error);
    }
  }
  if (!readsNothing(readsOf(model, items))) return undefined;
  const writes: FragmentSqlToken[] = [];
  for (const [name, changes] of foldEvents(model, nothingRead, items).tables) {
    const statements = changeStatements(tables(name), changes, guard);
    if (statements.length > 1) return undefined;
    writes.push(...statements);
  }
  return writes;
}

const guardRow = z.object({ ok: z.boolean() });
const countRow = z.object({ count: z.number() });

/**
 * Read models in PostgreSQL tables, each batch written atomically with its checkpoints.
 *
 * The common batch (only new posts, say) is ONE statement: a lock on the checkpoints, each
 * projection's bulk write, and the checkpoints moved, all guarded by "the checkpoints are where this
 * runner last left them". One round trip, and a transaction id held for that statement alone, which
 * matters because while a writer holds one, readers of the log cannot see events committed after it
 * (this runner, and every live subscriber, included). Any other batch, or a guard that fails because
 * another instance moved the checkpoints, takes the general path: a transaction that locks the
 * checkpoints FOR UPDATE, reads them, applies what each projection has not applied, and moves them.
 */
export class PostgresProjectionBackend implements ProjectionBackend {
  readonly kind = 'postgres' as const;
  readonly names: readonly string[];
  private readonly bound: Bound[];
  private readonly checkpointTables: TableNames;
  private known = new Map<string, string | null>();
  private readonly inAppend: AppliedInAppend | undefined;

  constructor(
    private readonly pool: DatabasePool,
    bindings: readonly ProjectionBinding[],
    options: PostgresBackendOptions = {},
  ) {
    this.bound = bindings.map((binding) => ({
      projection: binding.projection,
      tables: tableNames(binding.tables ?? liveTables),
      checkpoint: binding.checkpoint ?? binding.projection.name,
    }));
    this.names = [...new Set(this.bound.map((b) => b.checkpoint))].sort();
    if (this.names.length !== this.bound.length) throw new Error('each projection binding needs its own checkpoint name');
    this.checkpointTables = tableNames(options.checkpoints ?? liveTables);
    this.inAppend = options.inAppend;
  }

  appliedInAppend(events: readonly { eventId: string; type: string }[]): boolean {
    return (
      this.inAppend?.covers(
        events,
        this.bound.map((b) => b.projection),
      ) === true
    );
  }

  async start(): Promise<string | null> {
    await ensureCheckpoints(this.pool, this.checkpointTables, this.names);
    this.known = await readCheckpoints(this.pool, this.checkpointTables, this.names);
    return this.lowest();
  }

  async applyBatch(events: readonly RecordedEvent[]): Promise<string | null> {
    if (events.length === 0) return this.lowest();
    if (!(await this.applyInOneStatement(events))) await this.applyInTransaction(events);
    this.inAppend?.forget(events);
    return this.lowest();
  }

  async checkpoints(): Promise<Record<string, string | null>> {
    return Object.fromEntries(this.known);
  }

  /**
   * In one transaction: applies `event` to each read model still before it, each in a savepoint, and
   * parks it (a row of projection_parked_events naming the read model) for each one that fails for
   * the event's own values; then moves those checkpoints past it. A read model that can take the
   * event gets it: one failing read model costs the others nothing.
   */
  async park(event: RecordedEvent): Promise<ParkOutcome> {
    const parked: { projection: string; reason: string; error: unknown }[] = [];
    this.known = await this.pool.transaction(async (tx) => {
      parked.length = 0;
      const cursors = await lockCheckpoints(tx, this.checkpointTables, this.names);
      // Another instance may have applied or parked it meanwhile.
      const behind = this.bound.filter(({ checkpoint }) => compareCursors(cursors.get(checkpoint) ?? null, event.cursor) < 0);
      if (behind.length === 0) return cursors;
      for (const { projection, tables, checkpoint } of behind) {
        try {
          await tx.transaction((savepoint) => applyTo(savepoint, projection, tables, [event]));
        } catch (error) {
          if (!this.isPermanent(error)) throw error;
          parked.push({ projection: checkpoint, reason: parkReason(error), error });
        }
      }
      for (const { projection, reason } of parked) {
        await tx.query(sql.unsafe`
          INSERT INTO ${this.checkpointTables('projection_parked_events')} (event_id, projection, cursor, position, stream_id, event_type, reason)
          VALUES (${event.eventId}, ${projection}, ${event.cursor}, ${event.position}, ${event.streamId}, ${event.type}, ${reason})
          ON CONFLICT (event_id, projection) DO NOTHING`);
      }
      const names = behind.map(({ checkpoint }) => checkpoint);
      await advanceCheckpoints(tx, this.checkpointTables, names, { cursor: event.cursor, position: event.position });
      for (const name of names) cursors.set(name, event.cursor);
      return cursors;
    });
    this.inAppend?.forget([event]);
    return { cursor: this.lowest(), parked };
  }

  async parkedCount(): Promise<number> {
    const row = await selectRow(this.pool, countRow, sql.unsafe`SELECT count(*)::int AS count FROM ${this.checkpointTables('projection_parked_events')}`);
    return row?.count ?? 0;
  }

  /**
   * A value PostgreSQL refuses (class 22, data exception), a constraint a read model's rows break
   * (class 23), one Slonik refuses before sending it, or the projection's own code failing (data
   * that fails its schema, a handler that throws): the same events fail the same way every time. Anything else (a dropped connection, a lock timeout, a missing table) may pass.
   */
  isPermanent(error: unknown): boolean {
    if (error instanceof InvalidInputError || error instanceof UnappliableEventError) return true;
    const state = sqlState(error);
    return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
  }

  /** The fast path; false when the batch does not qualify or the guard failed (nothing written then). */
  private async applyInOneStatement(events: readonly RecordedEvent[]): Promise<boolean> {
    const first = events[0]!;
    const last = events[events.length - 1]!;
    const guard = sql.fragment`(SELECT ok FROM guard)`;
    const writes: FragmentSqlToken[] = [];
    const stillThere: FragmentSqlToken[] = [];
    for (const { projection, tables, checkpoint } of this.bound) {
      // Only when every projection is exactly where the whole batch starts.
      if (compareCursors(this.known.get(checkpoint) ?? null, first.cursor) >= 0) return false;
      const { unapplied, table } = this.notAppliedInAppend(projection, events);
      // Skipping what an append applied holds only while its table is the live one (no swap since).
      if (table !== undefined)
        stillThere.push(
          sql.fragment`${table}::oid IN (${sql.join(
            Object.keys(projection.tables).map((name) => sql.fragment`to_regclass(${name})::oid`),
            sql.fragment`, `,
          )})`,
        );
      const statements = oneStatementWrites(projection, tables, unapplied, guard);
      if (statements === undefined) return false;
      for (const statement of statements) writes.push(sql.fragment`${sql.identifier([`write_${writes.length}`])} AS (${statement})`);
    }
    const expected = this.names.map((name) => this.known.get(name) ?? null);
    const checkpoints = this.checkpointTables('projection_checkpoints');
    const result = await selectRow(
      this.pool,
      guardRow,
      prepared(sql.unsafe`
      WITH locked AS MATERIALIZED (
        SELECT name, cursor FROM ${checkpoints}
        WHERE name = ANY(${sql.array(this.names, 'text')})
        ORDER BY name
        FOR UPDATE
      ),
      guard AS MATERIALIZED (
        SELECT count(*) FILTER (WHERE locked.cursor IS NOT DISTINCT FROM expected.cursor) = ${this.names.length}
               AND bool_and(settings.done IS NOT NULL)${stillThere.length === 0 ? sql.fragment`` : sql.fragment` AND ${sql.join(stillThere, sql.fragment` AND `)}`} AS ok
        FROM locked
        JOIN unnest(${sql.array(this.names, 'text')}, ${sql.array(expected, 'text')}) AS expected(name, cursor) USING (name)
        CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true) AS done) AS settings
      ),
      ${writes.length === 0 ? sql.fragment`` : sql.fragment`${sql.join(writes, sql.fragment`, `)},`}
      advanced AS (
        UPDATE ${checkpoints} SET cursor = ${last.cursor}, position = ${last.position}, updated_at = now()
        WHERE name = ANY(${sql.array(this.names, 'text')}) AND ${guard}
      )
      SELECT ok FROM guard`),
    );
    if (result?.ok !== true) return false;
    for (const name of this.names) this.known.set(name, last.cursor);
    return true;
  }

  /**
   * The events of the batch the read model still needs (all of them unless this instance's appends
   * applied some), and the table the appends wrote them to. The transaction path and parking apply
   * everything again (idempotent), so a swapped table never misses an event.
   */
  private notAppliedInAppend(model: AnyReadModel, events: readonly RecordedEvent[]): { unapplied: readonly RecordedEvent[]; table?: number } {
    if (this.inAppend === undefined || this.inAppend.size === 0) return { unapplied: events };
    let table: number | undefined;
    const unapplied: RecordedEvent[] = [];
    for (const event of events) {
      const written = this.inAppend.tableOf(event.eventId, model.name);
      if (written === undefined) unapplied.push(event);
      else if (table === undefined || table === written) table = written;
      else return { unapplied: events }; // two tables: a swap between them; apply everything
    }
    return table === undefined ? { unapplied: events } : { unapplied, table };
  }

  private async applyInTransaction(events: readonly RecordedEvent[]): Promise<void> {
    const last = events[events.length - 1]!;
    this.known = await this.pool.transaction(async (tx) => {
      const cursors = await lockCheckpoints(tx, this.checkpointTables, this.names);
      const advanced: string[] = [];
      for (const { projection, tables, checkpoint } of this.bound) {
        const from = cursors.get(checkpoint) ?? null;
        if (compareCursors(from, last.cursor) >= 0) continue;
        const fresh = from === null ? events : events.filter((event) => compareCursors(event.cursor, from) > 0);
        await applyTo(tx, projection, tables, fresh);
        advanced.push(checkpoint);
      }
      if (advanced.length > 0) {
        await advanceCheckpoints(tx, this.checkpointTables, advanced, { cursor: last.cursor, position: last.position });
        for (const name of advanced) cursors.set(name, last.cursor);
      }
      return cursors;
    });
  }

  private lowest(): string | null {
    let lowest: string | null | undefined;
    for (const name of this.names) {
      const cursor = this.known.get(name) ?? null;
      if (lowest === undefined || compareCursors(cursor, lowest) < 0) lowest = cursor;
    }
    return lowest ?? null;
  }
}
