export { rebuildProjections, type RebuildOptions, type RebuildProgress, type RebuildReport, type ProjectionOutcome } from './rebuild.ts';
export { abandonRebuild } from './abandon.ts';
export { projectionsStatus, type ProjectionStatus, type RebuildStatus, type StatusReport } from './status.ts';
export type { Comparison } from './compare.ts';
export type { TableDiff } from './table-diff.ts';
