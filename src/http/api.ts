import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DatabasePool } from 'slonik';
import { ChatService, messageReadBoundsFrom } from '../chats/index.ts';
import type { Config } from '../config.ts';
import { Erasures, refusingWritesDuringErasure } from '../erasure/index.ts';
import type { Logger } from '../logger.ts';
import { ProfileService } from '../profiles/index.ts';
import { openProjections, type Projections } from '../projection-runner/index.ts';
import type { Storage } from '../storage.ts';
import { registerHealthRoutes } from './health.ts';
import { type Identity, resolveIdentity } from './identity.ts';
import { migrationsAppliedOn } from './migration-status.ts';
import { openApiDocument } from './openapi.ts';
import { RateLimiter } from './rate-limit.ts';
import { RouteRegistry } from './route.ts';
import { registerChatRoutes } from './routes/chats.ts';
import { registerErasureRoutes } from './routes/erasure.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerProfileRoutes } from './routes/profiles.ts';

/** What the transports share: the WebSocket transport uses these exactly as the HTTP routes do. */
export interface LakechatServices {
  chats: ChatService;
  profiles: ProfileService;
  projections: Projections;
  /** Erasing users (DELETE /api/me, and the content of deleted chats and profiles). */
  erasures: Erasures;
  /** The caller of a request (or a WebSocket upgrade), from its headers; throws a 401 error. */
  identify(headers: FastifyRequest['headers']): Identity;
}

export interface ApiOptions {
  config: Config;
  logger: Logger;
  storage: Storage;
  /** The PostgreSQL store's pool, for the read models; null keeps them in memory. */
  pool: DatabasePool | null;
  migrationsApplied?: (() => Promise<boolean>) | undefined;
  /** The PostgreSQL pool now (an instance on its memory fallback gets one when it switches); default `pool`. */
  currentPool?: () => DatabasePool | null;
  now?: () => Date;
}

/**
 * The REST API: starts the projections next to the event store, builds the services, and registers
 * the routes, /openapi.json, /health and /ready. The projections stop when the app closes.
 */
export async function registerApi(app: FastifyInstance, options: ApiOptions): Promise<LakechatServices> {
  const { config, logger, storage } = options;
  const env = config.env;
  const store = storage.eventStore;
  const projections = await (storage.openProjections ?? openProjections)({
    store,
    pool: options.pool,
    batchSize: env.PROJECTION_BATCH_SIZE,
    waitTimeoutMs: env.PROJECTION_WAIT_TIMEOUT_MS,
    inAppend: env.PROJECTIONS_IN_APPEND,
    logger,
  });
  app.addHook('onClose', async () => {
    await projections.runner.stop();
  });

  const erasing = new AbortController();
  const erasures = new Erasures({
    store,
    projections,
    pool: options.pool,
    ...(options.currentPool === undefined ? {} : { currentPool: options.currentPool }),
    logger,
    signal: erasing.signal,
    deletions: [
      { type: 'ChatDeleted', keepTypes: ['ChatDeleted'], restartable: false },
      { type: 'ProfileDeleted', keepTypes: ['ProfileDeleted'], restartable: true },
    ],
    onStreamsErased: (streamIds) => {
      chats.forgetStreams(streamIds);
      profiles.forgetStreams(streamIds);
    },
  });
  // On the memory fallback: the erasure records move to PostgreSQL at the switch.
  storage.onSwitch?.((pool) => erasures.switchedTo(pool));
  storage.forwardAs?.((event) => erasures.forwardedForm(event));
  app.addHook('onClose', async () => {
    erasing.abort();
    await erasures.settled();
  });
  // A user under erasure here writes nothing until it completes (LAKECHAT_ERR_ERASURE_IN_PROGRESS).
  const writes = refusingWritesDuringErasure(store, (owner) => erasures.assertWritable(owner));
  const canErase = store.erase !== undefined;
  const chats = new ChatService({
    store: writes,
    projections,
    policy: { maxMessageBytes: env.MAX_MESSAGE_BYTES },
    ...(canErase ? { eraseContent: (selection) => erasures.eraseContent(selection) } : {}),
  });
  const profiles = new ProfileService({
    store: writes,
    projections,
    ...(canErase ? { eraseContent: (selection) => erasures.eraseContent(selection) } : {}),
  });
  const identityOptions = { allowDemoUser: config.allowDemoUser, analystEmails: env.ANALYST_EMAILS };
  const identify = (headers: FastifyRequest['headers']): Identity => resolveIdentity(headers, identityOptions);
  const limiter = new RateLimiter({ perSecond: env.RATE_LIMIT_PER_SECOND, burst: env.RATE_LIMIT_BURST });
  const authenticate = (request: FastifyRequest): Identity => {
    const identity = identify(request.headers);
    limiter.take(identity.email);
    return identity;
  };

  const registry = new RouteRegistry();
  registerChatRoutes(app, registry, authenticate, chats, messageReadBoundsFrom(config));
  registerProfileRoutes(app, registry, authenticate, profiles, options.now ?? (() => new Date()));
  registerEventRoutes(app, registry, authenticate, store);
  registerErasureRoutes(app, registry, authenticate, erasures);
  registerHealthRoutes(app, {
    storage,
    runner: projections.runner,
    migrationsApplied: options.migrationsApplied ?? (options.pool === null ? undefined : migrationsAppliedOn(options.pool)),
    maxReadyLagSeconds: env.PROJECTION_WAIT_TIMEOUT_MS / 1_000,
  });

  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', async () => (document ??= openApiDocument(registry, { title: 'lakechat', version: '0.1.0' })));

  // Erasures a stopped or killed process left open, and deletions whose content it did not erase, are taken up again.
  if (canErase) {
    erasures.resumeAtStart().catch((error: unknown) => {
      if (!erasing.signal.aborted) logger.error({ err: error }, 'could not resume the open erasures or deletions; they resume at the next start');
    });
  }

  return { chats, profiles, projections, erasures, identify };
}
