import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CommandContext } from '../commands/index.ts';
import { type ErrorCode, LakechatError } from '../errors.ts';
import { validInput } from '../valid-input.ts';
import { parseIfMatch } from './etag.ts';
import type { Identity } from './identity.ts';
import { commandContextOf } from './request-context.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** The response carries an ETag (the stream's version). */
  etag?: boolean;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  identity: Identity;
  /** Who acts, for the events this request appends. */
  context: CommandContext;
  /** The version in `If-Match`, when the route reads it and the client sent one. */
  ifMatch: number | undefined;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One API route, described once: its zod schemas validate the request and describe it in the
 * OpenAPI document, and its list of error codes says what a client must expect.
 */
export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  /** fastify's form: `/api/chats/:chatId`. */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Reads `If-Match` for optimistic concurrency. */
  ifMatch?: boolean;
  responses: Record<number, ResponseSpec>;
  errors: readonly ErrorCode[];
  handler(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of routes holds specs of different body, params and reply types
export type AnyRouteSpec = RouteSpec<any, any, any>;

const anything = z.unknown();

function validate<S extends z.ZodType>(schema: S | undefined, value: unknown, where: 'params' | 'query' | 'body'): z.output<S> {
  return schema === undefined ? (undefined as z.output<S>) : validInput(schema, value, where);
}

/** The errors every authenticated route can answer, whatever it does. */
export const commonErrors: readonly ErrorCode[] = [
  'LAKECHAT_ERR_AUTH_MISSING_IDENTITY',
  'LAKECHAT_ERR_AUTH_INVALID_IDENTITY',
  'LAKECHAT_ERR_HTTP_RATE_LIMITED',
  'LAKECHAT_ERR_STORE_UNAVAILABLE',
  'LAKECHAT_ERR_HTTP_INTERNAL',
];

const stateChanging = new Set<HttpMethod>(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `application/json`, with or without parameters (`; charset=utf-8`). */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/** The routes registered so far, in order: what /openapi.json describes. */
export class RouteRegistry {
  readonly routes: AnyRouteSpec[] = [];
}

/**
 * Registers a route on the app and in the registry. The caller is authenticated (and rate limited)
 * by `authenticate` before the body is even read, so a stranger gets a 401, not a 400 or a 413.
 * A state-changing request must say `Content-Type: application/json`, even without a body: a page
 * of another site can send a form or a body-less POST with the user's cookies, not that header.
 */
export function addRoute<P extends z.ZodType = typeof anything, Q extends z.ZodType = typeof anything, B extends z.ZodType = typeof anything>(
  app: FastifyInstance,
  registry: RouteRegistry,
  authenticate: (request: FastifyRequest) => Identity,
  spec: RouteSpec<P, Q, B>,
): void {
  registry.routes.push(spec);
  app.route({
    method: spec.method,
    url: spec.url,
    onRequest: async (request) => {
      request.identity = authenticate(request);
      if (stateChanging.has(spec.method) && !isJson(request.headers['content-type'])) {
        throw new LakechatError('LAKECHAT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
      }
    },
    handler: async (request, reply) => {
      const identity = request.identity!;
      const params = validate(spec.params, request.params, 'params');
      const query = validate(spec.query, request.query, 'query');
      const body = validate(spec.body, request.body, 'body');
      const ifMatch = spec.ifMatch === true ? parseIfMatch(request.headers['if-match']) : undefined;
      return spec.handler({ params, query, body, identity, context: commandContextOf(request, identity), ifMatch, request, reply });
    },
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null;
  }
}
