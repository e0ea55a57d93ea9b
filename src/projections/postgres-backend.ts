import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ProjectionBackend } from './backend.ts';
import { advanceCheckpoints, ensureCheckpoints, lockCheckpoints, readCheckpoints } from './checkpoints.ts';
import { decodeFor } from './decode.ts';
import type { AnyProjection } from './projection.ts';
import { liveTables, tableNames, type TableLocation, type TableNames } from './tables.ts';

/** A projection and where it writes: the live tables, or shadow tables / another schema for a rebuild. */
export interface ProjectionBinding {
  projection: AnyProjection;
  tables?: TableLocation;
  /** The name of its checkpoint row; the projection's name by default. */
  checkpoint?: string;
}

export interface PostgresBackendOptions {
  /** Where the checkpoint table is; the live one by default. */
  checkpoints?: TableLocation;
  logger?: Logger | undefined;
}

interface Bound {
  projection: AnyProjection;
  tables: TableNames;
  checkpoint: string;
}

type Handler = (db: unknown, tables: TableNames, data: unknown, event: RecordedEvent) => Promise<void>;
type BulkHandler = (db: unknown, tables: TableNames, items: readonly { data: unknown; event: RecordedEvent }[]) => Promise<void>;

/**
 * Applies the events to one projection: runs of consecutive events of a type with a bulk handler go
 * in one call, the rest one by one. A transaction this short matters: while it holds its
 * transaction id, readers of the log (this runner included) cannot see events committed after it.
 */
async function applyTo(db: unknown, projection: AnyProjection, tables: TableNames, events: readonly RecordedEvent[], logger: Logger | undefined): Promise<void> {
  const handlers = projection.postgres.handlers as Record<string, Handler | undefined>;
  const bulk = (projection.postgres.bulk ?? {}) as Record<string, BulkHandler | undefined>;
  let run: { type: string; items: { data: unknown; event: RecordedEvent }[] } | null = null;
  const flush = async (): Promise<void> => {
    if (run !== null) await bulk[run.type]!(db, tables, run.items);
    run = null;
  };
  for (const event of events) {
    const decoded = decodeFor(projection, event, logger);
    if (decoded === null) continue;
    if (bulk[decoded.type] !== undefined) {
      if (run !== null && run.type !== decoded.type) await flush();
      run ??= { type: decoded.type, items: [] };
      run.items.push({ data: decoded.data, event });
      continue;
    }
    await flush();
    await handlers[decoded.type]?.(db, tables, decoded.data, event);
  }
  await flush();
}

/** Read models in PostgreSQL tables, each batch written in one transaction with its checkpoints. */
export class PostgresProjectionBackend implements ProjectionBackend {
  readonly kind = 'postgres' as const;
  readonly names: readonly string[];
  private readonly bound: Bound[];
  private readonly checkpointTables: TableNames;
  private readonly logger: Logger | undefined;
  private known = new Map<string, string | null>();

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
    this.checkpointTables = tableNames(options.checkpoints ?? liveTables);
    this.logger = options.logger;
  }

  async start(): Promise<string | null> {
    await ensureCheckpoints(this.pool, this.checkpointTables, this.names);
    this.known = await readCheckpoints(this.pool, this.checkpointTables, this.names);
    return this.lowest();
  }

  async applyBatch(events: readonly RecordedEvent[]): Promise<string | null> {
    if (events.length === 0) return this.lowest();
    const last = events[events.length - 1]!;
    this.known = await this.pool.transaction(async (tx) => {
      const cursors = await lockCheckpoints(tx, this.checkpointTables, this.names);
      const advanced: string[] = [];
      for (const { projection, tables, checkpoint } of this.bound) {
        const from = cursors.get(checkpoint) ?? null;
        if (compareCursors(from, last.cursor) >= 0) continue;
        const fresh = from === null ? events : events.filter((event) => compareCursors(event.cursor, from) > 0);
        await applyTo(tx, projection, tables, fresh, this.logger);
        advanced.push(checkpoint);
      }
      if (advanced.length > 0) {
        await advanceCheckpoints(tx, this.checkpointTables, advanced, { cursor: last.cursor, position: last.position });
        for (const name of advanced) cursors.set(name, last.cursor);
      }
      return cursors;
    });
    return this.lowest();
  }

  async checkpoints(): Promise<Record<string, string | null>> {
    return Object.fromEntries(this.known);
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
