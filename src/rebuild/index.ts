export { abandonRebuild } from './abandon.ts';
export { type AsOfBuildOptions, type AsOfBuildReport, buildAsOf } from './as-of-build.ts';
export type { Comparison } from './compare.ts';
export { logExtent } from './log-extent.ts';
export { type ProjectionOutcome, type RebuildOptions, type RebuildProgress, type RebuildReport, rebuildProjections } from './rebuild.ts';
export { type ProjectionStatus, projectionsStatus, type RebuildStatus, type StatusReport } from './status.ts';
export type { TableDiff } from './table-diff.ts';
