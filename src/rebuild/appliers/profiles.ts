import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ProfileUpdatedData, ProfileDeletedData } from '../../profiles/events.ts';
import { applyProfileChanges, emptyProfileFields, ProfileFields, profileFieldNames, type ProfileFieldName } from '../../profiles/fields.ts';
import { selectRows } from '../../projection-runner/rows.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { DecodedEvent, RebuildApplier } from './applier.ts';
import { RowCache } from './row-cache.ts';
import { isoTime, rowWriter, toColumns } from './write-rows.ts';

/** The profiles table has one column per field, named in snake_case (projections/profiles.ts). */
const columnOf = (field: ProfileFieldName): string => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

interface ProfileState {
  owner: string;
  stream_id: string;
  version: number;
  deleted: boolean;
  created_at: string;
  updated_at: string;
  fields: ProfileFields;
}

const time = z.union([z.date(), z.number(), z.string()]).transform(isoTime);
const stateRow = z
  .looseObject({ owner: z.string(), stream_id: z.string(), version: z.number(), deleted: z.boolean(), created_at: time, updated_at: time })
  .transform(
    (row): ProfileState => ({
      owner: row.owner,
      stream_id: row.stream_id,
      version: row.version,
      deleted: row.deleted,
      created_at: row.created_at,
      updated_at: row.updated_at,
      fields: ProfileFields.parse(Object.fromEntries(profileFieldNames.map((field) => [field, row[columnOf(field)]]))),
    }),
  );

// Read back the way the projection reads a row, so a field holds the same value whichever wrote it.
const fieldSelect = sql.join(
  profileFieldNames.map((field) => {
    const column = sql.identifier([columnOf(field)]);
    if (field === 'dateOfBirth') return sql.fragment`${column}::text AS ${column}`;
    if (field === 'annualIncome' || field === 'yearsEmployed') return sql.fragment`${column}::float8 AS ${column}`;
    return column;
  }),
  sql.fragment`, `,
);

const columns = ['owner', 'stream_id', 'version', 'deleted', 'created_at', 'updated_at', ...profileFieldNames.map(columnOf)];

function toRow(state: ProfileState): Record<string, unknown> {
  const row: Record<string, unknown> = {
    owner: state.owner,
    stream_id: state.stream_id,
    version: state.version,
    deleted: state.deleted,
    created_at: state.created_at,
    updated_at: state.updated_at,
  };
  for (const field of profileFieldNames) row[columnOf(field)] = state.fields[field];
  return row;
}

/** The "profiles" read model (projections/profiles.ts) for a rebuild: one row per user, keyed by email. */
export function profilesApplier(tables: TableNames, capacity = 100_000, writeBehind = 50_000): RebuildApplier {
  const cache = new RowCache<ProfileState>(capacity);
  const write = rowWriter(tables('profiles'), { columns, key: ['owner'], onConflict: 'replace' });

  const load = async (db: CommonQueryMethods, owners: string[]): Promise<void> => {
    if (owners.length === 0) return;
    if (cache.complete) {
      for (const key of owners) cache.set(key, null);
      return;
    }
    const rows = await selectRows(db, stateRow, sql.unsafe`
      SELECT owner, stream_id, version, deleted, created_at, updated_at, ${fieldSelect}
      FROM ${tables('profiles')} WHERE owner = ANY(${sql.array(owners, 'text')})`);
    for (const owner of owners) cache.set(owner, null);
    for (const row of rows) cache.set(row.owner, row);
  };

  return {
    updatedInPlace: ['profiles'],
    async stage(db, items, generation, flush) {
      const ownerOf = (item: DecodedEvent): string => (item.data as { userEmail: string }).userEmail;
      const { entries, missing } = cache.lookup(items, ownerOf);
      await load(db, missing);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const entry = entries[i] ?? cache.entry(ownerOf(item))!;
        const state = applyProfileEvent(entry.row, item);
        if (state !== null) cache.change(entry, state);
      }
      if (!flush && cache.dirtyCount < writeBehind) return { write: async () => {}, complete: false };
      const rows = toColumns(cache.takeDirty(generation).map(toRow), columns);
      return { write: (tx) => write(tx, rows), complete: true };
    },
    committed: (generation) => cache.trim(generation),
    forget: () => cache.clear(),
    startEmpty: () => cache.startEmpty(),
  };
}

function applyProfileEvent(previous: ProfileState | null, { type, data, event }: DecodedEvent): ProfileState | null {
  // Both handlers change a row only at an older version.
  if (previous !== null && previous.version >= event.version) return null;
  const at = event.recordedAt.toISOString();
  if (type === 'ProfileUpdated') {
    const updated = data as ProfileUpdatedData;
    const live = previous !== null && !previous.deleted;
    return {
      owner: updated.userEmail,
      stream_id: event.streamId,
      version: event.version,
      deleted: false,
      created_at: live ? previous.created_at : at,
      updated_at: at,
      fields: applyProfileChanges(live ? previous.fields : emptyProfileFields, updated.changes),
    };
  }
  if (type === 'ProfileDeleted') {
    void (data as ProfileDeletedData);
    // UPDATE ... WHERE owner = $owner: no row, nothing to delete.
    if (previous === null) return null;
    return { ...previous, deleted: true, version: event.version, updated_at: at, fields: emptyProfileFields };
  }
  return null;
}
