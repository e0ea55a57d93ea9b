import { sql } from 'slonik';
import { type ProfileEvent, parseProfileEvent } from '../src/profiles/events.ts';
import { applyProfileChanges, emptyProfileFields, type ProfileFieldName, ProfileFields, profileFieldNames } from '../src/profiles/fields.ts';
import { type ColumnType, type ReadModel, type Row, row } from '../src/projection-runner/read-model.ts';
import { selectList } from '../src/projection-runner/sql-rows.ts';

/** Read model "profiles": each user's current profile, one column per field. A deleted profile keeps a tombstone row. */

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

/** One column per field, in snake_case, so analysts can query them with plain SQL. */
const columnOf = (field: ProfileFieldName): string => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

const fieldTypes: Record<ProfileFieldName, ColumnType> = {
  dateOfBirth: 'date',
  maritalStatus: 'text',
  numberOfDependents: 'integer',
  employmentStatus: 'text',
  employerName: 'text',
  jobTitle: 'text',
  yearsEmployed: 'double precision',
  annualIncome: 'numeric',
  riskTolerance: 'text',
  taxFilingStatus: 'text',
  financialGoals: 'jsonb',
  investmentExperienceYears: 'integer',
  retirementAgeTarget: 'integer',
  notes: 'text',
};

const profilesTable = {
  columns: {
    owner: 'text',
    stream_id: 'text',
    version: 'integer',
    deleted: 'boolean',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
    ...Object.fromEntries(profileFieldNames.map((field) => [columnOf(field), fieldTypes[field]])),
  } as Record<string, ColumnType>,
  key: ['owner'],
  updatedInPlace: true,
};

interface ProfileTableRow extends Row {
  owner: string;
  stream_id: string;
  version: number;
  deleted: boolean;
  created_at: string;
  updated_at: string;
}

const fieldsOf = (row: Row): ProfileFields => ProfileFields.parse(Object.fromEntries(profileFieldNames.map((field) => [field, row[columnOf(field)]])));

function withFields(row: Omit<ProfileTableRow, never>, fields: ProfileFields): ProfileTableRow {
  const next: Row = { ...row };
  for (const field of profileFieldNames) next[columnOf(field)] = fields[field];
  return next as ProfileTableRow;
}

const profileOf = (row: ProfileTableRow): ProfileRow => ({
  owner: row.owner,
  streamId: row.stream_id,
  fields: structuredClone(fieldsOf(row)),
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const profilesReadModel: ReadModel<ProfileEvent, ProfilesQueries> = {
  name: 'profiles',
  parse: parseProfileEvent,
  tables: { profiles: profilesTable },
  migration: '013.do.sql',
  reads: (_type, data) => [row('profiles', data.userEmail)],
  fold: {
    // Both change a row only at an older version: an event applied again changes nothing.
    ProfileUpdated(rows, data, event) {
      const previous = rows.get('profiles', data.userEmail) as ProfileTableRow | null;
      if (previous !== null && previous.version >= event.version) return;
      const live = previous !== null && !previous.deleted;
      const at = event.recordedAt.toISOString();
      const base = { owner: data.userEmail, stream_id: event.streamId, version: event.version, deleted: false, created_at: live ? previous.created_at : at, updated_at: at };
      rows.put('profiles', withFields(base, applyProfileChanges(live ? fieldsOf(previous) : emptyProfileFields, data.changes)));
    },
    ProfileDeleted(rows, data, event) {
      const previous = rows.get('profiles', data.userEmail) as ProfileTableRow | null;
      if (previous === null || previous.version >= event.version) return;
      rows.put('profiles', withFields({ ...previous, deleted: true, version: event.version, updated_at: event.recordedAt.toISOString() }, emptyProfileFields));
    },
  },
  queries: {
    memory: (tables) => ({
      async get(owner) {
        const found = tables.get('profiles', owner) as ProfileTableRow | null;
        return found === null || found.deleted ? null : profileOf(found);
      },
    }),
    postgres: (db, tables) => ({
      async get(owner) {
        const found = await db.maybeOne(sql.unsafe`
          SELECT ${selectList(profilesTable)} FROM ${tables('profiles')} WHERE owner = ${owner} AND NOT deleted`);
        return found === null ? null : profileOf(found as ProfileTableRow);
      },
    }),
  },
};
