import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { selectRows } from '../projection-runner/index.ts';
import { ddl, qualified, quoteIdent, withSuffix } from './ddl.ts';
import type { IndexDefinition, TableDefinition } from './table-definition.ts';

/** Where a live table's twin goes: shadow tables beside it (a suffix), or another schema (same names). */
export interface TwinPlace {
  schema: string;
  suffix: string;
}

export const shadowSuffix = '__rebuild';

export function twinTableName(live: TableDefinition, place: TwinPlace): string {
  return withSuffix(live.name, place.suffix);
}

function twinIndexName(index: IndexDefinition, place: TwinPlace): string {
  return withSuffix(index.constraint ?? index.name, place.suffix);
}

/**
 * The index's definition, rewritten to build the twin's index on the twin; `concurrently` builds it
 * without holding a transaction id (not on a partitioned table, which PostgreSQL refuses).
 */
function twinIndexDefinition(index: IndexDefinition, live: TableDefinition, place: TwinPlace, concurrently: boolean): string {
  const head = new RegExp(`^CREATE (UNIQUE )?INDEX ${escapeRegExp(quoteIdentIfNeeded(index.name))} ON (ONLY )?${escapeRegExp(qualifiedIfNeeded(live.schema, live.name))} `);
  const match = head.exec(index.definition);
  if (match === null) throw new Error(`unexpected index definition: ${index.definition}`);
  const twin = qualified(place.schema, twinTableName(live, place));
  const how = concurrently && match[2] === undefined ? 'CONCURRENTLY ' : '';
  return `CREATE ${match[1] ?? ''}INDEX ${how}${quoteIdent(twinIndexName(index, place))} ON ${match[2] ?? ''}${twin} ${index.definition.slice(match[0].length)}`;
}

// pg_get_indexdef quotes identifiers only when they need it.
function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

function qualifiedIfNeeded(schema: string, name: string): string {
  return `${quoteIdentIfNeeded(schema)}.${quoteIdentIfNeeded(name)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Indexes the rows need while they are written (unique ones: conflict targets and constraints). */
function neededWhileBuilding(index: IndexDefinition): boolean {
  return index.constraint !== null || index.unique;
}

export interface CreateTwinOptions {
  /** Leave free space in each page, so the many updates of a rebuild stay on their page (HOT). */
  fillfactor?: number | undefined;
}

/**
 * Creates the twin of a live table: the same columns, defaults, checks, keys and grants, owned by the
 * same role, but only the indexes the writes need; the others are built once the rows are in
 * (`completeTwin`), which is faster than keeping them up to date row by row.
 */
export async function createTwin(db: CommonQueryMethods, live: TableDefinition, place: TwinPlace, options: CreateTwinOptions = {}): Promise<void> {
  const twin = qualified(place.schema, twinTableName(live, place));
  const storage = options.fillfactor === undefined ? '' : ` WITH (fillfactor = ${Math.trunc(options.fillfactor)})`;
  await db.query(
    ddl(`CREATE TABLE ${twin} (LIKE ${qualified(live.schema, live.name)}
    INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE
    INCLUDING COMPRESSION INCLUDING COMMENTS INCLUDING STATISTICS)${storage}`),
  );
  for (const index of live.indexes) {
    if (!neededWhileBuilding(index)) continue;
    await db.query(
      ddl(index.constraint !== null ? `ALTER TABLE ${twin} ADD CONSTRAINT ${quoteIdent(twinIndexName(index, place))} ${index.definition}` : twinIndexDefinition(index, live, place, false)),
    );
  }
  for (const key of live.foreignKeys) {
    await db.query(ddl(`ALTER TABLE ${twin} ADD CONSTRAINT ${quoteIdent(withSuffix(key.name, place.suffix))} ${key.definition}`));
  }
  for (const grant of live.grants) {
    await db.query(ddl(`GRANT ${grant.privilege} ON ${twin} TO ${grant.grantee === null ? 'PUBLIC' : quoteIdent(grant.grantee)}`));
  }
  // Only the owner (or a member of its role) may drop the live table at the swap, so this is no new demand.
  await db.query(ddl(`ALTER TABLE ${twin} OWNER TO ${quoteIdent(live.owner)}`));
}

const indexState = z.object({ valid: z.boolean() });

/**
 * Builds the indexes createTwin left out and gives the twin the live table's storage parameters. Run
 * on the pool, outside any transaction: each index is built CONCURRENTLY, which holds a transaction id
 * only for the moments it updates the catalog, where a plain CREATE INDEX holds one for the whole build
 * and so holds back every reader of the log (docs/rebuild.md, "What blocks, and for how long"). An
 * index a stopped build left invalid is dropped and built again; a valid one is kept (a resumed rebuild).
 */
export async function completeTwin(db: CommonQueryMethods, live: TableDefinition, place: TwinPlace): Promise<void> {
  const twin = qualified(place.schema, twinTableName(live, place));
  for (const index of live.indexes) {
    if (neededWhileBuilding(index)) continue;
    const name = twinIndexName(index, place);
    const [existing] = await selectRows(
      db,
      indexState,
      sql.unsafe`
      SELECT x.indisvalid AS valid FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
      WHERE i.oid = to_regclass(quote_ident(${place.schema}) || '.' || quote_ident(${name}))`,
    );
    if (existing?.valid === true) continue;
    if (existing !== undefined) await db.query(ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(place.schema, name)}`));
    await db.query(ddl(twinIndexDefinition(index, live, place, true)));
  }
  await db.query(ddl(`ALTER TABLE ${twin} RESET (fillfactor)`));
  if (live.options.length > 0) await db.query(ddl(`ALTER TABLE ${twin} SET (${live.options.join(', ')})`));
  await db.query(ddl(`ANALYZE ${twin}`));
}

export async function dropTwin(db: CommonQueryMethods, live: TableDefinition, place: TwinPlace): Promise<void> {
  await db.query(ddl(`DROP TABLE IF EXISTS ${qualified(place.schema, twinTableName(live, place))}`));
}

/** Takes the live tables for the rest of the transaction (the swap's first step), in a fixed order. */
export async function lockLiveTables(db: CommonQueryMethods, live: readonly TableDefinition[]): Promise<void> {
  const names = [...new Set(live.map((table) => qualified(table.schema, table.name)))].sort();
  if (names.length > 0) await db.query(ddl(`LOCK TABLE ${names.join(', ')} IN ACCESS EXCLUSIVE MODE`));
}

/**
 * Puts the shadow table in the live table's place, with the live table's name and the names of its
 * indexes and constraints, so later migrations find what they expect. Run inside the swap's
 * transaction: readers see the old table or the new one, never neither.
 */
export async function replaceLiveTable(db: CommonQueryMethods, live: TableDefinition, place: TwinPlace): Promise<void> {
  const twinName = twinTableName(live, place);
  try {
    await db.query(ddl(`DROP TABLE ${qualified(live.schema, live.name)}`));
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === '2BP01' || (error as { code?: string }).code === '2BP01') {
      throw new LakechatError('LAKECHAT_ERR_REBUILD_SWAP_BLOCKED', undefined, {
        details: { table: live.name, cause: 'other objects (views, foreign keys) depend on it' },
        cause: error,
      });
    }
    throw error;
  }
  await db.query(ddl(`ALTER TABLE ${qualified(place.schema, twinName)} RENAME TO ${quoteIdent(live.name)}`));
  for (const index of live.indexes) {
    await db.query(ddl(`ALTER INDEX ${qualified(live.schema, twinIndexName(index, place))} RENAME TO ${quoteIdent(index.constraint ?? index.name)}`));
  }
  for (const key of live.foreignKeys) {
    await db.query(ddl(`ALTER TABLE ${qualified(live.schema, live.name)} RENAME CONSTRAINT ${quoteIdent(withSuffix(key.name, place.suffix))} TO ${quoteIdent(key.name)}`));
  }
}
