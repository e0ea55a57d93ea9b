import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { parseProfileEvent, type ProfileEvent, type ProfileUpdatedData } from '../src/profiles/events.ts';
import {
  applyProfileChanges,
  emptyProfileFields,
  ProfileFields,
  profileFieldNames,
  type ProfileFieldName,
} from '../src/profiles/fields.ts';
import type { Projection } from '../src/projection-runner/projection.ts';
import { isoTimestamp, selectRow, selectRows } from '../src/projection-runner/rows.ts';
import type { TableNames } from '../src/projection-runner/tables.ts';

/**
 * Read model "profile history": every change of a user's profile, with when, who, and each changed
 * field's old and new value. The events carry only new values; each row keeps the profile as it was
 * after the change, so the next change finds its old values here, without reading another read model.
 */

export interface ProfileFieldChange {
  field: ProfileFieldName;
  from: unknown;
  to: unknown;
}

export interface ProfileHistoryEntry {
  /** The profile stream's version after this change. */
  version: number;
  kind: 'created' | 'updated' | 'deleted';
  changes: ProfileFieldChange[];
  /** ISO 8601, as the API returns it. */
  at: string;
  actor: string | null;
  cursor: string;
}

export interface ProfileHistoryQueries {
  /** The user's changes after version `after`, oldest first. */
  list(owner: string, options: { after: number; limit: number }): Promise<ProfileHistoryEntry[]>;
}

interface StoredEntry extends ProfileHistoryEntry {
  /** The profile after the change; null once deleted. */
  snapshot: ProfileFields | null;
}

const actorOf = (metadata: Record<string, unknown>): string | null => (typeof metadata.actor === 'string' ? metadata.actor : null);

function updatedEntry(previous: StoredEntry | null, data: ProfileUpdatedData, event: { version: number; recordedAt: Date; cursor: string; metadata: Record<string, unknown> }): StoredEntry {
  const before = previous?.snapshot ?? null;
  const after = applyProfileChanges(before ?? emptyProfileFields, data.changes);
  const changes = profileFieldNames
    .filter((name) => Object.hasOwn(data.changes, name))
    .map((field) => ({ field, from: before === null ? null : before[field], to: after[field] }));
  return {
    version: event.version,
    kind: before === null ? 'created' : 'updated',
    changes,
    at: event.recordedAt.toISOString(),
    actor: actorOf(event.metadata),
    cursor: event.cursor,
    snapshot: after,
  };
}

function deletedEntry(event: { version: number; recordedAt: Date; cursor: string; metadata: Record<string, unknown> }): StoredEntry {
  return { version: event.version, kind: 'deleted', changes: [], at: event.recordedAt.toISOString(), actor: actorOf(event.metadata), cursor: event.cursor, snapshot: null };
}

const publicEntry = ({ snapshot: _snapshot, ...entry }: StoredEntry): ProfileHistoryEntry => structuredClone(entry);

// ---- PostgreSQL -------------------------------------------------------------------------------

const entryRowSchema = z
  .object({
    version: z.number(),
    kind: z.enum(['created', 'updated', 'deleted']),
    changes: z.array(z.object({ field: z.enum(profileFieldNames as [ProfileFieldName, ...ProfileFieldName[]]), from: z.unknown(), to: z.unknown() })),
    snapshot: ProfileFields.nullable(),
    recorded_at: z.string(),
    actor: z.string().nullable(),
    cursor: z.string(),
  })
  .transform(
    (row): StoredEntry => ({
      version: row.version,
      kind: row.kind,
      changes: row.changes,
      at: row.recorded_at,
      actor: row.actor,
      cursor: row.cursor,
      snapshot: row.snapshot,
    }),
  );

async function latestBefore(db: CommonQueryMethods, tables: TableNames, owner: string, version: number): Promise<StoredEntry | null> {
  return selectRow(db, entryRowSchema, sql.unsafe`
    SELECT version, kind, changes, snapshot, ${isoTimestamp('recorded_at')}, actor, cursor FROM ${tables('profile_history')}
    WHERE owner = ${owner} AND version < ${version}
    ORDER BY version DESC LIMIT 1`);
}

async function insertEntry(db: CommonQueryMethods, tables: TableNames, owner: string, streamId: string, entry: StoredEntry): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO ${tables('profile_history')} (owner, version, stream_id, kind, changes, snapshot, recorded_at, actor, cursor)
    VALUES (${owner}, ${entry.version}, ${streamId}, ${entry.kind}, ${sql.jsonb(entry.changes as never)},
            ${entry.snapshot === null ? null : sql.jsonb(entry.snapshot as never)},
            ${entry.at}::timestamptz, ${entry.actor}, ${entry.cursor})
    ON CONFLICT (owner, version) DO NOTHING`);
}

type HistoryModel = Map<string, StoredEntry[]>;

function memoryLatestBefore(model: HistoryModel, owner: string, version: number): StoredEntry | null {
  const entries = model.get(owner) ?? [];
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.version < version) return entries[i]!;
  return null;
}

function memoryInsert(model: HistoryModel, owner: string, entry: StoredEntry): void {
  let entries = model.get(owner);
  if (entries === undefined) model.set(owner, (entries = []));
  if (entries.some((existing) => existing.version === entry.version)) return;
  entries.push(entry);
  entries.sort((a, b) => a.version - b.version);
}

export const profileHistoryProjection: Projection<ProfileEvent, ProfileHistoryQueries, HistoryModel> = {
  name: 'profile_history',
  parse: parseProfileEvent,
  memory: {
    create: () => new Map(),
    handlers: {
      ProfileUpdated(model, data, event) {
        memoryInsert(model, data.userEmail, updatedEntry(memoryLatestBefore(model, data.userEmail, event.version), data, event));
      },
      ProfileDeleted(model, data, event) {
        memoryInsert(model, data.userEmail, deletedEntry(event));
      },
    },
    queries: (model) => ({
      async list(owner, { after, limit }) {
        return (model.get(owner) ?? [])
          .filter((entry) => entry.version > after)
          .slice(0, limit)
          .map(publicEntry);
      },
    }),
  },
  postgres: {
    tables: ['profile_history'],
    migration: '014.do.sql',
    handlers: {
      async ProfileUpdated(db, tables, data, event) {
        const previous = await latestBefore(db, tables, data.userEmail, event.version);
        await insertEntry(db, tables, data.userEmail, event.streamId, updatedEntry(previous, data, event));
      },
      async ProfileDeleted(db, tables, data, event) {
        await insertEntry(db, tables, data.userEmail, event.streamId, deletedEntry(event));
      },
    },
    queries: (db, tables) => ({
      async list(owner, { after, limit }) {
        const rows = await selectRows(db, entryRowSchema, sql.unsafe`
          SELECT version, kind, changes, snapshot, ${isoTimestamp('recorded_at')}, actor, cursor FROM ${tables('profile_history')}
          WHERE owner = ${owner} AND version > ${after}
          ORDER BY version
          LIMIT ${limit}`);
        return rows.map(publicEntry);
      },
    }),
  },
};
