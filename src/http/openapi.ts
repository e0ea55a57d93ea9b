import { z } from 'zod';
import { type ErrorCode, errorCatalogue } from '../errors.ts';
import type { AnyRouteSpec, RouteRegistry } from './route.ts';

type JsonSchema = Record<string, unknown>;

/** zod spells formats out as long regular expressions too; the format alone reads better. */
function dropFormatPatterns(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropFormatPatterns);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).filter(([key]) => !(key === 'pattern' && 'format' in value));
  return Object.fromEntries(entries.map(([key, child]) => [key, dropFormatPatterns(child)]));
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return dropFormatPatterns(rest) as JsonSchema;
}

function objectShape(schema: z.ZodType | undefined): Record<string, z.ZodType> {
  if (schema === undefined || !(schema instanceof z.ZodObject)) return {};
  return schema.shape as Record<string, z.ZodType>;
}

function parameters(route: AnyRouteSpec): JsonSchema[] {
  const path = Object.entries(objectShape(route.params)).map(([name, schema]) => ({
    name,
    in: 'path',
    required: true,
    schema: jsonSchema(schema, 'input'),
  }));
  const query = Object.entries(objectShape(route.query)).map(([name, schema]) => ({
    name,
    in: 'query',
    required: !schema.safeParse(undefined).success,
    schema: jsonSchema(schema, 'input'),
  }));
  const ifMatch =
    route.ifMatch === true ? [{ name: 'If-Match', in: 'header', required: false, description: 'The ETag last read; a stale one fails with 412', schema: { type: 'string' } }] : [];
  return [...path, ...query, ...ifMatch];
}

function errorResponses(codes: readonly ErrorCode[]): Record<string, JsonSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: statusCodes.map((code) => `${code}: ${errorCatalogue[code].message}`).join('; '),
      content: {
        'application/json': {
          schema: {
            $ref: '#/components/schemas/ErrorEnvelope',
            description: `error.code is one of ${statusCodes.join(', ')}`,
          },
        },
      },
    };
  }
  return responses;
}

function operation(route: AnyRouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.etag === true ? { headers: { ETag: { description: 'The stream version, for If-Match', schema: { type: 'string' } } } } : {}),
      ...(spec.schema === undefined ? {} : { content: { 'application/json': { schema: jsonSchema(spec.schema, 'output') } } }),
    };
  }
  Object.assign(responses, errorResponses(route.errors));
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    security: [{ forwardedEmail: [] }, { demoUser: [] }],
    parameters: parameters(route),
    ...(route.body === undefined
      ? {}
      : { requestBody: { required: !route.body.safeParse(undefined).success, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }),
    responses,
  };
}

/** The OpenAPI 3.1 description of every registered route, generated from the zod schemas that validate them. */
export function openApiDocument(registry: RouteRegistry, info: { title: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of registry.routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'lakechat: chats and profiles as events, served from their projections. See docs/api.md.' },
    paths,
    components: {
      securitySchemes: {
        forwardedEmail: { type: 'apiKey', in: 'header', name: 'X-Forwarded-Email', description: 'Set by the Databricks Apps proxy' },
        demoUser: { type: 'apiKey', in: 'header', name: 'X-Demo-User', description: 'Development only (ALLOW_DEMO_USER)' },
      },
      schemas: {
        ErrorEnvelope: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: Object.keys(errorCatalogue) },
                message: { type: 'string' },
                details: { type: 'object' },
              },
            },
          },
        },
      },
    },
  };
}
