import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ErasureRecord, Erasures } from '../../erasure/index.ts';
import { LakechatError } from '../../errors.ts';
import type { Identity } from '../identity.ts';
import { addRoute, commonErrors, type RouteRegistry } from '../route.ts';

const tag = 'erasure';

export const erasureView = z
  .object({
    erasureId: z.string(),
    state: z.enum(['pending', 'running', 'completed']),
    requestedBy: z.string(),
    requestedAt: z.string(),
    startedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    resumed: z.number().describe('Times it was taken up again after an interruption'),
    eventsErased: z.number(),
    rowsErased: z.number(),
  })
  .meta({ id: 'Erasure' });

/** What a client sees of an erasure: never the subject, never the key. */
export function toErasureView(record: ErasureRecord): z.output<typeof erasureView> {
  return {
    erasureId: record.id,
    state: record.state,
    requestedBy: record.requestedBy,
    requestedAt: record.requestedAt.toISOString(),
    startedAt: record.startedAt?.toISOString() ?? null,
    completedAt: record.completedAt?.toISOString() ?? null,
    resumed: record.resumed,
    eventsErased: record.eventsErased,
    rowsErased: record.rowsErased,
  };
}

const erasureQuery = z.object({ id: z.string().min(1).max(64).optional().describe('An erasure id, as DELETE /api/me answered it') }).strict();

/** `DELETE /api/me` (erase everything of the caller) and `GET /api/me/erasure` (its progress). */
export function registerErasureRoutes(app: FastifyInstance, registry: RouteRegistry, authenticate: (request: FastifyRequest) => Identity, erasures: Erasures): void {
  addRoute(app, registry, authenticate, {
    method: 'DELETE',
    url: '/api/me',
    operationId: 'eraseMe',
    summary: 'Erase everything of the caller: chats, messages, profile and its history, and their identity',
    description:
      'Accepted at once (202); the erasure runs in the background: follow it with GET /api/me/erasure. A second call while one is open answers the same erasure. docs/privacy.md says what remains where.',
    tag,
    responses: { 202: { description: 'The erasure was accepted', schema: erasureView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_ERASURE_UNSUPPORTED'],
    handler: async ({ identity, reply }) => {
      const record = await erasures.request(identity.email, 'self');
      void reply.code(202);
      return toErasureView(record);
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/me/erasure',
    operationId: 'getMyErasure',
    summary: "The caller's erasure: its progress, or its completion",
    description:
      "Without id: the caller's pending or running erasure (or one this instance completed in the last hour). A completed erasure keeps nothing of the user, so it is found by its id only: ?id=<erasureId>.",
    tag,
    query: erasureQuery,
    responses: { 200: { description: 'The erasure', schema: erasureView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_HTTP_VALIDATION', 'LAKECHAT_ERR_ERASURE_NOT_FOUND'],
    handler: async ({ identity, query }) => {
      const record = query.id === undefined ? await erasures.forUser(identity.email) : await erasures.byId(query.id);
      if (record === null) throw new LakechatError('LAKECHAT_ERR_ERASURE_NOT_FOUND');
      return toErasureView(record);
    },
  });
}
