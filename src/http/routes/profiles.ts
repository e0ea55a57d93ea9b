import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../../errors.ts';
import type { ProfileService } from '../../profiles/index.ts';
import { etagOf } from '../etag.ts';
import type { Identity } from '../identity.ts';
import { addRoute, commonErrors, type RouteRegistry } from '../route.ts';
import { historyQuery, historyView, profileChangesBody, profileReplaceBody, profileView, toHistoryEntryView, toProfileView } from './profile-schemas.ts';

const tag = 'profile';

const writeErrors: readonly ErrorCode[] = [
  ...commonErrors,
  'LAKECHAT_ERR_HTTP_VALIDATION',
  'LAKECHAT_ERR_HTTP_INVALID_JSON',
  'LAKECHAT_ERR_HTTP_INVALID_IF_MATCH',
  'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED',
  'LAKECHAT_ERR_PROJECTION_TIMEOUT',
];

/** The profile routes: the caller's own profile, always; there is no way to name another user's. */
export function registerProfileRoutes(app: FastifyInstance, registry: RouteRegistry, authenticate: (request: FastifyRequest) => Identity, profiles: ProfileService, now: () => Date): void {
  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/profile',
    operationId: 'getProfile',
    summary: "The user's profile",
    tag,
    responses: { 200: { description: 'The profile, with the computed age', schema: profileView, etag: true } },
    errors: [...commonErrors, 'LAKECHAT_ERR_PROFILE_NOT_FOUND'],
    handler: async ({ identity, reply }) => {
      const profile = await profiles.getProfile(identity.email);
      void reply.header('etag', etagOf(profile.version));
      return toProfileView(profile, now());
    },
  });

  const write = (method: 'PUT' | 'PATCH') =>
    addRoute(app, registry, authenticate, {
      method,
      url: '/api/profile',
      operationId: method === 'PUT' ? 'replaceProfile' : 'changeProfile',
      summary: method === 'PUT' ? 'Replace the profile (fields left out are cleared)' : 'Change some fields of the profile',
      description: 'The first change creates the profile (201).',
      tag,
      body: method === 'PUT' ? profileReplaceBody : profileChangesBody,
      ifMatch: true,
      responses: {
        200: { description: 'The profile after the change', schema: profileView, etag: true },
        201: { description: 'The profile was created', schema: profileView, etag: true },
      },
      errors: writeErrors,
      handler: async ({ body, context, ifMatch, reply }) => {
        const changes = body ?? {};
        const { profile, created } = method === 'PUT' ? await profiles.replaceProfile(context, changes, ifMatch) : await profiles.changeProfile(context, changes, ifMatch);
        void reply.code(created ? 201 : 200).header('etag', etagOf(profile.version));
        return toProfileView(profile, now());
      },
    });
  write('PUT');
  write('PATCH');

  addRoute(app, registry, authenticate, {
    method: 'DELETE',
    url: '/api/profile',
    operationId: 'deleteProfile',
    summary: 'Delete the profile',
    tag,
    ifMatch: true,
    responses: { 204: { description: 'Deleted' } },
    errors: [...writeErrors.filter((code) => code !== 'LAKECHAT_ERR_HTTP_VALIDATION' && code !== 'LAKECHAT_ERR_HTTP_INVALID_JSON'), 'LAKECHAT_ERR_PROFILE_NOT_FOUND'],
    handler: async ({ context, ifMatch, reply }) => {
      await profiles.deleteProfile(context, ifMatch);
      void reply.code(204);
      return null;
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/profile/history',
    operationId: 'profileHistory',
    summary: 'Every change of the profile: when, who, which fields, old and new values',
    tag,
    query: historyQuery,
    responses: { 200: { description: 'A page of changes, oldest first', schema: historyView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_HTTP_VALIDATION'],
    handler: async ({ identity, query }) => {
      const entries = await profiles.history(identity.email, { after: query.after, limit: query.limit + 1 });
      const page = entries.slice(0, query.limit);
      return { entries: page.map((entry) => toHistoryEntryView(entry, profiles.storeId)), next: entries.length > query.limit ? page[page.length - 1]!.version : null };
    },
  });
}
