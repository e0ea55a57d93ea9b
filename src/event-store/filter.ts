import { LakechatError } from '../errors.ts';
import { isStorableText } from '../safe-text.ts';
import type { EventFilter, RecordedEvent } from './types.ts';

export function matchesFilter(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.types !== undefined && filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  if (!filter.alsoStreamIds?.includes(event.streamId)) {
    if (filter.owner !== undefined && event.owner !== filter.owner) return false;
    if (filter.streamId !== undefined && event.streamId !== filter.streamId) return false;
    if (filter.streamPrefix !== undefined && !event.streamId.startsWith(filter.streamPrefix)) return false;
  }
  if (filter.fromPosition !== undefined && event.position < filter.fromPosition) return false;
  if (filter.toPosition !== undefined && event.position > filter.toPosition) return false;
  if (filter.since !== undefined && event.recordedAt.getTime() < filter.since.getTime()) return false;
  if (filter.until !== undefined && event.recordedAt.getTime() >= filter.until.getTime()) return false;
  return true;
}

// PostgreSQL has no year 0, and toISOString writes years past 9999 in a form it does not read.
function withinPostgresYears(value: Date): boolean {
  const year = value.getUTCFullYear();
  return !Number.isNaN(value.getTime()) && year >= 1 && year <= 9999;
}

function invalidFilter(field: string): LakechatError {
  return new LakechatError('LAKECHAT_ERR_STORE_INVALID_FILTER', undefined, { details: { field } });
}

/**
 * Only the filter's own fields, so a ReadAllOptions can be passed without its paging fields; checks
 * the range fields and the texts (no NUL, no unpaired surrogate), which both stores would otherwise
 * read differently when malformed, or PostgreSQL refuse.
 */
export function pickFilter(options: EventFilter): EventFilter {
  for (const field of ['fromPosition', 'toPosition'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw invalidFilter(field);
  }
  for (const field of ['since', 'until'] as const) {
    const value = options[field];
    if (value !== undefined && (!(value instanceof Date) || !withinPostgresYears(value))) throw invalidFilter(field);
  }
  for (const field of ['owner', 'streamId', 'streamPrefix'] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'string' || !isStorableText(value))) throw invalidFilter(field);
  }
  if (options.types !== undefined && !options.types.every((type) => typeof type === 'string' && isStorableText(type))) throw invalidFilter('types');
  if (options.alsoStreamIds !== undefined && !options.alsoStreamIds.every((id) => typeof id === 'string' && isStorableText(id))) throw invalidFilter('alsoStreamIds');
  const filter: EventFilter = {};
  if (options.types !== undefined) filter.types = options.types;
  if (options.owner !== undefined) filter.owner = options.owner;
  if (options.streamId !== undefined) filter.streamId = options.streamId;
  if (options.streamPrefix !== undefined) filter.streamPrefix = options.streamPrefix;
  if (options.alsoStreamIds !== undefined && options.alsoStreamIds.length > 0) filter.alsoStreamIds = options.alsoStreamIds;
  if (options.fromPosition !== undefined) filter.fromPosition = options.fromPosition;
  if (options.toPosition !== undefined) filter.toPosition = options.toPosition;
  if (options.since !== undefined) filter.since = options.since;
  if (options.until !== undefined) filter.until = options.until;
  return filter;
}
