export { registerProfileRoutes } from './routes.ts';
export { ProfileService, type ProfileServiceOptions } from './profile-service.ts';
export type { ProfileCommand } from './commands.ts';
export { decideProfile } from './decide.ts';
export { evolveProfile } from './evolve.ts';
export { parseProfileEvent, profileEventTypes, type ProfileEvent, type ProfileEventType } from './events.ts';
export { ageOn, emptyProfileFields, ProfileChanges, ProfileFields, profileFieldNames, type ProfileFieldName } from './fields.ts';
export { initialProfileState, type ProfileState } from './state.ts';
export { profileStreamId, profileStreamPrefix } from './stream-id.ts';
