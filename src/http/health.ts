import type { FastifyInstance } from 'fastify';
import type { ProjectionLag, ProjectionRunner } from '../projection-runner/index.ts';
import type { Storage } from '../storage.ts';

export interface HealthOptions {
  storage: Storage;
  runner: ProjectionRunner;
  /** Whether every migration is applied; absent for the in-memory store, which has none. */
  migrationsApplied?: (() => Promise<boolean>) | undefined;
  /** Projections further behind than this are not "caught up" for /ready. */
  maxReadyLagSeconds: number;
}

async function measureLag(runner: ProjectionRunner): Promise<ProjectionLag | null> {
  try {
    return await runner.lag();
  } catch {
    return null;
  }
}

/**
 * `GET /health` is liveness: it answers 200 while the process runs, and says how storage and the
 * projections are doing (states and counts, nothing about where the database is). `GET /ready`
 * answers 200 only when storage is not a fallback, migrations are applied and the projections have
 * caught up with the log, so a load balancer sends no traffic before then.
 */
export function registerHealthRoutes(app: FastifyInstance, options: HealthOptions): void {
  const { storage, runner } = options;

  const projectionStatus = async () => {
    const status = runner.status();
    const lag = await measureLag(runner);
    return {
      state: status.state,
      cursor: status.cursor,
      reachedLiveEdge: status.reachedLiveEdge,
      lagEvents: lag?.events ?? null,
      lagCapped: lag?.capped ?? null,
      lagSeconds: lag === null ? null : Math.round(lag.seconds * 1_000) / 1_000,
      lastError: status.lastError,
      parkedEvents: status.parkedEvents,
    };
  };

  // Open transactions anywhere in the cluster hold the log's readers back (docs/architecture.md).
  const readerStatus = async () => {
    if (storage.readerLag === undefined) return null;
    try {
      return await storage.readerLag();
    } catch {
      return null;
    }
  };

  // Unauthenticated: states and counts only. Where the database is, who logs in and why a login
  // failed are for operators: the start-up log and `npm run doctor` say it.
  const storageState = () => {
    const { storage: kind, mode, degraded, tokenExpiresAt, fallback } = storage.status();
    if (fallback === undefined) return { storage: kind, mode, degraded, tokenExpiresAt };
    // The fallback's counts, never its last error (that names hosts and login failures: the log has it).
    const { lastError: _lastError, ...fallbackCounts } = fallback;
    return { storage: kind, mode, degraded, tokenExpiresAt, fallback: fallbackCounts };
  };

  app.get('/health', async () => {
    const storageStatus = storageState();
    const [projections, readers] = await Promise.all([projectionStatus(), readerStatus()]);
    // Parked events are missing from the read models until a fixed projection is rebuilt.
    const healthy = !storageStatus.degraded && projections.state === 'running' && projections.lastError === null && projections.lagEvents !== null && projections.parkedEvents === 0;
    return { status: healthy ? 'ok' : 'degraded', ...storageStatus, projections, readers };
  });

  app.get('/ready', async (_request, reply) => {
    const projections = await projectionStatus();
    let migrations: boolean;
    try {
      migrations = options.migrationsApplied === undefined ? true : await options.migrationsApplied();
    } catch {
      migrations = false;
    }
    const caughtUp = projections.state === 'running' && projections.reachedLiveEdge && projections.lagSeconds !== null && projections.lagSeconds <= options.maxReadyLagSeconds;
    // On the memory fallback the instance accepts writes another instance never sees: not whole.
    const storageWhole = !storage.status().degraded;
    const ready = storageWhole && migrations && caughtUp;
    void reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks: { storage: storageWhole, migrations, projections: caughtUp }, projections };
  });
}
