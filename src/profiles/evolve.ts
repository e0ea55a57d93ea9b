import type { ProfileEvent } from './events.ts';
import { applyProfileChanges, emptyProfileFields } from './fields.ts';
import type { ProfileState } from './state.ts';

/** Folds one event of the profile's stream into its state. Pure; every event moves the version by one. */
export function evolveProfile(state: ProfileState, event: ProfileEvent): ProfileState {
  const version = state.version + 1;
  switch (event.type) {
    case 'ProfileUpdated': {
      // A profile re-created after a deletion starts from empty fields, not the deleted ones.
      const base = state.status === 'active' ? state.fields : emptyProfileFields;
      return { status: 'active', version, fields: applyProfileChanges(base, event.data.changes) };
    }
    case 'ProfileDeleted':
      return { status: 'deleted', version, fields: emptyProfileFields };
  }
}
