import type { ProfileChanges } from './fields.ts';

export type ProfileCommand =
  /** PUT: the profile becomes exactly these fields; the ones left out are cleared. */
  | { type: 'ReplaceProfile'; userEmail: string; fields: ProfileChanges }
  /** PATCH: only these fields change. */
  | { type: 'ChangeProfile'; userEmail: string; changes: ProfileChanges }
  | { type: 'DeleteProfile'; userEmail: string };
