import { LakechatError } from '../errors.ts';
import type { ProfileCommand } from './commands.ts';
import type { ProfileEvent } from './events.ts';
import { applyProfileChanges, emptyProfileFields, type ProfileChanges, type ProfileFields, profileFieldNames, sameFieldValue } from './fields.ts';
import type { ProfileState } from './state.ts';

function diff(from: ProfileFields, to: ProfileFields): ProfileChanges {
  const changes: Record<string, unknown> = {};
  for (const name of profileFieldNames) {
    if (!sameFieldValue(from[name], to[name])) changes[name] = to[name];
  }
  return changes as ProfileChanges;
}

/**
 * Decides what a profile command means. A change that changes nothing appends nothing, except when it
 * creates the profile: the first update exists even if every field keeps its default.
 */
export function decideProfile(state: ProfileState, command: ProfileCommand): ProfileEvent[] {
  const exists = state.status === 'active';
  const current = exists ? state.fields : emptyProfileFields;
  switch (command.type) {
    case 'ReplaceProfile':
    case 'ChangeProfile': {
      const base = command.type === 'ReplaceProfile' ? emptyProfileFields : current;
      const target = applyProfileChanges(base, command.type === 'ReplaceProfile' ? command.fields : command.changes);
      const changes = diff(current, target);
      if (exists && Object.keys(changes).length === 0) return [];
      return [{ type: 'ProfileUpdated', data: { userEmail: command.userEmail, changes } }];
    }
    case 'DeleteProfile':
      if (!exists) throw new LakechatError('LAKECHAT_ERR_PROFILE_NOT_FOUND');
      return [{ type: 'ProfileDeleted', data: { userEmail: command.userEmail } }];
  }
}
