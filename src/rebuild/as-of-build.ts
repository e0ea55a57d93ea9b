import type { Logger } from 'pino';
import { type DatabasePool, sql } from 'slonik';
import { LakechatError } from '../errors.ts';
import type { EventStore } from '../event-store/index.ts';
import type { AnyReadModel } from '../projection-runner/index.ts';
import { type AsOf, describeAsOf } from '../replay/index.ts';
import { ddl, qualified, quoteIdent } from './ddl.ts';
import { projectLog } from './projector.ts';
import { withRebuildLocks } from './rebuild-lock.ts';
import { type ProjectionPlan, planProjection } from './rebuild-plan.ts';
import { completeTwin, createTwin, dropTwin } from './shadow-tables.ts';
import { describeLiveTable } from './table-definition.ts';

export interface AsOfBuildOptions {
  pool: DatabasePool;
  store: EventStore;
  projections: readonly AnyReadModel[];
  /** The schema to build into (created when absent); its tables of the same names are replaced. */
  schema: string;
  asOf: AsOf;
  batchSize?: number | undefined;
  /** About how long each batch's transaction may take (default 50 ms; 0: fixed batches), as in a rebuild. */
  transactionBudgetMs?: number | undefined;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  onProgress?: ((events: number) => void) | undefined;
}

export interface AsOfBuildReport {
  schema: string;
  asOf: string;
  /** The last event applied (null: none was, the log had nothing before that moment). */
  cursor: string | null;
  position: number | null;
  events: number;
  tables: string[];
}

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Builds read models as they were at a moment into their own schema, which analysts query with SQL:
 * the live tables' twins (same columns, keys, indexes), fed by the same rebuild appliers, with every
 * event up to the moment. The live tables are only read (their definitions). A table
 * `projection_checkpoints` in the schema records the moment and the last event applied.
 */
export async function buildAsOf(options: AsOfBuildOptions): Promise<AsOfBuildReport> {
  const { pool, store, schema, asOf } = options;
  if (!schemaName.test(schema) || schema.startsWith('pg_') || schema === 'information_schema' || schema === 'public') {
    throw new LakechatError('LAKECHAT_ERR_REPLAY_INVALID_SCHEMA', undefined, { details: { schema } });
  }
  return withRebuildLocks(pool, [`as-of:${schema}`], async () => {
    const place = () => ({ schema, suffix: '' });
    const plans: ProjectionPlan[] = [];
    for (const projection of options.projections) plans.push(await planProjection(pool, projection, place));
    const checkpoints = await describeLiveTable(pool, 'projection_checkpoints');
    if ([...plans.flatMap((plan) => plan.live), checkpoints].some((table) => table.schema === schema)) {
      throw new LakechatError('LAKECHAT_ERR_REPLAY_INVALID_SCHEMA', 'The schema given to --into holds the live read models', { details: { schema } });
    }
    await pool.transaction(async (tx) => {
      await tx.query(ddl(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`));
      for (const table of [...plans.flatMap((plan) => plan.live), checkpoints]) {
        await dropTwin(tx, table, place());
        await createTwin(tx, table, place(), { fillfactor: plans.some((plan) => plan.projection.tables[table.logicalName]?.updatedInPlace === true) ? 50 : undefined });
      }
    });
    for (const plan of plans) plan.applier.startEmpty();
    const events = await projectLog({
      store,
      pool,
      targets: plans.map((plan) => plan.target),
      batchSize: options.batchSize ?? 10_000,
      // The build writes while the app serves: each batch's transaction id holds every log reader back.
      transactionBudgetMs: options.transactionBudgetMs === 0 ? undefined : (options.transactionBudgetMs ?? 50),
      filter: asOf.kind === 'time' ? { until: asOf.before } : undefined,
      stopAfter: asOf.kind === 'cursor' ? asOf.cursor : undefined,
      signal: options.signal,
      logger: options.logger,
      onBatch: (() => {
        let done = 0;
        return (batch) => options.onProgress?.((done += batch.events));
      })(),
    });
    // Indexes built CONCURRENTLY: no transaction id held while they build (docs/rebuild.md).
    for (const plan of plans) for (const table of plan.live) await completeTwin(pool, table, place());
    await completeTwin(pool, checkpoints, place());
    // Where each read model stands: the moment asked for, and the last event it holds.
    const last = plans.reduce<{ cursor: string | null; position: number | null }>(
      (found, plan) => (plan.target.position !== null && (found.position === null || plan.target.position > found.position) ? plan.target : found),
      { cursor: null, position: null },
    );
    for (const plan of plans) {
      await pool.query(sql.unsafe`
        INSERT INTO ${sql.identifier([schema, checkpoints.name])} (name, cursor, position, updated_at)
        VALUES (${plan.projection.name}, ${plan.target.cursor}, ${plan.target.position}, now())`);
    }
    await pool.query(ddl(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${literal(`lakechat read models as of ${describeAsOf(asOf)}`)}`));
    return {
      schema,
      asOf: describeAsOf(asOf),
      cursor: last.cursor,
      position: last.position,
      events,
      tables: plans.flatMap((plan) => plan.live.map((table) => qualified(schema, table.name))),
    };
  });
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
