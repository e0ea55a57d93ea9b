import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { answerClientError, answerFrameworkError, installErrorEnvelope, type LakechatServices, registerApi, registerDemoPage, requestIdFrom } from './http/index.ts';
import type { Logger } from './logger.ts';
import { LakechatMetrics } from './metrics/index.ts';
import type { Storage } from './storage.ts';
import { registerWebSocket } from './ws/index.ts';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  storage: Storage;
  /** The clock used for computed fields (a profile's age); tests pin it. */
  now?: () => Date;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The services behind the routes, for other transports (WebSocket) to call the same way. */
    lakechat: LakechatServices;
  }
}

/** Builds the HTTP and WebSocket application. It never listens: src/server.ts does, tests inject. */
export async function buildApp({ config, logger, storage, now }: AppDependencies): Promise<FastifyInstance> {
  const env = config.env;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: env.HTTP_BODY_LIMIT_BYTES,
    // The Databricks Apps proxy sends X-Request-Id: log lines and events carry it as the correlation id.
    genReqId: (request) => requestIdFrom(request.headers['x-request-id'], randomUUID),
    // A chat id has up to 128 characters: a longer one reaches validation (a 400 naming it); only a
    // path segment longer than this is refused by the router (414).
    routerOptions: { maxParamLength: 256 },
    // Slow clients (docs/operations.md): the headers, then the whole request, must arrive in time,
    // checked every second at most; a connection silent this long is closed.
    connectionTimeout: env.HTTP_CONNECTION_TIMEOUT_MS,
    requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1_000, env.HTTP_HEADERS_TIMEOUT_MS),
    },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  });
  app.decorateRequest('identity', null);
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  installErrorEnvelope(app);

  const metrics = new LakechatMetrics({ storage });
  metrics.timeRequests(app);
  // The services append through the instrumented store; the WebSocket hub keeps the store itself,
  // whose PostgreSQL notifications carry signals between instances (it appends only through services).
  const instrumented: Storage = { ...storage, eventStore: metrics.instrument(storage.eventStore) };
  const services = await registerApi(app, { config, logger, storage: instrumented, pool: storage.pool ?? null, currentPool: () => storage.pool ?? null, now });
  app.decorate('lakechat', services);
  const ws = await registerWebSocket(app, { config, logger, store: storage.eventStore, services });
  metrics.attach({ runner: services.projections.runner, ws });
  app.get('/metrics', async (_request, reply) => {
    void reply.type(metrics.contentType);
    return metrics.render();
  });
  registerDemoPage(app);

  return app;
}
