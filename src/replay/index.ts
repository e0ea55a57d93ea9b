export { type AsOf, describeAsOf, resolveAsOf } from './as-of.ts';
export { type EventLine, eventLineColumns, toEventLine } from './event-line.ts';
export { type ExportOptions, type ExportResult, exportEvents, type TextSink } from './export-events.ts';
export { type LineFormat, lineFormats, type ReplayFormat, replayFormats } from './formats.ts';
export { filterQuery, type ReplayFilter, type ReplayFilterInput, replayFilterSchema, replayFilterShape, toReplayFilter } from './replay-filter.ts';
export { type StreamAsOf, streamAsOf } from './stream-as-of.ts';
