import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { selectRows } from '../projection-runner/index.ts';
import type { ProjectionTarget } from './projector.ts';

/** A projection rebuild's saved progress (migration 030). */
export interface SavedProgress {
  name: string;
  cursor: string | null;
  position: number | null;
  events: number;
  fingerprint: string;
  startedAt: Date;
  updatedAt: Date;
}

const progressRow = z
  .object({
    name: z.string(),
    cursor: z.string().nullable(),
    position: z.coerce.number().nullable(),
    events: z.coerce.number(),
    fingerprint: z.string(),
    started_at: z.coerce.date(),
    updated_at: z.coerce.date(),
  })
  .transform(
    (row): SavedProgress => ({
      name: row.name,
      cursor: row.cursor,
      position: row.position,
      events: row.events,
      fingerprint: row.fingerprint,
      startedAt: row.started_at,
      updatedAt: row.updated_at,
    }),
  );

export async function readProgress(db: CommonQueryMethods, names: readonly string[]): Promise<Map<string, SavedProgress>> {
  const rows = await selectRows(
    db,
    progressRow,
    sql.unsafe`
    SELECT name, cursor, position, events, fingerprint, started_at, updated_at
    FROM projection_rebuilds WHERE name = ANY(${sql.array(names, 'text')})`,
  );
  return new Map(rows.map((row) => [row.name, row]));
}

/** A fresh start: no event applied yet. */
export async function startProgress(db: CommonQueryMethods, name: string, fingerprint: string): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO projection_rebuilds (name, cursor, position, events, fingerprint)
    VALUES (${name}, NULL, NULL, 0, ${fingerprint})
    ON CONFLICT (name) DO UPDATE SET cursor = NULL, position = NULL, events = 0,
      fingerprint = EXCLUDED.fingerprint, started_at = now(), updated_at = now()`);
}

export async function saveProgress(db: CommonQueryMethods, progress: readonly { name: string; cursor: string | null; position: number | null; addedEvents: number }[]): Promise<void> {
  if (progress.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE projection_rebuilds AS saved
    SET cursor = moved.cursor, position = moved.position, events = saved.events + moved.added, updated_at = now()
    FROM unnest(${sql.array(
      progress.map((p) => p.name),
      'text',
    )}, ${sql.array(
      progress.map((p) => p.cursor),
      'text',
    )},
                ${sql.array(
                  progress.map((p) => p.position),
                  'int8',
                )}, ${sql.array(
                  progress.map((p) => p.addedEvents),
                  'int8',
                )})
      AS moved(name, cursor, position, added)
    WHERE saved.name = moved.name`);
}

export async function clearProgress(db: CommonQueryMethods, names: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM projection_rebuilds WHERE name = ANY(${sql.array(names, 'text')})`);
}

/** Where each target's tables stand once its batch commits: what a rebuild saves. */
export function targetsProgress(targets: readonly ProjectionTarget[], read: number): { name: string; cursor: string | null; position: number | null; addedEvents: number }[] {
  return targets.map((target) => ({ name: target.projection.name, cursor: target.saved?.cursor ?? null, position: target.saved?.position ?? null, addedEvents: read }));
}
