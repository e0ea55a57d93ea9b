import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { Storage } from './storage.ts';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  storage: Storage;
}

/** Builds the HTTP and WebSocket application. It never listens: src/server.ts does, tests inject. */
export async function buildApp({ logger, storage }: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });

  // Where events are kept and how the database is reached (mode, host, user, token expiry); never a secret.
  app.get('/health', async () => {
    const status = storage.status();
    return { status: status.degraded ? 'degraded' : 'ok', ...status };
  });

  return app;
}
