export { exportEvents, type ExportOptions, type ExportResult, type TextSink } from './export-events.ts';
export { lineFormats, replayFormats, type LineFormat, type ReplayFormat } from './formats.ts';
export { toEventLine, eventLineColumns, type EventLine } from './event-line.ts';
export { replayFilterSchema, toReplayFilter, type ReplayFilter, type ReplayFilterInput } from './replay-filter.ts';
export { resolveAsOf, describeAsOf, type AsOf } from './as-of.ts';
export { streamAsOf, type StreamAsOf } from './stream-as-of.ts';
export { buildAsOf, type AsOfBuildOptions, type AsOfBuildReport } from './as-of-build.ts';
export { registerEventRoutes } from './events-route.ts';
