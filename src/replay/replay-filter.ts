import { z } from 'zod';
import type { ReadAllOptions } from '../event-store/index.ts';
import { safeText } from '../safe-text.ts';

/** A read of the log without its page size: where to start and which events. */
export type ReplayFilter = Omit<ReadAllOptions, 'limit'>;

const isoPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A time PostgreSQL can compare with: every field in range (no 2026-02-31, no 24:30), and a year
 * from 1 to 9999 once in UTC (PostgreSQL has no year 0, and JavaScript writes years past 9999 in a
 * form it does not read).
 */
const isoTime = z
  .string()
  .regex(isoPattern, 'an ISO 8601 time, such as 2026-03-01 or 2026-03-01T12:00:00Z')
  .transform((text, context) => {
    const [, year, month, day, hour = '00', minute = '00', second = '00'] = isoPattern.exec(text)!;
    const fields = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
    const asWritten = new Date(fields);
    // Date.UTC rolls an impossible field over (February 31 becomes March 3): a rolled date is refused.
    // setUTCFullYear, because Date.UTC reads the years 0 to 99 as 1900 to 1999.
    asWritten.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
    const exact =
      asWritten.getUTCFullYear() === Number(year) &&
      asWritten.getUTCMonth() === Number(month) - 1 &&
      asWritten.getUTCDate() === Number(day) &&
      asWritten.getUTCHours() === Number(hour) &&
      asWritten.getUTCMinutes() === Number(minute) &&
      asWritten.getUTCSeconds() === Number(second);
    // A date alone, or a time without an offset, is read as UTC.
    const normalized = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /(?:Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
    const date = new Date(normalized.replace(' ', 'T'));
    if (!exact || Number.isNaN(date.getTime())) {
      context.addIssue({ code: 'custom', message: 'not a valid time (each field in range, such as 2026-02-28T23:59:59Z)' });
      return z.NEVER;
    }
    if (date.getUTCFullYear() < 1 || date.getUTCFullYear() > 9999) {
      context.addIssue({ code: 'custom', message: 'a time from the year 1 to the year 9999 (UTC)' });
      return z.NEVER;
    }
    return date;
  });

const position = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const cursor = z.string().regex(/^\d{1,20}-\d{1,20}(\.[0-9a-z]{1,40})?$/, 'a cursor from an earlier read (such as 812-40211)');
const text = safeText().min(1).max(500);
// A repeated value filters as one: `type=A&type=A` reads type A once.
const repeated = z.union([text, z.array(text).max(50)]).transform((value) => [...new Set(Array.isArray(value) ? value : [value])]);

/**
 * The replay's filters, shared by `npm run replay` and `GET /api/events` (the query names are the
 * flags' names in camelCase). Every given criterion must hold.
 */
export const replayFilterShape = {
  after: cursor.optional().describe('Resume after this cursor (the `cursor` of the last event read, or of the `Link` header)'),
  fromPosition: position.optional().describe('Events at this position or later'),
  toPosition: position.optional().describe('Events at this position or earlier'),
  since: isoTime.optional().describe('Events recorded at or after this ISO 8601 time (UTC when no offset is given)'),
  until: isoTime.optional().describe('Events recorded before this ISO 8601 time'),
  type: repeated.optional().describe('Events of this type; repeat for several'),
  stream: text.optional().describe('The events of one stream (chat-..., profile-...)'),
  streamPrefix: text.optional().describe('Events of streams whose id starts with this'),
  user: text.optional().describe("The events of one user's streams (the owner's email)"),
};

export const replayFilterSchema = z.object(replayFilterShape);
export type ReplayFilterInput = z.output<typeof replayFilterSchema>;

export function toReplayFilter(input: ReplayFilterInput): ReplayFilter {
  const filter: ReplayFilter = {};
  if (input.after !== undefined) filter.after = input.after;
  if (input.fromPosition !== undefined) filter.fromPosition = input.fromPosition;
  if (input.toPosition !== undefined) filter.toPosition = input.toPosition;
  if (input.since !== undefined) filter.since = input.since;
  if (input.until !== undefined) filter.until = input.until;
  if (input.type !== undefined) filter.types = input.type;
  if (input.stream !== undefined) filter.streamId = input.stream;
  if (input.streamPrefix !== undefined) filter.streamPrefix = input.streamPrefix;
  if (input.user !== undefined) filter.owner = input.user.toLowerCase();
  return filter;
}

/** The filter as query parameters: what a `Link` to the next page repeats. */
export function filterQuery(input: ReplayFilterInput): URLSearchParams {
  const query = new URLSearchParams();
  if (input.fromPosition !== undefined) query.set('fromPosition', String(input.fromPosition));
  if (input.toPosition !== undefined) query.set('toPosition', String(input.toPosition));
  if (input.since !== undefined) query.set('since', input.since.toISOString());
  if (input.until !== undefined) query.set('until', input.until.toISOString());
  for (const type of input.type ?? []) query.append('type', type);
  if (input.stream !== undefined) query.set('stream', input.stream);
  if (input.streamPrefix !== undefined) query.set('streamPrefix', input.streamPrefix);
  if (input.user !== undefined) query.set('user', input.user);
  return query;
}
