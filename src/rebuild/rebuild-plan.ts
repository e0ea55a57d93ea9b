import { createHash } from 'node:crypto';
import type { CommonQueryMethods } from 'slonik';
import { sql } from 'slonik';
import { compareCursors } from '../event-store/index.ts';
import type { AnyReadModel, TableNames } from '../projection-runner/index.ts';
import type { RebuildApplier } from './appliers/applier.ts';
import { applierFor, type FoldApplierOptions } from './appliers/index.ts';
import { quoteIdent } from './ddl.ts';
import type { ProjectionTarget } from './projector.ts';
import { type TwinPlace, twinTableName } from './shadow-tables.ts';
import { describeLiveTable, shapeOf, type TableDefinition } from './table-definition.ts';

/** One projection of a rebuild or an "as of" build: its live tables and where their twins go. */
export interface ProjectionPlan {
  projection: AnyReadModel;
  live: TableDefinition[];
  place: (live: TableDefinition) => TwinPlace;
  /** The twins' names, for the projection's handlers and queries. */
  tables: TableNames;
  applier: RebuildApplier;
  target: ProjectionTarget;
  /** Changes when the live tables' definitions or the projection's code change. */
  fingerprint: string;
}

// Bump when the rebuild's own way of writing changes, so no rebuild resumes across it.
const rebuildFormat = 2;

export async function planProjection(db: CommonQueryMethods, projection: AnyReadModel, place: (live: TableDefinition) => TwinPlace, options?: FoldApplierOptions): Promise<ProjectionPlan> {
  const live: TableDefinition[] = [];
  for (const name of Object.keys(projection.tables)) live.push(await describeLiveTable(db, name));
  const byLogical = new Map(live.map((table) => [table.logicalName, table]));
  const identifiers = new Map<string, ReturnType<typeof sql.identifier>>();
  const tables: TableNames = (logicalName) => {
    let identifier = identifiers.get(logicalName);
    if (identifier === undefined) {
      const table = byLogical.get(logicalName);
      if (table === undefined) throw new Error(`projection ${projection.name} uses table ${logicalName}, which it does not declare`);
      const twin = place(table);
      identifiers.set(logicalName, (identifier = sql.identifier([twin.schema, twinTableName(table, twin)])));
    }
    return identifier;
  };
  const applier = applierFor(projection, tables, options);
  const code = {
    parse: String(projection.parse),
    tables: projection.tables,
    reads: String(projection.reads),
    fold: Object.entries(projection.fold).map(([type, fold]) => `${type}:${String(fold)}`),
    applier: String(applier.stage),
  };
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ rebuildFormat, tables: live.map(shapeOf), code }))
    .digest('hex')
    .slice(0, 32);
  return { projection, live, place, tables, applier, target: { projection, applier, cursor: null, position: null }, fingerprint };
}

export function lowestCursor(plans: readonly ProjectionPlan[]): string | null {
  let low: string | null | undefined;
  for (const plan of plans) if (low === undefined || compareCursors(plan.target.cursor, low) < 0) low = plan.target.cursor;
  return low ?? null;
}

export function describeTwins(plan: ProjectionPlan): string[] {
  return plan.live.map((table) => {
    const twin = plan.place(table);
    return `${quoteIdent(twin.schema)}.${quoteIdent(twinTableName(table, twin))}`;
  });
}
