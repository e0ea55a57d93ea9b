import type { AnyReadModel, TableNames } from '../../projection-runner/index.ts';
import type { RebuildApplier } from './applier.ts';
import { type FoldApplierOptions, foldApplier } from './fold-applier.ts';

export type { DecodedEvent, RebuildApplier } from './applier.ts';
export { type FoldApplierOptions, foldApplier } from './fold-applier.ts';

/** How a rebuild applies events to a read model: its declared rebuild fast path, else its own fold. */
export function applierFor(model: AnyReadModel, tables: TableNames, options?: FoldApplierOptions): RebuildApplier {
  return (model.rebuild?.(tables) as RebuildApplier | undefined) ?? foldApplier(model, tables, options);
}
