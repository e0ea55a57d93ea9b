import { sql } from 'slonik';
import { type ProfileEvent, type ProfileUpdatedData, parseProfileEvent } from '../src/profiles/events.ts';
import { applyProfileChanges, emptyProfileFields, type ProfileFieldName, type ProfileFields, profileFieldNames } from '../src/profiles/fields.ts';
import { lastOf, type ReadModel, type Row } from '../src/projection-runner/read-model.ts';
import { selectList } from '../src/projection-runner/sql-rows.ts';

/**
 * Read model "profile history": every change of a user's profile, with when, who, and each changed
 * field's old and new value. The events carry only new values; each row keeps the profile as it was
 * after the change, so the next change finds its old values in the user's last row, without reading
 * another read model.
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

interface HistoryTableRow extends Row {
  owner: string;
  version: number;
  stream_id: string;
  kind: ProfileHistoryEntry['kind'];
  changes: ProfileFieldChange[];
  /** The profile after the change; null once deleted. */
  snapshot: ProfileFields | null;
  recorded_at: string;
  actor: string | null;
  cursor: string;
}

const historyTable = {
  columns: {
    owner: 'text',
    version: 'integer',
    stream_id: 'text',
    kind: 'text',
    changes: 'jsonb',
    snapshot: 'jsonb',
    recorded_at: 'timestamptz',
    actor: 'text',
    cursor: 'text',
  },
  key: ['owner', 'version'],
} as const;

const actorOf = (metadata: Record<string, unknown>): string | null => (typeof metadata.actor === 'string' ? metadata.actor : null);

const entryOf = (row: HistoryTableRow): ProfileHistoryEntry =>
  structuredClone({ version: row.version, kind: row.kind, changes: row.changes, at: row.recorded_at, actor: row.actor, cursor: row.cursor });

function entry(data: { userEmail: string }, event: Parameters<NonNullable<ReadModel['reads']>>[2], rest: Pick<HistoryTableRow, 'kind' | 'changes' | 'snapshot'>): HistoryTableRow {
  return {
    owner: data.userEmail,
    version: event.version,
    stream_id: event.streamId,
    ...rest,
    recorded_at: event.recordedAt.toISOString(),
    actor: actorOf(event.metadata),
    cursor: event.cursor,
  };
}

function changesOf(before: ProfileFields | null, after: ProfileFields, data: ProfileUpdatedData): ProfileFieldChange[] {
  return profileFieldNames.filter((name) => Object.hasOwn(data.changes, name)).map((field) => ({ field, from: before === null ? null : before[field], to: after[field] }));
}

export const profileHistoryReadModel: ReadModel<ProfileEvent, ProfileHistoryQueries> = {
  name: 'profile_history',
  parse: parseProfileEvent,
  tables: { profile_history: historyTable },
  migration: '014.do.sql',
  reads: (_type, data) => [lastOf('profile_history', data.userEmail)],
  // A stream's versions come once each, in order: an event at or below the user's last version was
  // applied already (its entry exists), and the last entry holds the profile as it was before it.
  fold: {
    ProfileUpdated(rows, data, event) {
      const last = rows.last('profile_history', data.userEmail) as HistoryTableRow | null;
      if (last !== null && last.version >= event.version) return;
      const before = last?.snapshot ?? null;
      const after = applyProfileChanges(before ?? emptyProfileFields, data.changes);
      rows.insertIfAbsent('profile_history', entry(data, event, { kind: before === null ? 'created' : 'updated', changes: changesOf(before, after, data), snapshot: after }));
    },
    ProfileDeleted(rows, data, event) {
      const last = rows.last('profile_history', data.userEmail) as HistoryTableRow | null;
      if (last !== null && last.version >= event.version) return;
      rows.insertIfAbsent('profile_history', entry(data, event, { kind: 'deleted', changes: [], snapshot: null }));
    },
  },
  queries: {
    memory: (tables) => ({
      async list(owner, { after, limit }) {
        return (tables.group('profile_history', owner) as HistoryTableRow[])
          .filter((row) => row.version > after)
          .sort((a, b) => a.version - b.version)
          .slice(0, limit)
          .map(entryOf);
      },
    }),
    postgres: (db, tables) => ({
      async list(owner, { after, limit }) {
        const rows = await db.any(sql.unsafe`
          SELECT ${selectList(historyTable)} FROM ${tables('profile_history')}
          WHERE owner = ${owner} AND version > ${after}
          ORDER BY version
          LIMIT ${limit}`);
        return rows.map((row) => entryOf(row as HistoryTableRow));
      },
    }),
  },
};
