export { abandonRebuild } from './abandon.ts';
export type { Comparison } from './compare.ts';
export { type ProjectionOutcome, type RebuildOptions, type RebuildProgress, type RebuildReport, rebuildProjections } from './rebuild.ts';
export { type ProjectionStatus, projectionsStatus, type RebuildStatus, type StatusReport } from './status.ts';
export type { TableDiff } from './table-diff.ts';
