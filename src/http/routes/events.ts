import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LakechatError } from '../../errors.ts';
import type { EventStore } from '../../event-store/index.ts';
import { filterQuery, lineFormats, replayFilterShape, toReplayFilter } from '../../replay/index.ts';
import type { Identity } from '../identity.ts';
import { addRoute, commonErrors, type RouteRegistry } from '../route.ts';

export const eventsQuery = z.object({
  ...replayFilterShape,
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000).describe('Events in this response, at most 10,000'),
});

const linesPerChunk = 500;

/**
 * `GET /api/events`: the log for analysts, as NDJSON in the replay's line format, one page per request.
 * The page is read first (bounded by `limit`), so the next cursor can go in the `Link` header; the
 * lines are then streamed. Following `Link`, or passing the last line's `cursor` as `after`, returns
 * every event exactly once; an empty page still links onwards, for polling.
 */
export function registerEventRoutes(app: FastifyInstance, registry: RouteRegistry, authenticate: (request: FastifyRequest) => Identity, store: EventStore): void {
  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/events',
    operationId: 'replayEvents',
    summary: "Every user's events, in log order (analysts only)",
    description:
      'Streams NDJSON (application/x-ndjson), one event per line: position, cursor, stream_id, stream_version, event_type, ' +
      'event_id, schema_version, owner, recorded_at, data, metadata. The `Link` header (rel="next") gives the next page; ' +
      '`X-Next-Cursor` the same cursor alone. Only users in ANALYST_EMAILS may call it.',
    tag: 'replay',
    query: eventsQuery,
    responses: { 200: { description: 'A page of events, as NDJSON' } },
    errors: [...commonErrors, 'LAKECHAT_ERR_REPLAY_FORBIDDEN', 'LAKECHAT_ERR_HTTP_VALIDATION', 'LAKECHAT_ERR_STORE_INVALID_CURSOR'],
    handler: async ({ identity, query, reply, request }) => {
      if (!identity.analyst) throw new LakechatError('LAKECHAT_ERR_REPLAY_FORBIDDEN');
      const filter = toReplayFilter(query);
      if (typeof filter.after === 'string') await store.checkCursor?.(filter.after);
      const page = await store.readAll({ ...filter, limit: query.limit });
      const next = filterQuery(query);
      if (page.cursor !== null) next.set('after', page.cursor);
      next.set('limit', String(query.limit));
      const url = `${request.url.split('?')[0]}?${next.toString()}`;
      void reply.header('link', `<${url}>; rel="next"`);
      if (page.cursor !== null) void reply.header('x-next-cursor', page.cursor);
      void reply.header('x-event-count', String(page.events.length));
      void reply.type(lineFormats.ndjson.contentType);
      const format = lineFormats.ndjson;
      const events = page.events;
      return Readable.from(
        (function* lines() {
          for (let start = 0; start < events.length; start += linesPerChunk) {
            let chunk = '';
            for (let i = start; i < Math.min(events.length, start + linesPerChunk); i++) chunk += format.line(events[i]!, i);
            yield chunk;
          }
        })(),
        { objectMode: false },
      );
    },
  });
}
