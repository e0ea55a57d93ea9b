import type { EventFilter, RecordedEvent } from './types.ts';

export function matchesFilter(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.types !== undefined && filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  if (filter.owner !== undefined && event.owner !== filter.owner) return false;
  if (filter.streamId !== undefined && event.streamId !== filter.streamId) return false;
  if (filter.streamPrefix !== undefined && !event.streamId.startsWith(filter.streamPrefix)) return false;
  return true;
}

/** Only the filter's own fields, so a ReadAllOptions can be passed without its paging fields. */
export function pickFilter(options: EventFilter): EventFilter {
  const filter: EventFilter = {};
  if (options.types !== undefined) filter.types = options.types;
  if (options.owner !== undefined) filter.owner = options.owner;
  if (options.streamId !== undefined) filter.streamId = options.streamId;
  if (options.streamPrefix !== undefined) filter.streamPrefix = options.streamPrefix;
  return filter;
}
