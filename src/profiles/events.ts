import { z } from 'zod';
import { isTombstone } from '../event-store/index.ts';
import { safeText } from '../safe-text.ts';
import { ProfileChanges } from './fields.ts';

/**
 * The events of a user's profile stream, schema version 1. `ProfileUpdated` carries only the
 * fields that changed; the first one creates the profile, and so does the first after a deletion.
 */
export const ProfileUpdated = z.object({
  userEmail: safeText(),
  changes: ProfileChanges,
});

export const ProfileDeleted = z.object({
  userEmail: safeText(),
});

export type ProfileUpdatedData = z.infer<typeof ProfileUpdated>;
export type ProfileDeletedData = z.infer<typeof ProfileDeleted>;

export type ProfileEvent = { type: 'ProfileUpdated'; data: ProfileUpdatedData } | { type: 'ProfileDeleted'; data: ProfileDeletedData };

export type ProfileEventType = ProfileEvent['type'];
export const profileEventTypes: ProfileEventType[] = ['ProfileUpdated', 'ProfileDeleted'];

/** Reads a stored event as a profile event, checking its data; null for a type that is not a profile's. */
export function parseProfileEvent(event: { type: string; data: unknown }): ProfileEvent | null {
  // An erased event (a tombstone) folds into nothing: the stream keeps only its version.
  if (isTombstone(event.data)) return null;
  switch (event.type) {
    case 'ProfileUpdated':
      return { type: event.type, data: ProfileUpdated.parse(event.data) };
    case 'ProfileDeleted':
      return { type: event.type, data: ProfileDeleted.parse(event.data) };
    default:
      return null;
  }
}
