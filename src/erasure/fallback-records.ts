import { type DatabasePool, sql } from 'slonik';
import { type ErasureRecord, type ErasureRecords, MemoryErasureRecords, PostgresErasureRecords } from './erasure-records.ts';

const iso = (time: Date | null): string | null => (time === null ? null : time.toISOString());

/** Writes the records as they are (ids, times, counts; the subject and key only while open), once each. */
async function insertRecords(pool: DatabasePool, records: readonly ErasureRecord[]): Promise<void> {
  if (records.length === 0) return;
  // One transaction: all or none. An open one whose user has an open erasure in the table already
  // (another instance's) violates the unique index: the move fails and is tried again (Erasures.switchedTo).
  await pool.transaction(async (tx) => {
    for (const record of records) {
      await tx.query(sql.unsafe`
        INSERT INTO erasures (id, requested_by, state, subject, stream_key, requested_at, started_at, completed_at, resumed, events_erased, rows_erased)
        VALUES (${record.id}, ${record.requestedBy}, ${record.state}, ${record.subject}, ${record.streamKey}, ${iso(record.requestedAt)}::timestamptz,
          ${iso(record.startedAt)}::timestamptz, ${iso(record.completedAt)}::timestamptz, ${record.resumed}, ${record.eventsErased}, ${record.rowsErased})
        ON CONFLICT (id) DO NOTHING`);
    }
  });
}

/**
 * The erasure records of an instance without a database at start (the memory fallback): in memory,
 * then, when the instance switches to PostgreSQL, written to the `erasures` table as they are
 * (completed ones with their counts and times, open ones with their subject and key, so a process
 * killed afterwards takes them up again) and read and written there from then on. Calls made during
 * the hand-off wait for it, so no update is lost between the two.
 */
export class FallbackErasureRecords implements ErasureRecords {
  private readonly memory = new MemoryErasureRecords();
  private current: ErasureRecords = this.memory;
  private moving: Promise<unknown> | null = null;

  /** True once the records live in PostgreSQL. */
  get moved(): boolean {
    return this.current !== this.memory;
  }

  /** Moves every record to the `erasures` table; throws (records stay in memory) when the database refuses. */
  async moveTo(pool: DatabasePool): Promise<void> {
    if (this.moved) return;
    // Taken now, before anything awaits: every memory call before this point is in it, every later one waits.
    const records = this.memory.all();
    const moving = insertRecords(pool, records).then(() => {
      this.current = new PostgresErasureRecords(pool);
    });
    this.moving = moving.catch(() => undefined);
    try {
      await moving;
    } finally {
      this.moving = null;
    }
  }

  private route<T>(call: (records: ErasureRecords) => Promise<T>): Promise<T> {
    return this.moving === null ? call(this.current) : this.moving.then(() => call(this.current));
  }

  open(subject: string, requestedBy: string): Promise<{ record: ErasureRecord; created: boolean }> {
    return this.route((records) => records.open(subject, requestedBy));
  }

  get(id: string): Promise<ErasureRecord | null> {
    return this.route((records) => records.get(id));
  }

  findOpen(subject: string): Promise<ErasureRecord | null> {
    return this.route((records) => records.findOpen(subject));
  }

  listOpen(): Promise<ErasureRecord[]> {
    return this.route((records) => records.listOpen());
  }

  start(id: string, resumed: boolean): Promise<ErasureRecord> {
    return this.route((records) => records.start(id, resumed));
  }

  progress(id: string, eventsErased: number, rowsErased: number): Promise<void> {
    return this.route((records) => records.progress(id, eventsErased, rowsErased));
  }

  complete(id: string, eventsErased: number, rowsErased: number): Promise<ErasureRecord> {
    return this.route((records) => records.complete(id, eventsErased, rowsErased));
  }
}
