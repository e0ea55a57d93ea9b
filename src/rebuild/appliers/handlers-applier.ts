import type { Logger } from 'pino';
import { applyTo } from '../../projection-runner/postgres-backend.ts';
import type { AnyProjection } from '../../projection-runner/projection.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { RebuildApplier } from './applier.ts';

/**
 * A projection without a rebuild applier is rebuilt through its own handlers, as the live runner
 * applies it: always right, only slower (a statement per event, or per run of a bulk-handled type).
 * Everything happens at write time, in order, so its handlers may read what they wrote before.
 */
export function handlersApplier(projection: AnyProjection, tables: TableNames, logger: Logger | undefined): RebuildApplier {
  return {
    updatedInPlace: [],
    async stage(_db, items) {
      const events = items.map((item) => item.event);
      return { write: (tx) => applyTo(tx, projection, tables, events, logger), complete: true };
    },
    committed: () => {},
    forget: () => {},
    startEmpty: () => {},
  };
}
