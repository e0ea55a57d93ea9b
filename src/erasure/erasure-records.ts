import { randomBytes, randomUUID } from 'node:crypto';
import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';

export type ErasureState = 'pending' | 'running' | 'completed';

/** One erasure: the audit trail. `subject` and `streamKey` exist only until it completes. */
export interface ErasureRecord {
  id: string;
  requestedBy: string;
  state: ErasureState;
  /** The user's email while pending or running (to resume after a crash); null once completed. */
  subject: string | null;
  /** The secret that renames erased streams; null once completed. */
  streamKey: string | null;
  requestedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Times it was taken up again after being interrupted. */
  resumed: number;
  eventsErased: number;
  rowsErased: number;
}

/** Where erasure records live: the `erasures` table (migration 035), or memory with the memory store. */
export interface ErasureRecords {
  /** The subject's open erasure, or a new pending one; `created` says which. */
  open(subject: string, requestedBy: string): Promise<{ record: ErasureRecord; created: boolean }>;
  get(id: string): Promise<ErasureRecord | null>;
  findOpen(subject: string): Promise<ErasureRecord | null>;
  listOpen(): Promise<ErasureRecord[]>;
  /** Marks it running; `resumed` counts one more interruption survived. */
  start(id: string, resumed: boolean): Promise<ErasureRecord>;
  /** The counts so far; they never go down (on PostgreSQL each batch moves them in its own statement: `countIn`). */
  progress(id: string, eventsErased: number, rowsErased: number): Promise<void>;
  /** Completed: the counts are final, the subject and the key are forgotten. */
  complete(id: string, eventsErased: number, rowsErased: number): Promise<ErasureRecord>;
}

const newKey = (): string => randomBytes(32).toString('hex');

export class MemoryErasureRecords implements ErasureRecords {
  private readonly records = new Map<string, ErasureRecord>();

  async open(subject: string, requestedBy: string): Promise<{ record: ErasureRecord; created: boolean }> {
    // No await before the record is in the map: a hand-off to PostgreSQL (FallbackErasureRecords) sees it.
    const open = this.openOf(subject);
    if (open !== null) return { record: open, created: false };
    const record: ErasureRecord = {
      id: randomUUID(),
      requestedBy,
      state: 'pending',
      subject,
      streamKey: newKey(),
      requestedAt: new Date(),
      startedAt: null,
      completedAt: null,
      resumed: 0,
      eventsErased: 0,
      rowsErased: 0,
    };
    this.records.set(record.id, record);
    return { record: { ...record }, created: true };
  }

  async get(id: string): Promise<ErasureRecord | null> {
    const record = this.records.get(id);
    return record === undefined ? null : { ...record };
  }

  async findOpen(subject: string): Promise<ErasureRecord | null> {
    return this.openOf(subject);
  }

  /** Every record, completed ones too (the hand-off to PostgreSQL of an instance on its memory fallback). */
  all(): ErasureRecord[] {
    return [...this.records.values()].map((record) => ({ ...record }));
  }

  private openOf(subject: string): ErasureRecord | null {
    for (const record of this.records.values()) if (record.subject === subject) return { ...record };
    return null;
  }

  async listOpen(): Promise<ErasureRecord[]> {
    return [...this.records.values()].filter((record) => record.state !== 'completed').map((record) => ({ ...record }));
  }

  async start(id: string, resumed: boolean): Promise<ErasureRecord> {
    const record = this.records.get(id)!;
    record.state = 'running';
    record.startedAt ??= new Date();
    if (resumed) record.resumed++;
    return { ...record };
  }

  async progress(id: string, eventsErased: number, rowsErased: number): Promise<void> {
    const record = this.records.get(id)!;
    record.eventsErased = eventsErased;
    record.rowsErased = rowsErased;
  }

  async complete(id: string, eventsErased: number, rowsErased: number): Promise<ErasureRecord> {
    const record = this.records.get(id)!;
    Object.assign(record, { state: 'completed', subject: null, streamKey: null, completedAt: new Date(), eventsErased, rowsErased });
    return { ...record };
  }
}

const int = z.union([z.number(), z.bigint(), z.string()]).transform(Number);
const time = z.union([z.date(), z.number(), z.string()]).transform((value) => (value instanceof Date ? value : new Date(value)));
const recordRow = z
  .object({
    id: z.string(),
    requested_by: z.string(),
    state: z.enum(['pending', 'running', 'completed']),
    subject: z.string().nullable(),
    stream_key: z.string().nullable(),
    requested_at: time,
    started_at: time.nullable(),
    completed_at: time.nullable(),
    resumed: int,
    events_erased: int,
    rows_erased: int,
  })
  .transform(
    (row): ErasureRecord => ({
      id: row.id,
      requestedBy: row.requested_by,
      state: row.state,
      subject: row.subject,
      streamKey: row.stream_key,
      requestedAt: row.requested_at,
      startedAt: row.started_at,
      completedAt: row.completed_at,
      resumed: row.resumed,
      eventsErased: row.events_erased,
      rowsErased: row.rows_erased,
    }),
  );

const columns = sql.fragment`id::text AS id, requested_by, state, subject, stream_key, requested_at, started_at, completed_at, resumed, events_erased, rows_erased`;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PostgresErasureRecords implements ErasureRecords {
  constructor(private readonly db: CommonQueryMethods) {}

  private async one(query: ReturnType<typeof sql.unsafe>): Promise<ErasureRecord | null> {
    const { rows } = await this.db.query(query);
    return rows.length === 0 ? null : recordRow.parse(rows[0]);
  }

  async open(subject: string, requestedBy: string): Promise<{ record: ErasureRecord; created: boolean }> {
    // The unique index on open subjects makes two requests (on two instances) find one erasure.
    for (;;) {
      const created = await this.one(sql.unsafe`
        INSERT INTO erasures (id, requested_by, state, subject, stream_key)
        VALUES (${randomUUID()}, ${requestedBy}, 'pending', ${subject}, ${newKey()})
        ON CONFLICT (subject) WHERE subject IS NOT NULL DO NOTHING
        RETURNING ${columns}`);
      if (created !== null) return { record: created, created: true };
      const open = await this.findOpen(subject);
      if (open !== null) return { record: open, created: false };
    }
  }

  async get(id: string): Promise<ErasureRecord | null> {
    if (!uuidPattern.test(id)) return null;
    return this.one(sql.unsafe`SELECT ${columns} FROM erasures WHERE id = ${id}`);
  }

  async findOpen(subject: string): Promise<ErasureRecord | null> {
    return this.one(sql.unsafe`SELECT ${columns} FROM erasures WHERE subject = ${subject}`);
  }

  async listOpen(): Promise<ErasureRecord[]> {
    const { rows } = await this.db.query(sql.unsafe`SELECT ${columns} FROM erasures WHERE state <> 'completed' ORDER BY requested_at`);
    return rows.map((row) => recordRow.parse(row));
  }

  async start(id: string, resumed: boolean): Promise<ErasureRecord> {
    return (await this.one(sql.unsafe`
      UPDATE erasures SET state = 'running', started_at = coalesce(started_at, now()), resumed = resumed + ${resumed ? 1 : 0}
      WHERE id = ${id} RETURNING ${columns}`))!;
  }

  async progress(id: string, eventsErased: number, rowsErased: number): Promise<void> {
    await this.db.query(
      sql.unsafe`UPDATE erasures SET events_erased = greatest(events_erased, ${eventsErased}), rows_erased = greatest(rows_erased, ${rowsErased}) WHERE id = ${id} AND state = 'running'`,
    );
  }

  async complete(id: string, eventsErased: number, rowsErased: number): Promise<ErasureRecord> {
    return (await this.one(sql.unsafe`
      UPDATE erasures SET state = 'completed', subject = NULL, stream_key = NULL, completed_at = coalesce(completed_at, now()),
        events_erased = greatest(events_erased, ${eventsErased}), rows_erased = greatest(rows_erased, ${rowsErased})
      WHERE id = ${id} RETURNING ${columns}`))!;
  }
}
