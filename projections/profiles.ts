import { sql, type ValueExpression } from 'slonik';
import { z } from 'zod';
import { parseProfileEvent, type ProfileEvent } from '../src/profiles/events.ts';
import {
  applyProfileChanges,
  emptyProfileFields,
  ProfileFields,
  profileFieldNames,
  type ProfileFieldName,
} from '../src/profiles/fields.ts';
import type { Projection } from '../src/projection-runner/projection.ts';
import { isoTimestamp, selectRow } from '../src/projection-runner/rows.ts';

/** Read model "profiles": each user's current profile, one column per field. */

export interface ProfileRow {
  owner: string;
  streamId: string;
  fields: ProfileFields;
  /** The profile stream's version this row reflects: the ETag of the profile. */
  version: number;
  /** ISO 8601 times, as the API returns them. */
  createdAt: string;
  updatedAt: string;
}

export interface ProfilesQueries {
  /** The user's profile; null when they have none or deleted it. */
  get(owner: string): Promise<ProfileRow | null>;
}

// ---- in memory -------------------------------------------------------------------------------

interface StoredProfile extends ProfileRow {
  deleted: boolean;
}

type ProfilesModel = Map<string, StoredProfile>;

function nextRow(previous: StoredProfile | undefined, data: { userEmail: string; changes: Parameters<typeof applyProfileChanges>[1] }, event: { streamId: string; version: number; recordedAt: Date }): StoredProfile | null {
  if (previous !== undefined && previous.version >= event.version) return null;
  const live = previous !== undefined && !previous.deleted;
  return {
    owner: data.userEmail,
    streamId: event.streamId,
    fields: applyProfileChanges(live ? previous.fields : emptyProfileFields, data.changes),
    version: event.version,
    createdAt: live ? previous.createdAt : event.recordedAt.toISOString(),
    updatedAt: event.recordedAt.toISOString(),
    deleted: false,
  };
}

// ---- PostgreSQL -------------------------------------------------------------------------------

/**
 * How profile fields map to columns of the profiles table, one column per field so analysts can
 * query them with plain SQL.
 */

const snake = (name: string): string => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

const profileColumns: Readonly<Record<ProfileFieldName, string>> = Object.fromEntries(
  profileFieldNames.map((name) => [name, snake(name)]),
) as Record<ProfileFieldName, string>;

/** The SELECT list that reads every field back in the shape the schema expects. */
const profileFieldSelect = sql.join(
  profileFieldNames.map((name) => {
    const column = sql.identifier([profileColumns[name]]);
    if (name === 'dateOfBirth') return sql.fragment`${column}::text AS ${column}`;
    if (name === 'annualIncome' || name === 'yearsEmployed') return sql.fragment`${column}::float8 AS ${column}`;
    return column;
  }),
  sql.fragment`, `,
);

const profileColumnList = sql.join(
  profileFieldNames.map((name) => sql.identifier([profileColumns[name]])),
  sql.fragment`, `,
);

function profileFieldValues(fields: ProfileFields): ValueExpression[] {
  return profileFieldNames.map((name) => {
    const value = fields[name];
    if (name === 'financialGoals') return sql.jsonb(value as string[]);
    if (name === 'dateOfBirth') return value === null ? null : sql.fragment`${value as string}::date`;
    return value as string | number | null;
  });
}

/** Reads the field columns of a row (snake_case) back into a profile. */
function profileFieldsFromRow(row: Record<string, unknown>): ProfileFields {
  return ProfileFields.parse(Object.fromEntries(profileFieldNames.map((name) => [name, row[profileColumns[name]]])));
}


// The field columns pass through as they are; profileFieldsFromRow checks them.
const profileRowSchema = z
  .looseObject({
    owner: z.string(),
    stream_id: z.string(),
    version: z.number(),
    deleted: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .transform(
    (row): StoredProfile => ({
      owner: row.owner,
      streamId: row.stream_id,
      fields: profileFieldsFromRow(row),
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      deleted: row.deleted,
    }),
  );

const selectColumns = sql.fragment`owner, stream_id, version, deleted, ${isoTimestamp('created_at')}, ${isoTimestamp('updated_at')}, ${profileFieldSelect}`;

const withoutTombstone = ({ deleted: _deleted, ...row }: StoredProfile): ProfileRow => ({ ...row, fields: structuredClone(row.fields) });

export const profilesProjection: Projection<ProfileEvent, ProfilesQueries, ProfilesModel> = {
  name: 'profiles',
  parse: parseProfileEvent,
  memory: {
    create: () => new Map(),
    handlers: {
      ProfileUpdated(model, data, event) {
        const row = nextRow(model.get(data.userEmail), data, event);
        if (row !== null) model.set(data.userEmail, row);
      },
      ProfileDeleted(model, data, event) {
        const row = model.get(data.userEmail);
        if (row === undefined || row.version >= event.version) return;
        model.set(data.userEmail, { ...row, fields: emptyProfileFields, version: event.version, updatedAt: event.recordedAt.toISOString(), deleted: true });
      },
    },
    queries: (model) => ({
      async get(owner) {
        const row = model.get(owner);
        return row === undefined || row.deleted ? null : withoutTombstone(row);
      },
    }),
  },
  postgres: {
    tables: ['profiles'],
    migration: '013.do.sql',
    handlers: {
      async ProfileUpdated(db, tables, data, event) {
        const previous = await selectRow(db, profileRowSchema, sql.unsafe`
          SELECT ${selectColumns} FROM ${tables('profiles')} WHERE owner = ${data.userEmail}`);
        const row = nextRow(previous ?? undefined, data, event);
        if (row === null) return;
        await db.query(sql.unsafe`
          INSERT INTO ${tables('profiles')} (owner, stream_id, version, deleted, created_at, updated_at, ${profileColumnList})
          VALUES (${row.owner}, ${row.streamId}, ${row.version}, false, ${row.createdAt}::timestamptz, ${row.updatedAt}::timestamptz,
                  ${sql.join(profileFieldValues(row.fields), sql.fragment`, `)})
          ON CONFLICT (owner) DO UPDATE SET
            (stream_id, version, deleted, created_at, updated_at, ${profileColumnList}) =
            (EXCLUDED.stream_id, EXCLUDED.version, false, EXCLUDED.created_at, EXCLUDED.updated_at,
             ${sql.join(profileFieldValues(row.fields), sql.fragment`, `)})
          WHERE ${tables('profiles')}.version < EXCLUDED.version`);
      },
      async ProfileDeleted(db, tables, data, event) {
        await db.query(sql.unsafe`
          UPDATE ${tables('profiles')}
          SET deleted = true, version = ${event.version}, updated_at = ${sql.timestamp(event.recordedAt)},
              (${profileColumnList}) = (${sql.join(profileFieldValues(emptyProfileFields), sql.fragment`, `)})
          WHERE owner = ${data.userEmail} AND version < ${event.version}`);
      },
    },
    queries: (db, tables) => ({
      async get(owner) {
        const row = await selectRow(db, profileRowSchema, sql.unsafe`
          SELECT ${selectColumns} FROM ${tables('profiles')} WHERE owner = ${owner} AND NOT deleted`);
        return row === null ? null : withoutTombstone(row);
      },
    }),
  },
};
