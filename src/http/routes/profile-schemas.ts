import { z } from 'zod';
import { nameCursor } from '../../event-store/index.ts';
import { ageOn, profileFieldNames, profileFieldSchemas, profileInputChanges } from '../../profiles/index.ts';
import type { ProfileHistoryEntry, ProfileRow } from '../../projection-runner/index.ts';

/** What the profile routes accept and return; the same schemas describe them in /openapi.json. */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

export const profileView = z.object({
  email: z.string(),
  ...profileFieldSchemas,
  age: z.number().int().nullable().describe('Whole years since dateOfBirth, computed at read time'),
  version: z.number().int().describe('The profile stream version; also the ETag'),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const profileChangesBody = profileInputChanges.describe('Only the fields to set; null clears a field');
export const profileReplaceBody = profileInputChanges.describe('The whole profile: fields left out are cleared');

export const historyQuery = z.object({
  after: z.coerce.number().int().min(0).default(0).describe('Changes after this profile version'),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

export const historyEntryView = z.object({
  version: z.number().int(),
  kind: z.enum(['created', 'updated', 'deleted']),
  at: timestamp,
  actor: z.string().nullable(),
  changes: z.array(z.object({ field: z.enum(profileFieldNames as [string, ...string[]]), from: z.unknown(), to: z.unknown() })),
  cursor: z.string(),
});

export const historyView = z.object({
  entries: z.array(historyEntryView),
  next: z.number().int().nullable().describe('Pass as `after` for the next page; null on the last page'),
});

export function toProfileView(row: ProfileRow, today: Date): z.infer<typeof profileView> {
  return {
    email: row.owner,
    ...row.fields,
    age: ageOn(row.fields.dateOfBirth, today),
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** `storeId`: the store's name, given to a cursor stored bare (before cursors named their store, or by a rebuild). */
export function toHistoryEntryView(entry: ProfileHistoryEntry, storeId: string | null = null): z.infer<typeof historyEntryView> {
  return { version: entry.version, kind: entry.kind, at: entry.at, actor: entry.actor, changes: entry.changes, cursor: nameCursor(entry.cursor, storeId) };
}
