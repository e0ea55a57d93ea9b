import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ProfileUpdatedData } from '../../profiles/events.ts';
import { applyProfileChanges, emptyProfileFields, ProfileFields, profileFieldNames } from '../../profiles/fields.ts';
import { selectRows } from '../../projection-runner/rows.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { DecodedEvent, RebuildApplier } from './applier.ts';
import { RowCache } from './row-cache.ts';
import { rowWriter, toColumns } from './write-rows.ts';

/** The newest entry of a user's history: where the next change reads its old values. */
interface Latest {
  version: number;
  snapshot: ProfileFields | null;
}

const latestRow = z.object({ owner: z.string(), version: z.number(), snapshot: ProfileFields.nullable() });

const columns = ['owner', 'version', 'stream_id', 'kind', 'changes', 'snapshot', 'recorded_at', 'actor', 'cursor'];

const actorOf = (metadata: Record<string, unknown>): string | null => (typeof metadata.actor === 'string' ? metadata.actor : null);
const ownerOf = (item: DecodedEvent): string => (item.data as { userEmail: string }).userEmail;

/**
 * The "profile history" read model (projections/profile-history.ts) for a rebuild: an entry per change,
 * computed from the entry with the highest version below it and inserted unless one exists at its
 * version. The log holds a stream's versions once each, in increasing order, so that entry is the
 * newest one, and an event at or below the newest version is one already applied (its entry exists:
 * the handler's insert would do nothing).
 */
export function profileHistoryApplier(tables: TableNames, capacity = 100_000): RebuildApplier {
  const cache = new RowCache<Latest>(capacity);
  const write = rowWriter(tables('profile_history'), { columns, key: ['owner', 'version'], onConflict: 'ignore' });

  const load = async (db: CommonQueryMethods, owners: string[]): Promise<void> => {
    if (owners.length === 0) return;
    if (cache.complete) {
      for (const key of owners) cache.set(key, null);
      return;
    }
    const rows = await selectRows(db, latestRow, sql.unsafe`
      SELECT DISTINCT ON (owner) owner, version, snapshot FROM ${tables('profile_history')}
      WHERE owner = ANY(${sql.array(owners, 'text')}) ORDER BY owner, version DESC`);
    for (const owner of owners) cache.set(owner, null);
    for (const row of rows) cache.set(row.owner, { version: row.version, snapshot: row.snapshot });
  };

  return {
    updatedInPlace: [],
    async stage(db, items, generation) {
      const { entries: cached, missing } = cache.lookup(items, ownerOf);
      await load(db, missing);
      const entries: Record<string, unknown>[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const known = cached[i] ?? cache.entry(ownerOf(item))!;
        const latest = known.row;
        if (latest !== null && latest.version >= item.event.version) continue;
        const entry = entryOf(latest, item);
        if (entry === null) continue;
        entries.push(entry);
        cache.staged(known, { version: item.event.version, snapshot: entry.snapshot as ProfileFields | null }, generation);
      }
      const rows = toColumns(entries, columns);
      return { write: (tx) => write(tx, rows), complete: true };
    },
    committed: (generation) => cache.trim(generation),
    forget: () => cache.clear(),
    startEmpty: () => cache.startEmpty(),
  };
}

function entryOf(previous: Latest | null, { type, data, event }: DecodedEvent): Record<string, unknown> | null {
  const common = {
    owner: (data as { userEmail: string }).userEmail,
    version: event.version,
    stream_id: event.streamId,
    recorded_at: event.recordedAt.toISOString(),
    actor: actorOf(event.metadata),
    cursor: event.cursor,
  };
  if (type === 'ProfileDeleted') return { ...common, kind: 'deleted', changes: [], snapshot: null };
  if (type !== 'ProfileUpdated') return null;
  const changes = (data as ProfileUpdatedData).changes;
  const before = previous?.snapshot ?? null;
  const after = applyProfileChanges(before ?? emptyProfileFields, changes);
  return {
    ...common,
    kind: before === null ? 'created' : 'updated',
    changes: profileFieldNames
      .filter((field) => Object.hasOwn(changes, field))
      .map((field) => ({ field, from: before === null ? null : before[field], to: after[field] })),
    snapshot: after,
  };
}
