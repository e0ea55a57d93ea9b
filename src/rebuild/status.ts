import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import type { AnyReadModel } from '../projection-runner/index.ts';
import { readLiveCheckpoints } from './live-checkpoints.ts';
import { lagBehind, logExtent } from './log-extent.ts';
import { heldRebuildLocks } from './rebuild-lock.ts';
import { readProgress } from './rebuild-progress.ts';

export interface ProjectionStatus {
  name: string;
  /** The live checkpoint: every event up to here is in the live tables (null: none yet). */
  cursor: string | null;
  position: number | null;
  updatedAt: Date | null;
  /** Events in the log after the checkpoint (counted up to a cap), and how old the oldest of them is. */
  lag: { events: number; capped: boolean; seconds: number };
  rebuild: RebuildStatus | null;
}

export interface RebuildStatus {
  /** "running": a process holds the projection's rebuild lock; "interrupted": progress is saved, nobody is working on it. */
  state: 'running' | 'interrupted';
  cursor: string | null;
  position: number | null;
  events: number;
  startedAt: Date | null;
  updatedAt: Date | null;
}

export interface StatusReport {
  /** The highest position in the log (positions have gaps: an upper bound of the count). */
  headPosition: number | null;
  projections: ProjectionStatus[];
  /** Events the live projections could not apply and moved past (docs/operations.md, "Parked events"). */
  parkedEvents: number;
}

/** Where each projection stands: its checkpoint, its lag behind the log, and any rebuild of it. */
export async function projectionsStatus(pool: DatabasePool, projections: readonly AnyReadModel[], lagCap = 100_000): Promise<StatusReport> {
  const names = projections.map((projection) => projection.name);
  const checkpoints = await readLiveCheckpoints(pool, names);
  // Readable before the rebuild's migration has run (status runs no migrations).
  const progress = await readProgress(pool, names).catch((error: unknown) => {
    if ((error as { cause?: { code?: string } }).cause?.code === '42P01') return new Map<string, never>();
    throw error;
  });
  const running = await heldRebuildLocks(
    pool,
    names.map((name) => `rebuild:${name}`),
  );
  const extent = await logExtent(pool);
  const lags = new Map<string | null, Awaited<ReturnType<typeof lagBehind>>>();
  const statuses: ProjectionStatus[] = [];
  for (const name of names) {
    const checkpoint = checkpoints.get(name);
    const cursor = checkpoint?.cursor ?? null;
    let lag = lags.get(cursor);
    if (lag === undefined) lags.set(cursor, (lag = await lagBehind(pool, cursor, lagCap)));
    const saved = progress.get(name);
    const isRunning = running.has(`rebuild:${name}`);
    statuses.push({
      name,
      cursor,
      position: checkpoint?.position ?? null,
      updatedAt: checkpoint?.updatedAt ?? null,
      lag,
      rebuild:
        saved === undefined && !isRunning
          ? null
          : {
              state: isRunning ? 'running' : 'interrupted',
              cursor: saved?.cursor ?? null,
              position: saved?.position ?? null,
              events: saved?.events ?? 0,
              startedAt: saved?.startedAt ?? null,
              updatedAt: saved?.updatedAt ?? null,
            },
    });
  }
  const parked = await pool.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM projection_parked_events`).catch((error: unknown) => {
    if ((error as { cause?: { code?: string } }).cause?.code === '42P01') return 0; // before migration 015
    throw error;
  });
  return { headPosition: extent.last, projections: statuses, parkedEvents: parked };
}
