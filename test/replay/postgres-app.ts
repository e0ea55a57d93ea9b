import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { registerApi } from '../../src/http/api.ts';
import { installErrorEnvelope } from '../../src/http/error-envelope.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';
import type { LogBed } from './log-bed.ts';

export interface PostgresAppUnderTest {
  app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  url: string;
  /** A request as `user` (X-Demo-User) over the real socket. */
  fetch(user: string | null, path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** The app's API over the bed's PostgreSQL store, with its read models in PostgreSQL, listening on a real port. */
export async function postgresApp(bed: LogBed, env: Record<string, string> = {}): Promise<PostgresAppUnderTest> {
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0', PROJECTION_WAIT_TIMEOUT_MS: '30000', ...env });
  const logger = createLogger({ level: 'silent' });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  app.decorateRequest('identity', null);
  installErrorEnvelope(app);
  const storage = {
    eventStore: bed.store,
    status: () => ({ storage: 'postgres', mode: 'url', degraded: false }),
    close: async () => {},
  } as unknown as Storage;
  await registerApi(app, { config, logger, storage, pool: bed.pool });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  return {
    app,
    url,
    fetch: (user, path, init = {}) =>
      fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: { ...(user === null ? {} : { 'x-demo-user': user }), ...((init.method ?? 'GET') === 'GET' ? {} : { 'content-type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      }),
    close: () => app.close(),
  };
}
