import { nameBasedId } from '../name-based-id.ts';

export const profileStreamPrefix = 'profile-';

/** One profile stream per user; the email is hashed so any address fits a stream id. */
export function profileStreamId(userEmail: string): string {
  return `${profileStreamPrefix}${nameBasedId(`profile\n${userEmail}`)}`;
}
